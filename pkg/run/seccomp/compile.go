package seccomp

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// MaxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS); seccomp(2) fails with EINVAL beyond it.
const MaxInstructions = 4096

// ErrUnsupportedArch is returned by Compile when this package has no syscall
// table for the running architecture (only x86_64 and aarch64 have one).
var ErrUnsupportedArch = errors.New("no seccomp syscall table for this architecture")

// Offsets into struct seccomp_data (include/uapi/linux/seccomp.h):
//
//	struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
	maxArgs = 6
)

// Filter is a compiled seccomp profile for one architecture.
type Filter struct {
	// Program is the classic BPF program seccomp(2) takes.
	Program Program
	// Flags are the SECCOMP_FILTER_FLAG_* bits the profile asks for.
	// Load passes them to seccomp(2). Never TSYNC: see Load.
	Flags uint
	// Arch is the ABI Program was compiled for (the running one).
	Arch specs.Arch
	// MaxSyscall is the highest syscall number the profile names on Arch.
	// Higher numbers return ENOSYS when ENOSYS is true.
	MaxSyscall uint32
	// ENOSYS tells whether syscalls newer than the profile (above
	// MaxSyscall) return ENOSYS instead of the default action. It is on
	// whenever the default action refuses.
	ENOSYS bool
	// Skipped lists, sorted, the syscall names of the profile that have no
	// number on Arch. Their rules are dropped, as runc does. Most are
	// expected: the moby profile is shared by all architectures and names
	// the 32-bit-only calls (stat64, *_time64, ...).
	Skipped []string
	// Unknown is the part of Skipped that no architecture in our tables
	// knows: syscalls newer than golang.org/x/sys (go generate after
	// bumping it) or misspelt names. Callers should warn about these.
	Unknown []string
	// IgnoredArches lists the profile's architectures other than Arch.
	// The program kills a process that makes a syscall through one of
	// them (see Compile).
	IgnoredArches []specs.Arch
}

// Compile turns a runtime-spec seccomp profile into a BPF program for the
// running architecture, in pure Go (no libseccomp).
//
// The program, in order:
//
//  1. Checks seccomp_data.arch. A syscall through another ABI of this machine
//     (i386 int 0x80 on x86_64, arm32 on aarch64) has different numbers, so
//     checking them against this table would be meaningless: it returns
//     SECCOMP_RET_KILL_PROCESS, which is what libseccomp does for an
//     architecture missing from the filter (SCMP_FLTATR_ACT_BADARCH). Only
//     the native ABI is compiled, even when the profile lists sub-arches
//     (moby lists x86 and x32 for x86_64): they end up in IgnoredArches.
//     Killing is chosen over an errno because a 32-bit program whose every
//     syscall fails behaves erratically, while "Bad system call" is clear.
//  2. On x86_64, refuses x32 syscalls (number with __X32_SYSCALL_BIT set),
//     as the kernel documentation recommends, with the default action when
//     it refuses and EPERM when the default allows (a deny-list profile must
//     not be bypassable through the x32 numbers of the syscalls it denies).
//  3. Returns ENOSYS for syscall numbers above the highest one the profile
//     names, unless the default action allows. This is what runc and podman
//     do: a syscall newer than the profile gets "not implemented", so libc
//     falls back to the older call (clone3 -> clone, faccessat2 ->
//     faccessat, statx -> fstatat) instead of failing with EPERM.
//  4. Walks a binary tree over the syscall number to the syscall's leaf: a
//     return for syscalls without argument conditions (adjacent numbers with
//     the same action share one leaf), or the syscall's argument rules,
//     falling back to the default action.
//
// Rule semantics follow runc on libseccomp: the args of one rule are ANDed;
// rules for the same syscall are ORed; an unconditional rule for a syscall
// wins over its conditional ones; a rule naming the same argument index twice
// is split into one rule per argument, ORed (runc issue 2735; moby's profile
// is written around it). When conditional rules with different actions
// overlap, the first one in profile order decides (libseccomp does not
// define an order). Comparisons are unsigned and on all 64 bits of the
// argument. SCMP_CMP_MASKED_EQ is (arg & value) == valueTwo.
//
// If the profile filters clone's flags but says nothing about clone3, clone3
// returns ENOSYS: its flags sit in a struct behind a pointer that seccomp
// cannot read, so allowing it would bypass the clone rules, and denying it
// with EPERM would stop glibc (2.34+) from falling back to clone.
//
// Syscall names the table does not know for this architecture are skipped
// and reported in Filter.Skipped rather than failing: a profile names
// syscalls of every architecture.
func Compile(p *specs.LinuxSeccomp) (*Filter, error) {
	a := nativeArch()
	if a == nil {
		return nil, ErrUnsupportedArch
	}
	return compile(p, a)
}

