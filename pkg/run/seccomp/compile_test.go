package seccomp

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func native(t *testing.T) *archInfo {
	t.Helper()
	a := nativeArch()
	if a == nil {
		t.Skipf("no syscall table for %s", runtime.GOARCH)
	}
	return a
}

func compileT(t *testing.T, p *specs.LinuxSeccomp, a *archInfo) *Filter {
	t.Helper()
	f, err := compile(p, a)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f
}

func TestDefaultProfile(t *testing.T) {
	a := native(t)
	p := defaultProfile(t)
	start := time.Now()
	f, err := Compile(p)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Compile(default profile) error: %v", err)
	}
	t.Logf("default profile (podman caps, %s): %d BPF instructions, compiled in %v, max syscall %d, ENOSYS above it: %v",
		f.Arch, len(f.Program), elapsed, f.MaxSyscall, f.ENOSYS)
	t.Logf("skipped %d names not on %s: %v", len(f.Skipped), f.Arch, f.Skipped)
	t.Logf("ignored architectures: %v", f.IgnoredArches)
	if len(f.Program) > MaxInstructions {
		t.Fatalf("program has %d instructions, the kernel takes %d", len(f.Program), MaxInstructions)
	}
	if len(f.Unknown) > 0 {
		t.Errorf("names no table knows (regenerate zsyscalls.go?): %v", f.Unknown)
	}
	if !f.ENOSYS {
		t.Errorf("ENOSYS for newer syscalls is off for the default profile")
	}
	v := newVM(t, f, a)
	table := a.table()

	tests := []struct {
		name string
		call string
		args []uint64
		want uint32
	}{
		{"read is allowed", "read", nil, retAllow},
		{"write is allowed", "write", nil, retAllow},
		{"exit is allowed", "exit", nil, retAllow},
		{"exit_group is allowed", "exit_group", nil, retAllow},
		{"execve is allowed", "execve", nil, retAllow},
		{"mseal is allowed (libseccomp 2.5.4 drops it)", "mseal", nil, retAllow},
		{"listmount is allowed (libseccomp 2.5.4 drops it)", "listmount", nil, retAllow},
		{"statmount is allowed (libseccomp 2.5.4 drops it)", "statmount", nil, retAllow},
		{"unshare CLONE_NEWUSER is EPERM without CAP_SYS_ADMIN", "unshare", []uint64{unix.CLONE_NEWUSER}, retEPERM},
		{"mount is EPERM", "mount", nil, retEPERM},
		{"umount2 is EPERM", "umount2", nil, retEPERM},
		{"setns is EPERM", "setns", nil, retEPERM},
		{"bpf is EPERM", "bpf", nil, retEPERM},
		{"keyctl is EPERM", "keyctl", nil, retEPERM},
		{"clone3 is ENOSYS so glibc falls back to clone", "clone3", nil, retENOSYS},
		{"clone of a thread is allowed", "clone", []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM}, retAllow},
		{"clone of a process is allowed", "clone", []uint64{uint64(unix.SIGCHLD)}, retAllow},
		{"clone with CLONE_NEWUSER is EPERM", "clone", []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, retEPERM},
		{"clone with CLONE_NEWNS is EPERM", "clone", []uint64{unix.CLONE_NEWNS}, retEPERM},
		{"clone ignores the upper half of flags like libseccomp", "clone", []uint64{1 << 40}, retAllow},
		{"personality(0) is allowed", "personality", []uint64{0}, retAllow},
		{"personality query 0xffffffff is allowed", "personality", []uint64{0xffffffff}, retAllow},
		{"personality(PER_LINUX32) is allowed", "personality", []uint64{0x0008}, retAllow},
		{"personality(UNAME26) is allowed", "personality", []uint64{0x20000}, retAllow},
		{"personality(ADDR_NO_RANDOMIZE) is EPERM", "personality", []uint64{0x0040000}, retEPERM},
		{"personality with upper bits set is EPERM", "personality", []uint64{1 << 32}, retEPERM},
		{"personality(mount's number) is EPERM (elastic v1.6.0 allowed it)", "personality", []uint64{uint64(table["mount"])}, retEPERM},
		{"socket(AF_UNIX) is allowed", "socket", []uint64{unix.AF_UNIX}, retAllow},
		{"socket(AF_INET6) is allowed", "socket", []uint64{unix.AF_INET6}, retAllow},
		{"socket(AF_NETLINK) is allowed", "socket", []uint64{unix.AF_NETLINK}, retAllow},
		{"socket(AF_UNSPEC) is allowed by the LT rule", "socket", []uint64{unix.AF_UNSPEC}, retAllow},
		{"socket(AF_AX25) is EPERM", "socket", []uint64{unix.AF_AX25}, retEPERM},
		{"socket(AF_INET) with upper bits set is EPERM", "socket", []uint64{1<<32 | unix.AF_INET}, retEPERM},
		{"socket(chroot's number) is EPERM", "socket", []uint64{uint64(table["chroot"])}, retEPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.sys(tt.call, tt.args...); got != tt.want {
				t.Errorf("%s(%#x) = %s, want %s", tt.call, tt.args, retName(got), retName(tt.want))
			}
		})
	}

	t.Run("syscalls above the profile's highest are ENOSYS", func(t *testing.T) {
		for _, nr := range []uint32{f.MaxSyscall + 1, f.MaxSyscall + 100, 1000, 0x3fffffff, math.MaxUint32} {
			if a.x32Bit != 0 && nr >= a.x32Bit {
				continue
			}
			if got := v.call(nr); got != retENOSYS {
				t.Errorf("syscall %d = %s, want ENOSYS", nr, retName(got))
			}
		}
	})
	t.Run("the highest syscall itself is not ENOSYS", func(t *testing.T) {
		if got := v.call(f.MaxSyscall); got == retENOSYS {
			t.Errorf("syscall %d = ENOSYS", f.MaxSyscall)
		}
	})
	t.Run("a gap below the highest syscall gets the default action", func(t *testing.T) {
		// uselib is in no rule of the profile and below the highest one.
		if got := v.sys("uselib"); got != retEPERM {
			t.Errorf("uselib = %s, want EPERM", retName(got))
		}
	})
	t.Run("foreign architecture is killed", func(t *testing.T) {
		foreign := uint32(unix.AUDIT_ARCH_I386)
		if a == archAARCH64 {
			foreign = unix.AUDIT_ARCH_ARM
		}
		for _, nr := range []uint32{0, 1, 3, 4, 11, 120} {
			if got := v.run(seccompData{nr: nr, arch: foreign}); got != retKillProcess {
				t.Errorf("arch %#x syscall %d = %s, want KILL_PROCESS", foreign, nr, retName(got))
			}
		}
	})
	t.Run("x32 syscalls get the default action", func(t *testing.T) {
		if a.x32Bit == 0 {
			t.Skip("no x32 ABI on", a.spec)
		}
		for _, name := range []string{"read", "write", "getpid", "mount"} {
			nr := table[name] | a.x32Bit
			if got := v.call(nr); got != retEPERM {
				t.Errorf("x32 %s (%#x) = %s, want EPERM", name, nr, retName(got))
			}
		}
		if got := v.call(0xffffffff); got != retEPERM {
			t.Errorf("syscall -1 = %s, want EPERM", retName(got))
		}
	})
	t.Run("every unconditionally allowed name is allowed", func(t *testing.T) {
		for _, sc := range p.Syscalls {
			if sc.Action != specs.ActAllow || len(sc.Args) > 0 {
				continue
			}
			for _, name := range sc.Names {
				if _, ok := table[name]; !ok {
					continue
				}
				if got := v.sys(name); got != retAllow {
					t.Errorf("%s = %s, want ALLOW", name, retName(got))
				}
			}
		}
	})
}

