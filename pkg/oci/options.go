package oci

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Network modes accepted in Options.Network.
const (
	// NetworkPrivate gives the container its own network namespace; a
	// user-mode network (pasta or slirp4netns) is attached to it later.
	NetworkPrivate = "private"
	// NetworkNone gives the container its own network namespace with only
	// the loopback interface.
	NetworkNone = "none"
	// NetworkHost shares ctr's network namespace: no network namespace is
	// created and /sys is a read-only recursive bind of ctr's /sys.
	NetworkHost = "host"
	// NetworkJoin joins the existing network namespace at
	// Options.NetNSPath (another container's: --network container:NAME).
	NetworkJoin = "join"
)

// SeccompMode selects the seccomp filter of the container.
type SeccompMode int

const (
	// SeccompDefault applies moby's default profile, resolved for the
	// container's capabilities.
	SeccompDefault SeccompMode = iota
	// SeccompUnconfined applies no seccomp filter.
	SeccompUnconfined
	// SeccompCustom applies the docker-format profile in
	// Options.SeccompProfile.
	SeccompCustom
)

// Options is everything Generate needs. The zero value of each field means
// "not given" unless its comment says otherwise; MappedUIDs and MappedGIDs
// must be set.
type Options struct {
	// Image is the Config section of the image's OCI config.
	Image ocispec.ImageConfig

	// Args is the command from the command line. When non-empty it replaces
	// the image's Cmd.
	Args []string

	// Entrypoint is --entrypoint: nil keeps the image's entrypoint, "" means
	// none, a JSON array of strings such as ["a","b"] is an argv, and any
	// other string is a single program name. Giving it drops the image's Cmd
	// (docker and podman do the same).
	Entrypoint *string

	// Env holds the -e and --env-file entries in order: KEY=VALUE, or KEY
	// alone, which takes the value from HostEnv.
	Env []string

	// HostEnv looks up a host environment variable for "-e KEY". nil means
	// such entries are dropped.
	HostEnv func(string) (string, bool)

	// WorkingDir is -w; it must be absolute. "" means the image's
	// WorkingDir, or "/".
	WorkingDir string

	// User is -u: "" means the image's User, or root. Forms: name, uid,
	// name:group, uid:gid, name:gid, uid:group.
	User string

	// Passwd and Group are the contents of the image's /etc/passwd and
	// /etc/group (nil when absent). The caller reads them in-root with a size
	// cap; more than 4 MiB is refused.
	Passwd, Group []byte

	// MappedUIDs and MappedGIDs say how many IDs ctr's user namespace maps
	// (65537 typical, 1 in single-ID mode). The container's uid and gid must
	// be below them.
	MappedUIDs, MappedGIDs uint32

	// Hostname is the container's host name (at most 64 bytes).
	Hostname string

	// Terminal is -t: the process gets a pseudo-terminal and TERM=xterm.
	Terminal bool

	// Network is NetworkPrivate, NetworkNone, NetworkHost or NetworkJoin.
	// "" means NetworkPrivate.
	Network string
	// NetNSPath is the network namespace NetworkJoin joins; the caller
	// may set it again in the spec before each start.
	NetNSPath string

	// ReadOnly is --read-only: the root is read-only, and /tmp, /var/tmp and
	// /run get tmpfs mounts as podman's default --read-only-tmpfs does.
	ReadOnly bool

	// Mounts are the binds and tmpfs mounts from -v and --tmpfs, as
	// returned by ParseVolume and ParseTmpfs.
	Mounts []Mount

	// EtcFiles maps a destination such as /etc/hosts, /etc/hostname or
	// /etc/resolv.conf to the absolute host path of a file the caller has
	// written. Each is bind mounted read-write, as podman does, unless a
	// user mount has the same destination.
	EtcFiles map[string]string

	// CapAdd and CapDrop are --cap-add and --cap-drop: names with or without
	// the CAP_ prefix, in any case, or ALL.
	CapAdd, CapDrop []string

	// NoNewPrivileges is --security-opt no-new-privileges.
	NoNewPrivileges bool

	// Seccomp selects the seccomp filter; SeccompProfile holds the JSON
	// profile for SeccompCustom (at most 4 MiB).
	Seccomp        SeccompMode
	SeccompProfile []byte

	// KernelRelease is the host's kernel release (uname -r), used only to
	// evaluate "minKernel" conditions of seccomp profiles. "" assumes
	// MinKernel, the oldest kernel ctr supports.
	KernelRelease string

	// Ulimits are the parsed --ulimit values.
	Ulimits []Ulimit

	// HostRlimits are the caller's current limits by name ("nofile", or
	// "RLIMIT_NOFILE"). A --ulimit above the hard limit is an error; the
	// nofile entry is the container's default when no --ulimit nofile is
	// given.
	HostRlimits map[string]Ulimit
}

// Mount is one user mount. Type is "bind" or "tmpfs"; Source is an absolute
// host path for a bind and "tmpfs" for a tmpfs; Destination is an absolute,
// clean path in the container; Options are runtime-spec mount options.
type Mount struct {
	Type        string
	Source      string
	Destination string
	Options     []string
}

// Ulimit is one resource limit. Name is the short docker name ("nofile");
// Soft and Hard are the limits, RLimInfinity meaning unlimited.
type Ulimit struct {
	Name string
	Soft uint64
	Hard uint64
}

// RLimInfinity is the value of an unlimited rlimit (RLIM_INFINITY).
const RLimInfinity = ^uint64(0)