// cond is one argument comparison, already validated.
type cond struct {
	index    uint32
	op       specs.LinuxSeccompOperator
	value    uint64
	valueTwo uint64
}

// rule is a set of conditions that must all hold (AND) for ret to apply.
type rule struct {
	conds []cond
	ret   uint32
}

// decision is everything the profile says about one syscall number.
type decision struct {
	uncond bool   // an unconditional rule exists; ret is its action
	ret    uint32 // valid when uncond
	rules  []rule // conditional rules in profile order, when !uncond
}

func compile(p *specs.LinuxSeccomp, a *archInfo) (*Filter, error) {
	if p == nil {
		return nil, errors.New("nil seccomp profile")
	}
	if p.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp listenerPath %q: SCMP_ACT_NOTIFY is not supported", p.ListenerPath)
	}
	flags, err := filterFlags(p.Flags)
	if err != nil {
		return nil, err
	}
	dflt, err := retValue(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}

	f := &Filter{Flags: flags, Arch: a.spec}
	for _, arch := range p.Architectures {
		if arch != a.spec && !slices.Contains(f.IgnoredArches, arch) {
			f.IgnoredArches = append(f.IgnoredArches, arch)
		}
	}

	table := a.table()
	decisions := map[uint32]*decision{}
	skipped := map[string]bool{}
	mentioned := false
	for i, sc := range p.Syscalls {
		ret, err := retValue(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] %v: %w", i, sc.Names, err)
		}
		rules, err := argRules(sc.Args, ret)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d] %v: %w", i, sc.Names, err)
		}
		for _, name := range sc.Names {
			nr, ok := table[name]
			if !ok {
				skipped[name] = true
				continue
			}
			if a.x32Bit != 0 && nr&a.x32Bit != 0 {
				return nil, fmt.Errorf("syscall %s: number %#x has the x32 bit set in the %s table", name, nr, a.spec)
			}
			if !mentioned || nr > f.MaxSyscall {
				f.MaxSyscall = nr
			}
			mentioned = true
			d := decisions[nr]
			if d == nil {
				d = &decision{}
				decisions[nr] = d
			}
			if err := d.add(rules, ret); err != nil {
				return nil, fmt.Errorf("syscall %s: %w", name, err)
			}
		}
	}
	f.Skipped = slices.Sorted(maps.Keys(skipped))
	for _, name := range f.Skipped {
		if !knownOnSomeArch(name) {
			f.Unknown = append(f.Unknown, name)
		}
	}

	// clone3 hides its flags from seccomp; see Compile's doc.
	if clone, ok := table["clone"]; ok {
		if clone3, ok := table["clone3"]; ok && decisions[clone3] == nil && !skipped["clone3"] {
			if d := decisions[clone]; d != nil && !d.uncond && len(d.rules) > 0 {
				decisions[clone3] = &decision{uncond: true, ret: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
			}
		}
	}

	f.ENOSYS = mentioned && !allows(dflt) && dflt != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)

	prog, err := emit(a, f, dflt, decisions)
	if err != nil {
		return nil, err
	}
	if len(prog) > MaxInstructions {
		return nil, fmt.Errorf("seccomp program has %d instructions, the kernel takes at most %d", len(prog), MaxInstructions)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp program: %w", err)
	}
	f.Program = make(Program, len(raw))
	for i, r := range raw {
		f.Program[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return f, nil
}

// add records the rules of one profile entry for this syscall.
func (d *decision) add(rules []rule, ret uint32) error {
	if rules == nil { // unconditional
		if d.uncond && d.ret != ret {
			// libseccomp refuses this too (seccomp_rule_add: EEXIST), and
			// there is no order-free way to pick one.
			return fmt.Errorf("conflicting unconditional actions %#x and %#x", d.ret, ret)
		}
		// libseccomp keeps the less specific rule: a syscall allowed
		// (or denied) outright does not look at its arguments.
		d.uncond, d.ret, d.rules = true, ret, nil
		return nil
	}
	if !d.uncond {
		d.rules = append(d.rules, rules...)
	}
	return nil
}

// argRules turns a profile entry's args into rules; nil means unconditional.
func argRules(args []specs.LinuxSeccompArg, ret uint32) ([]rule, error) {
	if len(args) == 0 {
		return nil, nil
	}
	conds := make([]cond, 0, len(args))
	var seen [maxArgs]int
	repeated := false
	for _, arg := range args {
		if arg.Index >= maxArgs {
			return nil, fmt.Errorf("argument index %d out of range (syscalls take %d)", arg.Index, maxArgs)
		}
		switch arg.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
			specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("unknown seccomp operator %q", arg.Op)
		}
		seen[arg.Index]++
		if seen[arg.Index] > 1 {
			repeated = true
		}
		conds = append(conds, cond{index: uint32(arg.Index), op: arg.Op, value: arg.Value, valueTwo: arg.ValueTwo})
	}
	if !repeated {
		return []rule{{conds: conds, ret: ret}}, nil
	}
	// runc (libcontainer/seccomp/seccomp_linux.go, matchCall) adds each
	// condition as its own rule when an argument index repeats, because
	// libseccomp used to reject such a rule; profiles are written against
	// that behaviour (moby's socket rules say so), so do the same.
	rules := make([]rule, len(conds))
	for i, c := range conds {
		rules[i] = rule{conds: []cond{c}, ret: ret}
	}
	return rules, nil
}

