package seccomp

//go:generate go run mksyscalls.go

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32SyscallBit is __X32_SYSCALL_BIT (arch/x86/include/uapi/asm/unistd.h).
const x32SyscallBit = 0x40000000

// archInfo describes one syscall ABI that Compile can build a program for.
type archInfo struct {
	goarch string
	spec   specs.Arch // the profile's name for it, SCMP_ARCH_*
	// audit is the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch for
	// this ABI. It is the only thing that tells the ABIs of one machine apart
	// (x86_64 also runs i386 code through int 0x80, aarch64 runs arm32 code),
	// and syscall numbers mean different things in each: the first check of
	// every program must be this one (Documentation/userspace-api/seccomp_filter.rst).
	audit uint32
	// x32Bit is __X32_SYSCALL_BIT on x86_64, 0 elsewhere. The x32 ABI shares
	// AUDIT_ARCH_X86_64 with x86_64 and differs only by this bit in the syscall
	// number, so a filter that checks only seccomp_data.arch lets x32 calls of
	// denied syscalls through if the kernel has CONFIG_X86_X32_ABI
	// (the "x32 bypass" the kernel documentation warns about).
	x32Bit uint32
	// littleEndian tells where the low 32 bits of a 64-bit argument sit in
	// seccomp_data.args: classic BPF loads 32-bit words in native byte order.
	littleEndian bool
	// table maps syscall names to numbers, from golang.org/x/sys.
	//
	// Why x/sys and not the tables of github.com/elastic/go-seccomp-bpf
	// v1.6.0: x/sys is regenerated from the kernel headers on every release
	// and is the more complete one (v0.50.0 has file_getattr, file_setattr,
	// listns and rseq_slice_yield, which elastic, at Linux 6.15, lacks), and
	// elastic's aarch64 table is wrong in places: it calls newfstatat
	// "fstatat" and lists the 32-bit-only *_time64 calls (403-423), which do
	// not exist in the 64-bit ABI. TestTablesAgree compares the two.
	table func() map[string]uint32
}

var (
	archX86_64 = &archInfo{
		goarch:       "amd64",
		spec:         specs.ArchX86_64,
		audit:        unix.AUDIT_ARCH_X86_64,
		x32Bit:       x32SyscallBit,
		littleEndian: true,
		table:        xsysAMD64,
	}
	archAARCH64 = &archInfo{
		goarch:       "arm64",
		spec:         specs.ArchAARCH64,
		audit:        unix.AUDIT_ARCH_AARCH64,
		littleEndian: true,
		table:        xsysARM64,
	}
	arches = []*archInfo{archX86_64, archAARCH64}
)

// nativeArch returns the ABI of the running binary, or nil when Compile has no
// syscall table for it. A Go binary always runs in its own GOARCH's ABI, and so
// does the container process it execs in the common case (an amd64 image on an
// amd64 host); other ABIs of the same machine are refused by the program.
func nativeArch() *archInfo {
	for _, a := range arches {
		if a.goarch == runtime.GOARCH {
			return a
		}
	}
	return nil
}

// knownOnSomeArch reports whether name is a syscall on any Linux architecture
// x/sys covers. Names the profile lists for other ABIs (the *_time64 and *32
// calls of 32-bit machines, s390 and riscv specials) are expected to be
// missing from the native table; a name unknown everywhere is newer than our
// tables or misspelt, and that is worth a warning.
func knownOnSomeArch(name string) bool {
	_, ok := xsysAnyArch()[name]
	return ok
}
