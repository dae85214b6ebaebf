package oci

import (
	"fmt"
	"slices"
	"strings"
)

// defaultCapabilities are podman's default capabilities (containers-common
// DefaultCapabilities), granted to a root process in the container.
var defaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP",
	"CAP_SETGID",
	"CAP_SETPCAP",
	"CAP_SETUID",
	"CAP_SYS_CHROOT",
}

// allCapabilities lists every capability Linux defines (0 to 40,
// include/uapi/linux/capability.h), in number order. "ALL" expands to this
// list; a capability the running kernel does not know is the runtime's to
// skip.
var allCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

const allCaps = "ALL"

// normalizeCaps upper-cases names, adds the CAP_ prefix, and checks them
// against allCapabilities. The result is sorted and without duplicates; ALL
// is kept as "ALL".
func normalizeCaps(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c != allCaps {
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			if !slices.Contains(allCapabilities, c) {
				return nil, fmt.Errorf("%q: %w: not a Linux capability name", short(n), ErrInvalidCapability)
			}
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// capabilitySet merges the defaults with --cap-add and --cap-drop the way
// podman's MergeCapabilities does: dropping ALL keeps only the added ones;
// adding ALL gives every capability except the dropped ones; adding and
// dropping the same capability (or ALL both ways) is an error. It returns
// the sorted set for a root process and the sorted, normalised --cap-add
// list (ALL expanded).
func capabilitySet(adds, drops []string) (set, added []string, err error) {
	add, err := normalizeCaps(adds)
	if err != nil {
		return nil, nil, fmt.Errorf("--cap-add %w", err)
	}
	drop, err := normalizeCaps(drops)
	if err != nil {
		return nil, nil, fmt.Errorf("--cap-drop %w", err)
	}
	addAll, dropAll := slices.Contains(add, allCaps), slices.Contains(drop, allCaps)
	switch {
	case addAll && dropAll:
		return nil, nil, fmt.Errorf("%w: adding and dropping ALL capabilities at once", ErrInvalidCapability)
	case dropAll:
		return add, add, nil
	case addAll:
		add = nil
		for _, c := range allCapabilities {
			if !slices.Contains(drop, c) {
				add = append(add, c)
			}
		}
		slices.Sort(add)
		return add, add, nil
	}
	for _, c := range add {
		if slices.Contains(drop, c) {
			return nil, nil, fmt.Errorf("%s: %w: cannot be both added and dropped", c, ErrInvalidCapability)
		}
	}
	for _, c := range defaultCapabilities {
		if !slices.Contains(drop, c) {
			set = append(set, c)
		}
	}
	set = append(set, add...)
	slices.Sort(set)
	return slices.Compact(set), add, nil
}