// retValue maps a profile action to the value a seccomp filter returns.
func retValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := func(dflt uint) (uint32, error) {
		v := dflt
		if errnoRet != nil {
			v = *errnoRet
		}
		if v > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d does not fit in SECCOMP_RET_DATA", v)
		}
		return uint32(v), nil
	}
	if errnoRet != nil && act != specs.ActErrno && act != specs.ActTrace {
		return 0, fmt.Errorf("errnoRet is only valid with %s and %s, not %s", specs.ActErrno, specs.ActTrace, act)
	}
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActErrno:
		// Without errnoRet libseccomp's SCMP_ACT_ERRNO carries no
		// value, and runc fills in EPERM.
		v, err := data(uint(unix.EPERM))
		return unix.SECCOMP_RET_ERRNO | v, err
	case specs.ActTrace:
		// The data is the message a ptracer reads with
		// PTRACE_GETEVENTMSG; with no tracer attached the kernel fails the
		// syscall with ENOSYS. runc defaults the message to EPERM.
		v, err := data(uint(unix.EPERM))
		return unix.SECCOMP_RET_TRACE | v, err
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActKill, specs.ActKillThread:
		// libseccomp's SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD.
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("%s is not supported (it needs a seccomp agent)", act)
	default:
		return 0, fmt.Errorf("unknown seccomp action %q", act)
	}
}

// allows reports whether a return value lets the syscall run.
func allows(ret uint32) bool {
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG:
		return true
	}
	return false
}

func filterFlags(flags []specs.LinuxSeccompFlag) (uint, error) {
	var out uint
	for _, fl := range flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// The filter goes on the thread that execs the container
			// process, and execve leaves that process with this one
			// thread: it covers every thread the container will have.
			// Synchronising the Go runtime's other threads would
			// instead filter ctr itself. runc ignores it for the same
			// reason.
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("seccomp flag %s needs a notify listener, which is not supported", fl)
		default:
			return 0, fmt.Errorf("unknown seccomp flag %q", fl)
		}
	}
	return out, nil
}

// leaf is a range of syscall numbers and what the program does for them.
type leaf struct {
	lo, hi uint32
	ret    uint32 // for a range without rules
	rules  []rule // argument rules of a single syscall; ret is the fallback
}

