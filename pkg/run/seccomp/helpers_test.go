package seccomp

import (
	"encoding/binary"
	"strconv"
	"testing"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// podmanCaps are podman's default capabilities (DESIGN.md): the moby profile
// is resolved against them, which leaves out CAP_SYS_ADMIN's syscalls.
var podmanCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// defaultProfile is moby's default profile resolved for podman's capabilities
// on the running architecture and kernel.
func defaultProfile(tb testing.TB) *specs.LinuxSeccomp {
	tb.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: podmanCaps}}}
	p, err := moby.GetDefaultProfile(spec)
	if err != nil {
		tb.Fatalf("GetDefaultProfile: %v", err)
	}
	return p
}

// seccompData is the input of a seccomp filter.
type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// vm runs a compiled program in golang.org/x/net/bpf's interpreter.
type vm struct {
	t    *testing.T
	vm   *bpf.VM
	arch *archInfo
}

func newVM(t *testing.T, f *Filter, a *archInfo) *vm {
	t.Helper()
	ins := make([]bpf.Instruction, len(f.Program))
	for i, s := range f.Program {
		ins[i] = bpf.RawInstruction{Op: s.Code, Jt: s.Jt, Jf: s.Jf, K: s.K}.Disassemble()
	}
	v, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return &vm{t: t, vm: v, arch: a}
}

// run returns what the program decides for d.
//
// The interpreter is made for packets and loads 32-bit words big-endian,
// while seccomp loads them in the machine's byte order. So every word is
// stored big-endian at the offset where the machine keeps it: the low half
// of args[i] at a.loOff(i), the high half at a.hiOff(i).
func (v *vm) run(d seccompData) uint32 {
	v.t.Helper()
	buf := make([]byte, 64)
	binary.BigEndian.PutUint32(buf[offNr:], d.nr)
	binary.BigEndian.PutUint32(buf[offArch:], d.arch)
	for i, arg := range d.args {
		binary.BigEndian.PutUint32(buf[v.arch.loOff(uint32(i)):], uint32(arg))
		binary.BigEndian.PutUint32(buf[v.arch.hiOff(uint32(i)):], uint32(arg>>32))
	}
	out, err := v.vm.Run(buf)
	if err != nil {
		v.t.Fatalf("vm.Run(%+v): %v", d, err)
	}
	return uint32(out)
}

// call is run for a syscall of the VM's architecture.
func (v *vm) call(nr uint32, args ...uint64) uint32 {
	v.t.Helper()
	d := seccompData{nr: nr, arch: v.arch.audit}
	copy(d.args[:], args)
	return v.run(d)
}

// sys is call by name.
func (v *vm) sys(name string, args ...uint64) uint32 {
	v.t.Helper()
	nr, ok := v.arch.table()[name]
	if !ok {
		v.t.Fatalf("no syscall %q on %s", name, v.arch.spec)
	}
	return v.call(nr, args...)
}

const (
	retAllow       = unix.SECCOMP_RET_ALLOW
	retEPERM       = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS      = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
)

// retName renders a filter return value for failure messages.
func retName(r uint32) string {
	data := r & unix.SECCOMP_RET_DATA
	switch r & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_ERRNO:
		if name := unix.ErrnoName(unix.Errno(data)); name != "" {
			return "ERRNO(" + name + ")"
		}
		return "ERRNO(" + strconv.FormatUint(uint64(data), 10) + ")"
	case unix.SECCOMP_RET_TRACE:
		return "TRACE(" + strconv.FormatUint(uint64(data), 10) + ")"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	}
	return "UNKNOWN(0x" + strconv.FormatUint(uint64(r), 16) + ")"
}