// TestDefaultProfileSize keeps an eye on the program size: the kernel limit
// is 4096, the linear layout elastic/go-seccomp-bpf emits was measured at 538.
func TestDefaultProfileSize(t *testing.T) {
	native(t)
	f, err := Compile(defaultProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Program); n > 400 {
		t.Errorf("default profile compiles to %d instructions, want at most 400", n)
	}
}

func TestCrossArchAARCH64(t *testing.T) {
	// The profile is resolved for the host, which only matters for the
	// arch-specific extras (arch_prctl on amd64, none of them on arm64).
	f := compileT(t, defaultProfile(t), archAARCH64)
	t.Logf("default profile on aarch64: %d instructions, max syscall %d", len(f.Program), f.MaxSyscall)
	v := newVM(t, f, archAARCH64)
	for name, want := range map[string]uint32{
		"read": retAllow, "write": retAllow, "newfstatat": retAllow, "mseal": retAllow,
		"mount": retEPERM, "unshare": retEPERM, "clone3": retENOSYS,
	} {
		if got := v.sys(name); got != want {
			t.Errorf("aarch64 %s = %s, want %s", name, retName(got), retName(want))
		}
	}
	if got := v.run(seccompData{nr: 3, arch: unix.AUDIT_ARCH_ARM}); got != retKillProcess {
		t.Errorf("arm32 syscall on aarch64 = %s, want KILL_PROCESS", retName(got))
	}
	if got := v.sys("clone", unix.CLONE_NEWUSER); got != retEPERM {
		t.Errorf("aarch64 clone(CLONE_NEWUSER) = %s, want EPERM", retName(got))
	}
}