// emit lays out the program described in Compile's doc.
func emit(a *archInfo, f *Filter, dflt uint32, decisions map[uint32]*decision) ([]bpf.Instruction, error) {
	as := newAsm()

	native := as.newLabel()
	as.ld(offArch)
	as.jmp(bpf.JumpEqual, a.audit, native, next)
	as.ret(unix.SECCOMP_RET_KILL_PROCESS)
	as.mark(native)

	as.ld(offNr)
	top := uint32(0xffffffff)
	if a.x32Bit != 0 {
		refuse := dflt
		if allows(dflt) {
			refuse = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		}
		notX32 := as.newLabel()
		as.jmp(bpf.JumpGreaterOrEqual, a.x32Bit, next, notX32)
		as.ret(refuse)
		as.mark(notX32)
		top = a.x32Bit - 1
	}
	if f.ENOSYS {
		known := as.newLabel()
		as.jmp(bpf.JumpGreaterThan, f.MaxSyscall, next, known)
		as.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
		as.mark(known)
		top = f.MaxSyscall
	}

	as.tree(leaves(decisions, dflt, top), a)
	return as.assemble()
}

// leaves cuts [0, top] into ranges: one per syscall with argument rules, and
// maximal runs of numbers sharing one action (gaps get the default action).
func leaves(decisions map[uint32]*decision, dflt, top uint32) []leaf {
	var out []leaf
	add := func(l leaf) {
		if n := len(out); n > 0 && l.rules == nil && out[n-1].rules == nil && out[n-1].ret == l.ret {
			out[n-1].hi = l.hi
			return
		}
		out = append(out, l)
	}
	cur := uint64(0)
	for _, nr := range slices.Sorted(maps.Keys(decisions)) {
		if nr > top {
			// Only the clone3 rule Compile adds can be above the
			// profile's highest syscall; the ENOSYS check before the
			// tree already answers it the same way.
			continue
		}
		if uint64(nr) > cur {
			add(leaf{lo: uint32(cur), hi: nr - 1, ret: dflt})
		}
		d := decisions[nr]
		if d.uncond {
			add(leaf{lo: nr, hi: nr, ret: d.ret})
		} else {
			add(leaf{lo: nr, hi: nr, ret: dflt, rules: d.rules})
		}
		cur = uint64(nr) + 1
	}
	if cur <= uint64(top) {
		add(leaf{lo: uint32(cur), hi: top, ret: dflt})
	}
	return out
}

// tree emits a balanced binary search over ls, which must cover a contiguous
// range the accumulator (the syscall number) is already known to be in.
// Searching keeps the cost per syscall at about log2(len(ls)) jumps, where
// a linear list of comparisons (libseccomp's default) runs through hundreds
// for the syscalls near its end. The kernel caches the result for syscalls
// that are allowed whatever their arguments (since 5.11), but not for the
// others, which are socket and clone in the default profile.
func (as *asm) tree(ls []leaf, a *archInfo) {
	if len(ls) == 1 {
		as.leaf(ls[0], a)
		return
	}
	mid := len(ls) / 2
	right := as.newLabel()
	as.jmp(bpf.JumpGreaterThan, ls[mid-1].hi, right, next)
	as.tree(ls[:mid], a)
	as.mark(right)
	as.tree(ls[mid:], a)
}

func (as *asm) leaf(l leaf, a *archInfo) {
	rules := l.rules
	for len(rules) > 0 {
		// A run of single-equality rules on the same argument with the
		// same action is a set membership test (moby's socket domains,
		// personality values): load the argument once and compare it
		// with each value, instead of one load-compare-return per rule.
		n := 1
		for n < len(rules) && sameSetRule(rules[0], rules[n]) {
			n++
		}
		if n > 1 {
			as.set(rules[:n], a)
		} else {
			fail := as.newLabel()
			for _, c := range rules[0].conds {
				as.cond(c, fail, a)
			}
			as.ret(rules[0].ret)
			as.mark(fail)
		}
		rules = rules[n:]
	}
	as.ret(l.ret)
}

// sameSetRule reports whether r can join a membership run started by first.
func sameSetRule(first, r rule) bool {
	if len(first.conds) != 1 || len(r.conds) != 1 || first.ret != r.ret {
		return false
	}
	a, b := first.conds[0], r.conds[0]
	return a.op == specs.OpEqualTo && b.op == specs.OpEqualTo && a.index == b.index && a.value>>32 == b.value>>32
}

