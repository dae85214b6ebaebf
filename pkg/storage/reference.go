package storage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ErrInvalidReference is matched by errors.Is for any reference that does
// not follow the distribution grammar.
var ErrInvalidReference = errors.New("invalid reference")

// LocalDomain is the registry part given to images named without one by
// tag, import or build, as podman does.
const LocalDomain = "localhost"

// Reference is a validated, normalized image reference such as
// docker.io/library/busybox:latest or quay.io/x/y@sha256:....
type Reference struct {
	named reference.Named
	// Short is true when the user gave no registry, so the name may also
	// match an image under localhost/.
	Short bool
	// familiar is the user's repository path without registry, for short
	// names (e.g. "busybox", "user/app").
	familiar string
}

// ParseReference validates s with the distribution reference grammar before
// anything else looks at it (go-containerregistry alone accepts names such
// as "foo/../../x" and "a//b"), and normalizes it the way docker and podman
// do: a name without a registry is on docker.io, a single-component docker.io
// name is under library/, and a reference without tag or digest gets
// ":latest".
func ParseReference(s string) (Reference, error) {
	return parseReference(s, "docker.io")
}

// ParseLocalReference is ParseReference for names the user gives to images
// they make (tag, import): a name without a registry goes under localhost/.
func ParseLocalReference(s string) (Reference, error) {
	return parseReference(s, LocalDomain)
}

func parseReference(s, shortDomain string) (Reference, error) {
	invalid := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", ErrInvalidReference, s, why)
	}
	if s == "" {
		return invalid("empty")
	}
	if strings.HasPrefix(s, "-") {
		return invalid("must not start with '-'")
	}
	if strings.HasPrefix(s, "sha256:") {
		return invalid("a bare digest is not a reference (use NAME@sha256:...)")
	}
	short := !hasDomain(s)
	input := s
	if short && shortDomain != "docker.io" {
		input = shortDomain + "/" + s
	}
	named, err := reference.ParseNormalizedNamed(input)
	if err != nil {
		return invalid(grammarHint(err))
	}
	domain := reference.Domain(named)
	if domain == "" {
		// The first component looked like a registry to us but is not a
		// valid host name (e.g. "a_b.example/x"); the grammar then takes the
		// whole name as a path with no registry at all.
		return invalid("the registry part is not a valid host name")
	}
	if domain != strings.ToLower(domain) {
		return invalid("registry and repository names must be lowercase")
	}
	if strings.Contains(domain, ":") {
		port := domain[strings.LastIndex(domain, ":")+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return invalid("port " + port + " is out of range 1-65535")
		}
	}
	r := Reference{named: reference.TagNameOnly(named), Short: short}
	if short {
		r.familiar = reference.FamiliarName(named)
		if shortDomain != "docker.io" {
			r.familiar = reference.Path(named)
		}
	}
	return r, nil
}

// hasDomain applies the distribution rule: the first path component is a
// registry if it contains '.' or ':', is "localhost", or has upper-case
// letters (repository paths never do).
func hasDomain(s string) bool {
	first, _, found := strings.Cut(s, "/")
	if !found {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first
}

func grammarHint(err error) string {
	switch {
	case errors.Is(err, reference.ErrNameContainsUppercase):
		return "repository names must be lowercase"
	case errors.Is(err, reference.ErrNameTooLong):
		return "name is longer than 255 characters"
	}
	return err.Error() + " (want [REGISTRY[:PORT]/]NAME[:TAG|@DIGEST], lowercase, components separated by single '/')"
}

// String returns the full normalized reference.
func (r Reference) String() string { return r.named.String() }

// Repository returns the reference without tag or digest, with registry.
func (r Reference) Repository() string { return r.named.Name() }

// Domain returns the registry host (and port).
func (r Reference) Domain() string { return reference.Domain(r.named) }

// Tag returns the tag, or "" for a reference by digest only.
func (r Reference) Tag() string {
	if t, ok := r.named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Digest returns the digest, or "" for a reference by tag.
func (r Reference) Digest() digest.Digest {
	if d, ok := r.named.(reference.Digested); ok {
		return d.Digest()
	}
	return ""
}

// candidates returns the store names this reference may match locally: for
// a short name both localhost/NAME and docker.io/[library/]NAME, localhost
// first, as podman resolves local images.
func (r Reference) candidates() []string {
	if !r.Short {
		return []string{r.String()}
	}
	local := LocalDomain + "/" + r.familiar
	if d := r.Digest(); d != "" {
		local += "@" + d.String()
	} else {
		local += ":" + r.Tag()
	}
	if local == r.String() {
		return []string{local}
	}
	return []string{local, r.String()}
}
