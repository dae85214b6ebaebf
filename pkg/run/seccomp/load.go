package seccomp

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs f on the CALLING OS THREAD ONLY, with seccomp(2)
// SECCOMP_SET_MODE_FILTER and without SECCOMP_FILTER_FLAG_TSYNC.
//
// The caller MUST:
//
//   - run on a thread locked with runtime.LockOSThread, and never unlock it
//     afterwards. Go moves goroutines between threads: without the lock the
//     filter lands on whatever thread the goroutine ran on at that moment, and
//     the execve that should carry it may run on another, unfiltered one. If
//     the exec fails, let the goroutine exit still locked, so the runtime
//     throws the filtered thread away instead of reusing it.
//   - call Load late, ideally right before execve (but see the next point):
//     from here on the Go runtime's own syscalls on this thread
//     (rt_sigprocmask, futex, mmap, execve itself) go through the filter too,
//     so the profile must allow whatever runs between Load and execve. The
//     moby default profile does.
//   - have set no_new_privs (prctl(PR_SET_NO_NEW_PRIVS, 1), spec
//     process.noNewPrivileges) or hold CAP_SYS_ADMIN in its user namespace
//     (in the effective set). The kernel demands one of the two so that an
//     unprivileged process cannot confuse a setuid program it execs with a
//     filter; without either seccomp(2) fails with EACCES. ctr's container
//     init is root in the container's user namespace, so it has
//     CAP_SYS_ADMIN there, but only until it applies the container's
//     capabilities (podman's defaults do not include it) or switches to a
//     non-root user. So, as runc's standard_init_linux.go does: without
//     no_new_privs, Load BEFORE dropping capabilities and changing user (the
//     profile then also filters capset, setresuid, setgroups and prctl: the
//     moby profile allows them); with no_new_privs, Load as late as possible,
//     right before execve, so that as few syscalls as possible run filtered.
//
// Why not TSYNC: it would filter every thread of this process, which is ctr's
// container init, a Go program still running its runtime; the container is
// what should be filtered. Filters survive execve and are inherited by every
// child, and execve leaves a single thread, so the one filtered thread is
// enough to cover the whole container. Threads other than the calling one
// stay unfiltered until the execve kills them.
//
// Load checks that f was compiled for the running architecture: a program
// for another ABI would misread every syscall number.
func Load(f *Filter) error {
	if f == nil || len(f.Program) == 0 {
		return errors.New("load seccomp filter: empty program")
	}
	if len(f.Program) > MaxInstructions {
		return fmt.Errorf("load seccomp filter: %d instructions, the kernel takes at most %d", len(f.Program), MaxInstructions)
	}
	if a := nativeArch(); a == nil || a.spec != f.Arch {
		return fmt.Errorf("load seccomp filter compiled for %s: %w", f.Arch, ErrUnsupportedArch)
	}
	if f.Flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		return errors.New("load seccomp filter: SECCOMP_FILTER_FLAG_TSYNC would filter the runtime's own threads")
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	// unix.Syscall, not RawSyscall: the kernel may sleep (allocating the
	// filter), and the scheduler should know this thread is in a syscall.
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		err := os.NewSyscallError("seccomp", errno)
		if errno == unix.EACCES {
			return fmt.Errorf("load seccomp filter: %w (set no_new_privs first, or hold CAP_SYS_ADMIN in the user namespace)", err)
		}
		return fmt.Errorf("load seccomp filter (%d instructions, flags %#x): %w", len(f.Program), f.Flags, err)
	}
	return nil
}
