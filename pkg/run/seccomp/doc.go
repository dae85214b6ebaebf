// Package seccomp compiles a runtime-spec seccomp profile
// (specs.LinuxSeccomp, e.g. moby's default profile resolved for the
// container's capabilities) into a classic BPF program and installs it on the
// calling thread, in pure Go: no libseccomp, no cgo.
//
// It owns:
//   - the syscall name -> number tables (generated from golang.org/x/sys into
//     zsyscalls.go by mksyscalls.go);
//   - the translation of actions, errno values and argument comparisons into
//     BPF, with the architecture check, the x32 check and the ENOSYS rule for
//     syscalls newer than the profile (see Compile), and the small assembler
//     that lays it out (asm.go; instructions are golang.org/x/net/bpf's);
//   - seccomp(2) itself (see Load, and its requirements on the caller).
//
// It does not choose the profile, resolve it for capabilities or kernel
// versions (moby/profiles/seccomp does, in the caller), set no_new_privs,
// drop capabilities, lock the OS thread or exec: pkg/run does those, and
// Load's documentation says where Load goes among them (as late as possible,
// but before capabilities are dropped when no_new_privs is off). It does not
// support SCMP_ACT_NOTIFY
// (seccomp agents) nor architectures other than x86_64 and aarch64, and it
// compiles only the native ABI of those: i386 and x32 syscalls on x86_64, and
// arm32 syscalls on aarch64, are refused.
//
// Why not libseccomp: it needs cgo, and the version Debian 12 ships (2.5.4)
// silently drops syscalls newer than itself (mseal, listmount, statmount,
// lsm_*), so a profile that allows them would deny them. Here a name our
// tables lack is reported in Filter.Skipped and Filter.Unknown instead.
//
// Why not github.com/elastic/go-seccomp-bpf, the pure-Go library this was
// first measured with (538 instructions for the default profile): its
// Policy.Assemble compares syscall numbers against whatever an argument check
// left in the accumulator (v1.6.0 allows personality(165) when personality(0)
// and mount are allowed, 165 being mount's number on x86_64); its Policy
// cannot express a default errno other than EPERM, nor SCMP_CMP_MASKED_EQ
// beyond "no bit of the mask set"; and its tables are older than x/sys's
// (see archInfo.table). It remains a
// test-only cross-check of the tables. The program built here is a binary
// search over syscall numbers: under 200 instructions for the same profile.
package seccomp