// TestConditions checks every operator against Go's own 64-bit arithmetic on
// values around the 32-bit boundary, where a comparison that looks at one
// half only would go wrong.
func TestConditions(t *testing.T) {
	a := native(t)
	values := []uint64{
		0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
		1 << 32, 1<<32 + 1, 1<<32 | 0xffffffff, 2 << 32, 0xffffffff00000000,
		0xffffffff00000001, math.MaxUint64 - 1, math.MaxUint64,
	}
	eval := map[specs.LinuxSeccompOperator]func(arg, v, v2 uint64) bool{
		specs.OpEqualTo:      func(arg, v, _ uint64) bool { return arg == v },
		specs.OpNotEqual:     func(arg, v, _ uint64) bool { return arg != v },
		specs.OpLessThan:     func(arg, v, _ uint64) bool { return arg < v },
		specs.OpLessEqual:    func(arg, v, _ uint64) bool { return arg <= v },
		specs.OpGreaterThan:  func(arg, v, _ uint64) bool { return arg > v },
		specs.OpGreaterEqual: func(arg, v, _ uint64) bool { return arg >= v },
		specs.OpMaskedEqual:  func(arg, mask, datum uint64) bool { return arg&mask == datum },
	}
	masks := []uint64{0, 1, 0xff, 0xffffffff, 0xffffffff00000000, 0x100000001, math.MaxUint64}
	for op, want := range eval {
		seconds := []uint64{0}
		if op == specs.OpMaskedEqual {
			seconds = values
		}
		firsts := values
		if op == specs.OpMaskedEqual {
			firsts = masks
		}
		for _, val := range firsts {
			for _, val2 := range seconds {
				for argIdx := uint(0); argIdx < maxArgs; argIdx += 5 { // args 0 and 5
					p := &specs.LinuxSeccomp{
						DefaultAction: specs.ActErrno,
						Syscalls: []specs.LinuxSyscall{{
							Names:  []string{"getpid"},
							Action: specs.ActAllow,
							Args:   []specs.LinuxSeccompArg{{Index: argIdx, Value: val, ValueTwo: val2, Op: op}},
						}},
					}
					f := compileT(t, p, a)
					v := newVM(t, f, a)
					for _, arg := range values {
						args := make([]uint64, maxArgs)
						args[argIdx] = arg
						got := v.sys("getpid", args...) == retAllow
						if w := want(arg, val, val2); got != w {
							t.Errorf("%s arg%d=%#x value=%#x valueTwo=%#x: allowed=%v, want %v", op, argIdx, arg, val, val2, got, w)
						}
					}
				}
			}
		}
	}
}

