package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Mode says how this process relates to the user namespace ctr uses.
type Mode string

const (
	// ModeRoot means ctr runs as real root: no user namespace is needed.
	ModeRoot Mode = "root"
	// ModeSubIDs means the user is mapped to 0 and the subordinate ranges
	// from /etc/subuid and /etc/subgid are mapped to 1..N with
	// newuidmap/newgidmap.
	ModeSubIDs Mode = "rootless"
	// ModeSingleID means only the user's own uid and gid are mapped (to 0):
	// files that images assign to other IDs are squashed to root.
	ModeSingleID Mode = "rootless-single-id"
)

// Plan is the mapping ctr will use when it enters a user namespace.
type Plan struct {
	Mode   Mode
	UID    int
	GID    int
	User   string
	UIDMap []specs.LinuxIDMapping // container ID -> host ID
	GIDMap []specs.LinuxIDMapping
	// NewUIDMap and NewGIDMap are the helper paths; empty in ModeSingleID.
	NewUIDMap string
	NewGIDMap string
	// Degraded explains, with the fix, why ModeSingleID was chosen. It is
	// meant to be printed once as a warning.
	Degraded string
	// Warnings are malformed /etc/subuid or /etc/subgid lines that were skipped.
	Warnings []string
}

// PlanConfig holds the host facts a Plan is computed from, so the
// computation can be tested without the host's files.
type PlanConfig struct {
	UID, GID   int
	User       string
	SubUIDFile string // default /etc/subuid
	SubGIDFile string // default /etc/subgid
	// LookPath finds newuidmap/newgidmap; default exec.LookPath.
	LookPath func(string) (string, error)
}

// NewPlan decides how to map IDs for the given user: with subordinate ranges
// when the user has some and both helpers exist, else a single-ID mapping
// with an explanation in Degraded.
func NewPlan(cfg PlanConfig) (*Plan, error) {
	if cfg.SubUIDFile == "" {
		cfg.SubUIDFile = "/etc/subuid"
	}
	if cfg.SubGIDFile == "" {
		cfg.SubGIDFile = "/etc/subgid"
	}
	if cfg.LookPath == nil {
		cfg.LookPath = exec.LookPath
	}
	p := &Plan{UID: cfg.UID, GID: cfg.GID, User: cfg.User}
	if cfg.UID == 0 {
		p.Mode = ModeRoot
		return p, nil
	}
	subUIDs, err := ReadSubIDs(cfg.SubUIDFile, cfg.User, cfg.UID)
	if err != nil {
		return nil, err
	}
	subGIDs, err := ReadSubIDs(cfg.SubGIDFile, cfg.User, cfg.UID)
	if err != nil {
		return nil, err
	}
	p.Warnings = append(subUIDs.Warnings, subGIDs.Warnings...)
	single := func(why, fix string) (*Plan, error) {
		p.Mode = ModeSingleID
		p.NewUIDMap, p.NewGIDMap = "", "" // one may have been found before the other was missing
		p.UIDMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(cfg.UID), Size: 1}}
		p.GIDMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(cfg.GID), Size: 1}}
		p.Degraded = why + "; using a single-ID mapping: files that images give to other users are owned by root" +
			" and containers cannot switch users. To fix: " + fix
		return p, nil
	}
	switch {
	case len(subUIDs.Ranges) == 0:
		return single(fmt.Sprintf("no subordinate UIDs for %s in %s", cfg.User, cfg.SubUIDFile), fixSubIDs(cfg.User))
	case len(subGIDs.Ranges) == 0:
		return single(fmt.Sprintf("no subordinate GIDs for %s in %s", cfg.User, cfg.SubGIDFile), fixSubIDs(cfg.User))
	}
	const fixHelpers = "sudo apt-get install uidmap (it provides the setuid helpers newuidmap and newgidmap)"
	if p.NewUIDMap, err = cfg.LookPath("newuidmap"); err != nil {
		return single("newuidmap not found", fixHelpers)
	}
	if p.NewGIDMap, err = cfg.LookPath("newgidmap"); err != nil {
		return single("newgidmap not found", fixHelpers)
	}
	p.Mode = ModeSubIDs
	p.UIDMap = idMappings(cfg.UID, subUIDs.Ranges)
	p.GIDMap = idMappings(cfg.GID, subGIDs.Ranges)
	return p, nil
}

func fixSubIDs(user string) string {
	return fmt.Sprintf("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s"+
		" (pick a range no other user has), then `ctr system reset` so the store is rebuilt with the new IDs", user)
}

// idMappings maps the user to 0 and the ranges, in order, to 1..N.
func idMappings(id int, ranges []IDRange) []specs.LinuxIDMapping {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(id), Size: 1}}
	next := uint32(1)
	for _, r := range ranges {
		m = append(m, specs.LinuxIDMapping{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

// newIDMapArgs returns the argv tail for newuidmap(1)/newgidmap(1):
// "PID INSIDE OUTSIDE COUNT ...".
func newIDMapArgs(pid int, m []specs.LinuxIDMapping) []string {
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args,
			strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10),
			strconv.FormatUint(uint64(e.Size), 10))
	}
	return args
}

// MappedIDs returns how many IDs the mapping covers.
func MappedIDs(m []specs.LinuxIDMapping) uint64 {
	var n uint64
	for _, e := range m {
		n += uint64(e.Size)
	}
	return n
}

// helperUsable reports whether a newuidmap-style helper can do its job:
// it must be setuid root or carry file capabilities (security.capability).
func helperUsable(path string) (bool, string) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err.Error()
	}
	if fi.Mode()&os.ModeSetuid != 0 {
		return true, "setuid"
	}
	if hasFileCaps(path) {
		return true, "file capabilities"
	}
	return false, "neither setuid nor file capabilities: sudo chmod u+s " + path
}
