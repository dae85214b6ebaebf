package oci

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maskedPaths are hidden from the container: the runtime bind mounts
// /dev/null over files and an empty read-only tmpfs over directories
// (containers-common getMaskedPaths; /sys/devices/virtual/powercap:
// containerd GHSA-7ww5-4wqc-m92c).
var maskedPaths = []string{
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/interrupts",
	"/sys/firmware",
	"/sys/fs/selinux",
	"/sys/devices/virtual/powercap",
	"/sys/dev/block",
}

// readonlyPaths are remounted read-only in the container
// (containers-common DefaultReadOnlyPaths).
var readonlyPaths = []string{
	"/proc/asound",
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// RootPath is the placeholder Root.Path of a generated spec; the caller
// replaces it with the container's root filesystem.
const RootPath = "rootfs"

// umask is the process umask podman and docker use.
const umask = 0o022

// maxHostname is HOST_NAME_MAX.
const maxHostname = 64

// Generate builds the runtime spec for a container from the image config
// and the user's options. It reads nothing and changes nothing: every error
// is about the inputs and wraps one of this package's sentinels.
func Generate(o Options) (*specs.Spec, error) {
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	argv, err := command(o.Image, o.Entrypoint, o.Args)
	if err != nil {
		return nil, err
	}

	userSpec := o.User
	if userSpec == "" {
		userSpec = o.Image.User
	}
	u, err := ResolveUser(userSpec, o.Passwd, o.Group)
	if err != nil && o.User == "" {
		return nil, fmt.Errorf("image USER: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if err := checkMapped(u, o.MappedUIDs, o.MappedGIDs); err != nil {
		return nil, err
	}
	// A supplementary group outside the mapping cannot be set (setgroups
	// fails with EINVAL). Leaving it out only ever takes access away; this
	// keeps images whose /etc/group lists root in many groups (alpine)
	// usable in single-ID mode.
	gids := u.AdditionalGids[:0:0]
	for _, g := range u.AdditionalGids {
		if g < o.MappedGIDs {
			gids = append(gids, g)
		}
	}

	env, err := environment(o, u.Home)
	if err != nil {
		return nil, err
	}
	cwd, err := workingDir(o)
	if err != nil {
		return nil, err
	}
	caps, added, err := capabilitySet(o.CapAdd, o.CapDrop)
	if err != nil {
		return nil, err
	}
	mnts, err := mounts(o)
	if err != nil {
		return nil, err
	}
	rl, err := rlimits(o)
	if err != nil {
		return nil, err
	}
	if err := checkArgMax(argv, env, stackLimit(o, rl)); err != nil {
		return nil, err
	}

	mask := uint32(umask)
	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.Terminal,
			User: specs.User{
				UID:            u.UID,
				GID:            u.GID,
				Umask:          &mask,
				AdditionalGids: gids,
			},
			Args:            argv,
			Env:             env,
			Cwd:             cwd,
			Capabilities:    capabilities(caps, added, u.UID),
			Rlimits:         rl,
			NoNewPrivileges: o.NoNewPrivileges,
		},
		Root:     &specs.Root{Path: RootPath, Readonly: o.ReadOnly},
		Hostname: o.Hostname,
		Mounts:   mnts,
		Linux: &specs.Linux{
			Namespaces:    namespaces(o.Network, o.NetNSPath),
			MaskedPaths:   append([]string(nil), maskedPaths...),
			ReadonlyPaths: append([]string(nil), readonlyPaths...),
		},
	}
	if spec.Linux.Seccomp, err = seccompProfile(o, spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// checkOptions validates the fields no other step looks at.
func checkOptions(o Options) error {
	switch o.Network {
	case "", NetworkPrivate, NetworkNone, NetworkHost:
	case NetworkJoin:
		if !filepath.IsAbs(o.NetNSPath) {
			return fmt.Errorf("%w: network mode %s needs the absolute path of a network namespace, not %q", ErrInvalidOptions, NetworkJoin, short(o.NetNSPath))
		}
	default:
		return fmt.Errorf("%w: network mode %q: want %s, %s, %s or %s", ErrInvalidOptions, short(o.Network), NetworkPrivate, NetworkNone, NetworkHost, NetworkJoin)
	}
	if o.MappedUIDs == 0 || o.MappedGIDs == 0 {
		return fmt.Errorf("%w: MappedUIDs and MappedGIDs must say how many IDs the user namespace maps", ErrInvalidOptions)
	}
	if len(o.Hostname) > maxHostname || strings.IndexByte(o.Hostname, 0) >= 0 {
		return fmt.Errorf("%w: hostname %q: at most %d bytes and no NUL", ErrInvalidOptions, short(o.Hostname), maxHostname)
	}
	return nil
}

// checkMapped refuses a uid or gid that ctr's user namespace does not map:
// the runtime could not switch to it.
func checkMapped(u User, uids, gids uint32) error {
	hint := ""
	if uids == 1 || gids == 1 {
		hint = "; ctr runs in single-ID mode: add subordinate ID ranges for your user to /etc/subuid and /etc/subgid"
	}
	if u.UID >= uids {
		return fmt.Errorf("uid %d: %w (it maps 0 to %d)%s", u.UID, ErrIDNotMapped, uids-1, hint)
	}
	if u.GID >= gids {
		return fmt.Errorf("gid %d: %w (it maps 0 to %d)%s", u.GID, ErrIDNotMapped, gids-1, hint)
	}
	return nil
}

// capabilities builds the capability sets. Root gets the set in bounding,
// effective and permitted. Any other uid keeps the set as its bounding set
// but, as with podman, is granted only the capabilities explicitly added
// with --cap-add. Inheritable and ambient stay empty (CVE-2022-29162): a
// capability must never pass through execve by inheritance.
func capabilities(set, added []string, uid uint32) *specs.LinuxCapabilities {
	granted := set
	if uid != 0 {
		granted = added
	}
	return &specs.LinuxCapabilities{
		Bounding:    append([]string{}, set...),
		Effective:   append([]string{}, granted...),
		Permitted:   append([]string{}, granted...),
		Inheritable: []string{},
		Ambient:     []string{},
	}
}

// namespaces lists the namespaces the runtime creates. There is no user
// namespace: ctr already runs inside its own.
func namespaces(network, netnsPath string) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}}
	switch network {
	case NetworkHost:
	case NetworkJoin:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netnsPath})
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return append(ns,
		specs.LinuxNamespace{Type: specs.IPCNamespace},
		specs.LinuxNamespace{Type: specs.UTSNamespace},
		specs.LinuxNamespace{Type: specs.MountNamespace},
		specs.LinuxNamespace{Type: specs.CgroupNamespace},
	)
}