func TestRuleSemantics(t *testing.T) {
	a := native(t)
	errno := func(e unix.Errno) *uint { u := uint(e); return &u }
	getpid := []string{"getpid"}
	tests := []struct {
		name    string
		profile specs.LinuxSeccomp
		call    string
		args    []uint64
		want    uint32
	}{
		{
			name:    "args of one rule are ANDed: both match",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpEqualTo}}}}},
			call:    "getpid", args: []uint64{1, 2}, want: retAllow,
		},
		{
			name:    "args of one rule are ANDed: one fails",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpEqualTo}}}}},
			call:    "getpid", args: []uint64{1, 3}, want: retEPERM,
		},
		{
			name:    "a repeated arg index splits the rule into ORed rules (runc)",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 7, Op: specs.OpEqualTo}}}}},
			call:    "getpid", args: []uint64{7}, want: retAllow,
		},
		{
			name: "rules for one syscall are ORed",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: getpid, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
				{Names: getpid, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 5, Op: specs.OpGreaterThan}}},
			}},
			call: "getpid", args: []uint64{0, 6}, want: retAllow,
		},
		{
			name: "the first matching rule decides",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: getpid, Action: specs.ActErrno, ErrnoRet: errno(unix.EACCES), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 10, Op: specs.OpLessThan}}},
				{Names: getpid, Action: specs.ActErrno, ErrnoRet: errno(unix.EBUSY), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpLessThan}}},
			}},
			call: "getpid", args: []uint64{3}, want: unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES),
		},
		{
			name: "an unconditional rule wins over conditional ones (libseccomp)",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: getpid, Action: specs.ActLog, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
				{Names: getpid, Action: specs.ActAllow},
			}},
			call: "getpid", args: []uint64{1}, want: retAllow,
		},
		{
			name:    "errnoRet per rule",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActErrno, ErrnoRet: errno(unix.ENOTSUP)}}},
			call:    "getpid", want: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOTSUP),
		},
		{
			name:    "SCMP_ACT_ERRNO without errnoRet is EPERM, not the default errno",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: errno(unix.ENOSYS), Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActErrno}, {Names: []string{"read"}, Action: specs.ActAllow}}},
			call:    "getpid", want: retEPERM,
		},
		{
			name:    "defaultErrnoRet",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: errno(unix.EACCES), Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "mseal"}, Action: specs.ActAllow}}},
			call:    "getpid", want: unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES),
		},
		{
			name:    "SCMP_ACT_KILL is KILL_THREAD",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActKill}}},
			call:    "getpid", want: unix.SECCOMP_RET_KILL_THREAD,
		},
		{
			name:    "SCMP_ACT_KILL_PROCESS",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActKillProcess}}},
			call:    "getpid", want: unix.SECCOMP_RET_KILL_PROCESS,
		},
		{
			name:    "SCMP_ACT_KILL_THREAD",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActKillThread}}},
			call:    "getpid", want: unix.SECCOMP_RET_KILL_THREAD,
		},
		{
			name:    "SCMP_ACT_TRAP",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActTrap}}},
			call:    "getpid", want: unix.SECCOMP_RET_TRAP,
		},
		{
			name:    "SCMP_ACT_LOG",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActLog}}},
			call:    "getpid", want: unix.SECCOMP_RET_LOG,
		},
		{
			name:    "SCMP_ACT_TRACE carries errnoRet as its message",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActTrace, ErrnoRet: errno(42)}}},
			call:    "getpid", want: unix.SECCOMP_RET_TRACE | 42,
		},
		{
			name:    "SCMP_ACT_TRACE defaults its message to EPERM (runc)",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: getpid, Action: specs.ActTrace}}},
			call:    "getpid", want: unix.SECCOMP_RET_TRACE | uint32(unix.EPERM),
		},
		{
			name:    "default allow: no ENOSYS for new syscalls",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}},
			call:    "getpid", want: retAllow,
		},
		{
			name: "clone3 is ENOSYS when clone has arg rules and clone3 is not named",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}},
			}},
			call: "clone3", want: retENOSYS,
		},
		{
			name: "clone3 keeps the profile's own rule",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}},
				{Names: []string{"clone3"}, Action: specs.ActAllow},
			}},
			call: "clone3", want: retAllow,
		},
		{
			name: "clone3 is untouched when clone is allowed outright",
			profile: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"clone"}, Action: specs.ActAllow},
				{Names: []string{"clone3", "read"}, Action: specs.ActAllow},
			}},
			call: "clone3", want: retAllow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := compileT(t, &tt.profile, a)
			if got := newVM(t, f, a).sys(tt.call, tt.args...); got != tt.want {
				t.Errorf("%s(%#x) = %s, want %s", tt.call, tt.args, retName(got), retName(tt.want))
			}
		})
	}

	t.Run("x32 is EPERM when the default allows", func(t *testing.T) {
		if a.x32Bit == 0 {
			t.Skip("no x32 ABI on", a.spec)
		}
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}}
		v := newVM(t, compileT(t, p, a), a)
		if got := v.call(a.table()["mount"] | a.x32Bit); got != retEPERM {
			t.Errorf("x32 mount = %s, want EPERM", retName(got))
		}
	})
}