// set emits rules that are all "arg[i] == v" with the same action and the
// same upper 32 bits of v: on a match it returns the action, else falls
// through.
func (as *asm) set(rules []rule, a *archInfo) {
	c := rules[0].conds[0]
	fail, match := as.newLabel(), as.newLabel()
	as.ld(a.hiOff(c.index))
	as.jmp(bpf.JumpEqual, uint32(c.value>>32), next, fail)
	as.ld(a.loOff(c.index))
	for i, r := range rules {
		v := uint32(r.conds[0].value)
		if i == len(rules)-1 {
			as.jmp(bpf.JumpEqual, v, match, fail)
		} else {
			as.jmp(bpf.JumpEqual, v, match, next)
		}
	}
	as.mark(match)
	as.ret(rules[0].ret)
	as.mark(fail)
}

// cond emits code that falls through when c holds and jumps to fail when it
// does not. Classic BPF has 32-bit registers, so each 64-bit comparison is
// made on the upper halves first and on the lower halves only when the upper
// ones are equal.
func (as *asm) cond(c cond, fail label, a *archInfo) {
	hi, lo := uint32(c.value>>32), uint32(c.value)
	ok := as.newLabel()
	ldHi := func() { as.ld(a.hiOff(c.index)) }
	ldLo := func() { as.ld(a.loOff(c.index)) }
	switch c.op {
	case specs.OpEqualTo:
		ldHi()
		as.jmp(bpf.JumpEqual, hi, next, fail)
		ldLo()
		as.jmp(bpf.JumpEqual, lo, ok, fail)
	case specs.OpNotEqual:
		ldHi()
		as.jmp(bpf.JumpEqual, hi, next, ok)
		ldLo()
		as.jmp(bpf.JumpEqual, lo, fail, ok)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// arg > v  <=>  hi(arg) > hi(v) || (hi(arg) == hi(v) && lo(arg) > lo(v))
		ldHi()
		as.jmp(bpf.JumpGreaterThan, hi, ok, next)
		as.jmp(bpf.JumpEqual, hi, next, fail)
		ldLo()
		test := bpf.JumpGreaterThan
		if c.op == specs.OpGreaterEqual {
			test = bpf.JumpGreaterOrEqual
		}
		as.jmp(test, lo, ok, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// arg < v  <=>  hi(arg) < hi(v) || (hi(arg) == hi(v) && lo(arg) < lo(v))
		ldHi()
		as.jmp(bpf.JumpGreaterThan, hi, fail, next)
		as.jmp(bpf.JumpEqual, hi, next, ok)
		ldLo()
		test := bpf.JumpGreaterOrEqual // arg < v fails when lo(arg) >= lo(v)
		if c.op == specs.OpLessEqual {
			test = bpf.JumpGreaterThan
		}
		as.jmp(test, lo, fail, ok)
	case specs.OpMaskedEqual:
		// (arg & mask) == v, half by half. libseccomp takes the mask from
		// value and the datum from valueTwo (SCMP_A0(SCMP_CMP_MASKED_EQ,
		// mask, datum)), and so do runc and crun.
		half := func(ld func(), mask, v uint32) {
			switch {
			case v&^mask != 0: // v has bits the mask clears: never equal
				as.jumpTo(fail)
			case mask == 0: // 0 == 0: always equal
			default:
				ld()
				if mask != 0xffffffff {
					as.and(mask)
				}
				as.jmp(bpf.JumpEqual, v, next, fail)
			}
		}
		half(ldHi, uint32(c.value>>32), uint32(c.valueTwo>>32))
		half(ldLo, uint32(c.value), uint32(c.valueTwo))
	}
	as.mark(ok)
}

// loOff and hiOff are the offsets of the low and high 32 bits of args[i].
func (a *archInfo) loOff(i uint32) uint32 {
	if a.littleEndian {
		return offArgs + 8*i
	}
	return offArgs + 8*i + 4
}

func (a *archInfo) hiOff(i uint32) uint32 {
	if a.littleEndian {
		return offArgs + 8*i + 4
	}
	return offArgs + 8*i
}
