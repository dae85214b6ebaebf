package run

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capNames maps capability names to numbers (capabilities(7)).
var capNames = map[string]uintptr{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
	"CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
	"CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
	"CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
	"CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

func lastCap() uintptr {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return uintptr(n)
}

// capSet turns names into a 64-bit set, ignoring capabilities this kernel
// does not know (as runc does, so a new spec works on an older kernel).
func capSet(names []string, last uintptr) (uint64, error) {
	var set uint64
	for _, n := range names {
		c, ok := capNames[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		if c <= last {
			set |= 1 << c
		}
	}
	return set, nil
}

// applyUserAndCaps switches this thread to the process's user and groups
// and leaves exactly the spec's capabilities. The order is runc's: shrink
// the bounding set while CAP_SETPCAP is still there, keep permitted caps
// across the uid change, then set effective/permitted/inheritable and the
// ambient set. All calls are raw and per thread: the caller is locked to
// the thread that will execve.
func applyUserAndCaps(p *specs.Process) error {
	last := lastCap()
	var bounding, effective, permitted, inheritable, ambient uint64
	if c := p.Capabilities; c != nil {
		var err error
		for _, s := range []struct {
			dst   *uint64
			names []string
		}{{&bounding, c.Bounding}, {&effective, c.Effective}, {&permitted, c.Permitted}, {&inheritable, c.Inheritable}, {&ambient, c.Ambient}} {
			if *s.dst, err = capSet(s.names, last); err != nil {
				return err
			}
		}
	}
	for c := uintptr(0); c <= last; c++ {
		if bounding&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keep capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	// Ambient capabilities survive exec of unprivileged binaries: empty
	// unless the spec asks (CVE-2022-29162 was inheritable caps leaking).
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := uintptr(0); c <= last; c++ {
		if ambient&(1<<c) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0); err != nil {
				return fmt.Errorf("raise ambient capability %d: %w", c, err)
			}
		}
	}
	return nil
}

// setUser sets groups, gid and uid of this thread only (raw syscalls: the
// libc/Go wrappers would change every thread, which is harmless but slow,
// and the thread that execs is the one that matters).
func setUser(u specs.User) error {
	// The primary group leads the list, as initgroups(3) makes it; the
	// list replaces whatever groups this process had, never keeping the
	// host's (CVE-2022-2989).
	gids := []uint32{u.GID}
	for _, g := range u.AdditionalGids {
		if !slices.Contains(gids, g) {
			gids = append(gids, g)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(unsafe.Pointer(&gids[0])), 0); e != 0 {
		// A user namespace whose gid map an unprivileged process wrote
		// (ctr's single-ID mode) must deny setgroups (user_namespaces(7)):
		// its processes keep the groups they entered with, forever, and
		// gain none. Nothing to do but go on, as runc does.
		if e != unix.EPERM || !setgroupsDenied() {
			return fmt.Errorf("setgroups %v: %w", gids, e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return nil
}

// setgroupsDenied reports whether setgroups(2) is disabled in this
// process's user namespace.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}