func TestCompileReports(t *testing.T) {
	a := native(t)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_TSYNC"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "stat64", "no_such_syscall", "riscv_flush_icache"}, Action: specs.ActAllow},
		},
	}
	f := compileT(t, p, a)
	if want := []string{"no_such_syscall", "riscv_flush_icache", "stat64"}; !slices.Equal(f.Skipped, want) {
		t.Errorf("Skipped = %v, want %v", f.Skipped, want)
	}
	if want := []string{"no_such_syscall"}; !slices.Equal(f.Unknown, want) {
		t.Errorf("Unknown = %v, want %v", f.Unknown, want)
	}
	if slices.Contains(f.IgnoredArches, a.spec) || len(f.IgnoredArches) != 4 {
		t.Errorf("IgnoredArches = %v, want the 4 non-native ones", f.IgnoredArches)
	}
	if f.Flags != unix.SECCOMP_FILTER_FLAG_LOG {
		t.Errorf("Flags = %#x, want SECCOMP_FILTER_FLAG_LOG alone (TSYNC dropped)", f.Flags)
	}
	if f.MaxSyscall != a.table()["read"] {
		t.Errorf("MaxSyscall = %d, want read's number %d", f.MaxSyscall, a.table()["read"])
	}
}

func TestCompileErrors(t *testing.T) {
	a := native(t)
	errno := uint(1)
	big := uint(0x10000)
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
	}{
		{"nil profile", nil},
		{"unknown default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}},
		{"notify action", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}},
		{"listener path", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: "/run/agent.sock"}},
		{"errnoRet with allow", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: &errno}}}},
		{"errnoRet too large", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &big}},
		{"arg index 6", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}},
		{"unknown operator", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_XOR"}}}}}},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"}}},
		{"wait killable needs a listener", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}},
		{"conflicting unconditional actions", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}, {Names: []string{"read"}, Action: specs.ActKill}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, err := compile(tt.profile, a); err == nil {
				t.Errorf("compile() = %d instructions, want an error", len(f.Program))
			}
		})
	}
}

