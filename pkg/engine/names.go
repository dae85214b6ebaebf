package engine

import (
	"crypto/sha256"
	"encoding/binary"
)

// Container names made up when the user gives none, as docker and podman
// do: adjective_noun, chosen from the container ID.
var (
	adjectives = []string{"agile", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "eager", "fair",
		"fast", "fond", "gentle", "glad", "happy", "keen", "kind", "lively", "lucid", "merry", "modest", "neat",
		"nimble", "noble", "plucky", "proud", "quick", "quiet", "sharp", "shy", "silent", "sleek", "smart",
		"snappy", "solid", "steady", "stoic", "sunny", "swift", "tender", "tidy", "trusty", "vivid", "warm", "wise", "witty", "zen"}
	nouns = []string{"albatross", "badger", "beaver", "bison", "cheetah", "condor", "crane", "dingo", "dolphin",
		"eagle", "falcon", "ferret", "finch", "fox", "gazelle", "gecko", "heron", "ibis", "jackal", "koala",
		"lemur", "lynx", "magpie", "marmot", "mole", "newt", "ocelot", "otter", "owl", "panda", "pelican",
		"puffin", "quail", "raven", "salmon", "seal", "sparrow", "stork", "swan", "tapir", "tern", "tiger",
		"toucan", "turtle", "viper", "walrus", "wombat", "yak", "zebra"}
)

func randomName(id string) string {
	sum := sha256.Sum256([]byte(id))
	a := binary.BigEndian.Uint32(sum[0:4])
	n := binary.BigEndian.Uint32(sum[4:8])
	return adjectives[a%uint32(len(adjectives))] + "_" + nouns[n%uint32(len(nouns))]
}