// TestLongJumps forces jumps past the 8-bit offsets of classic BPF: a tree
// over hundreds of syscalls, each with argument rules, is thousands of
// instructions long.
func TestLongJumps(t *testing.T) {
	a := native(t)
	var names []string
	for name, nr := range a.table() {
		if nr < 400 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for _, name := range names {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names:  []string{name},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 1, Value: uint64(a.table()[name]), Op: specs.OpEqualTo}},
		})
	}
	f := compileT(t, p, a)
	t.Logf("%d syscalls with an arg rule each: %d instructions", len(names), len(f.Program))
	long := 0
	for _, ins := range f.Program {
		if ins.Code == unix.BPF_JMP|unix.BPF_JA && ins.K > math.MaxUint8 {
			long++
		}
	}
	if long == 0 {
		t.Errorf("no long jump in a %d-instruction program", len(f.Program))
	}
	v := newVM(t, f, a)
	for _, name := range names {
		nr := a.table()[name]
		if got := v.call(nr, 0, uint64(nr)); got != retAllow {
			t.Errorf("%s(_, %d) = %s, want ALLOW", name, nr, retName(got))
		}
		if got := v.call(nr, 0, uint64(nr)+1); got != retEPERM {
			t.Errorf("%s(_, %d) = %s, want EPERM", name, nr+1, retName(got))
		}
	}
}

// TestAssemblerTrampolines checks both long forms of a conditional jump
// directly, including the one where both targets are far.
func TestAssemblerTrampolines(t *testing.T) {
	for _, tc := range []struct{ farT, farF, fallthroughF bool }{
		{farT: true}, {farF: true}, {farT: true, farF: true}, {farT: true, fallthroughF: true},
	} {
		t.Run(fmt.Sprintf("far jt=%v jf=%v jf is next=%v", tc.farT, tc.farF, tc.fallthroughF), func(t *testing.T) {
			as := newAsm()
			lt, lf := as.newLabel(), as.newLabel()
			as.ld(offNr)
			if tc.fallthroughF {
				as.jmp(bpf.JumpEqual, 7, lt, next)
				as.ret(2)
			} else {
				as.jmp(bpf.JumpEqual, 7, lt, lf)
			}
			pad := func(far bool) {
				if far {
					for range 300 {
						as.ret(0xdead)
					}
				}
			}
			pad(tc.farT || tc.farF)
			as.mark(lt)
			as.ret(1)
			pad(tc.farF)
			as.mark(lf)
			as.ret(2)
			prog, err := as.assemble()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := bpf.Assemble(prog)
			if err != nil {
				t.Fatal(err)
			}
			f := &Filter{}
			for _, r := range raw {
				f.Program = append(f.Program, unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K})
			}
			v := newVM(t, f, archX86_64)
			if got := v.run(seccompData{nr: 7}); got != 1 {
				t.Errorf("nr 7 -> %d, want 1", got)
			}
			if got := v.run(seccompData{nr: 8}); got != 2 {
				t.Errorf("nr 8 -> %d, want 2", got)
			}
		})
	}
}

func TestMaxInstructions(t *testing.T) {
	a := native(t)
	// Thousands of distinct argument rules on one syscall cannot fit.
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for i := range 2000 {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: uint64(i), Op: specs.OpGreaterThan}, {Index: 2, Value: uint64(i), Op: specs.OpLessThan}},
		})
	}
	if _, err := compile(p, a); err == nil {
		t.Errorf("compile of a huge profile succeeded, want an error")
	}
}

func TestUnsupportedArch(t *testing.T) {
	if nativeArch() != nil {
		t.Skip("running on a supported architecture")
	}
	if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno}); !errors.Is(err, ErrUnsupportedArch) {
		t.Errorf("Compile() error = %v, want ErrUnsupportedArch", err)
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	if nativeArch() == nil {
		b.Skip("unsupported architecture")
	}
	p := defaultProfile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}
