package oci

import (
	"bytes"
	"runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rule returns the first rule of p that names syscall, or nil.
func rule(p *specs.LinuxSeccomp, syscall string) *specs.LinuxSyscall {
	for i := range p.Syscalls {
		if slices.Contains(p.Syscalls[i].Names, syscall) {
			return &p.Syscalls[i]
		}
	}
	return nil
}

// allowed reports whether p allows syscall unconditionally.
func allowed(p *specs.LinuxSeccomp, syscall string) bool {
	for _, r := range p.Syscalls {
		if slices.Contains(r.Names, syscall) && r.Action == specs.ActAllow && len(r.Args) == 0 {
			return true
		}
	}
	return false
}

func TestSeccompDefault(t *testing.T) {
	seccompOn := func(o *Options) { o.Seccomp = SeccompDefault }
	p := mustGenerate(t, seccompOn).Linux.Seccomp
	if p == nil {
		t.Fatal("Seccomp = nil, want moby's default profile")
	}
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default action = %s errno %v, want SCMP_ACT_ERRNO EPERM", p.DefaultAction, p.DefaultErrnoRet)
	}
	if runtime.GOARCH == "amd64" && !slices.Contains(p.Architectures, specs.ArchX86_64) {
		t.Errorf("Architectures = %v, want x86_64 on amd64", p.Architectures)
	}
	for _, name := range []string{"read", "execve", "ptrace", "chown"} {
		if !allowed(p, name) {
			t.Errorf("default profile does not allow %s", name)
		}
	}
	// Gated on CAP_SYS_ADMIN, which the default set lacks.
	for _, name := range []string{"mount", "umount2", "unshare", "setns", "bpf", "keyctl"} {
		if allowed(p, name) {
			t.Errorf("default profile allows %s without CAP_SYS_ADMIN", name)
		}
	}
	if r := rule(p, "clone3"); r == nil || r.Action != specs.ActErrno || r.ErrnoRet == nil || *r.ErrnoRet != 38 {
		t.Errorf("clone3 rule = %+v, want ENOSYS so glibc falls back to clone", r)
	}

	admin := mustGenerate(t, func(o *Options) { seccompOn(o); o.CapAdd = []string{"SYS_ADMIN"} }).Linux.Seccomp
	for _, name := range []string{"mount", "umount2", "unshare", "setns"} {
		if !allowed(admin, name) {
			t.Errorf("profile with CAP_SYS_ADMIN does not allow %s", name)
		}
	}
	if r := rule(admin, "clone3"); r != nil && r.Action != specs.ActAllow {
		t.Errorf("clone3 with CAP_SYS_ADMIN = %+v, want allowed", r)
	}

	// A non-root user is gated on the bounding set, like root.
	nonroot := mustGenerate(t, func(o *Options) { seccompOn(o); o.User = "nobody"; o.CapAdd = []string{"SYS_ADMIN"} }).Linux.Seccomp
	if !allowed(nonroot, "mount") {
		t.Error("profile for a non-root user with CAP_SYS_ADMIN in the bounding set does not allow mount")
	}
}

func TestSeccompMinKernel(t *testing.T) {
	for _, tc := range []struct {
		release string
		ptrace  bool
	}{{"", true}, {"4.8", true}, {"6.18.0-1-amd64", true}, {"4.4.0-210-generic", false}, {"3.10", false}} {
		s := mustGenerate(t, func(o *Options) { o.Seccomp = SeccompDefault; o.KernelRelease = tc.release })
		if got := allowed(s.Linux.Seccomp, "ptrace"); got != tc.ptrace {
			t.Errorf("kernel %q: ptrace allowed = %v, want %v (moby allows it from 4.8)", tc.release, got, tc.ptrace)
		}
	}
}

func TestSeccompUnconfined(t *testing.T) {
	if p := mustGenerate(t, func(o *Options) { o.Seccomp = SeccompUnconfined }).Linux.Seccomp; p != nil {
		t.Errorf("Seccomp = %+v, want nil when unconfined", p)
	}
}

func TestSeccompCustom(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		caps    []string
		check   func(*testing.T, *specs.LinuxSeccomp)
		wantErr error
	}{
		{
			name: "plain profile",
			profile: `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
				"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},{"name":"exit","action":"SCMP_ACT_ALLOW"}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if p.DefaultAction != specs.ActErrno || !allowed(p, "read") || !allowed(p, "exit") || allowed(p, "mount") {
					t.Errorf("profile = %+v", p)
				}
				if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64}) {
					t.Errorf("Architectures = %v", p.Architectures)
				}
			},
		},
		{
			name: "conditions on capabilities",
			profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
				{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
				{"names":["chown"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if allowed(p, "mount") || !allowed(p, "chown") {
					t.Errorf("without CAP_SYS_ADMIN: mount %v chown %v, want false true", allowed(p, "mount"), allowed(p, "chown"))
				}
			},
		},
		{
			name: "conditions on capabilities, granted",
			caps: []string{"SYS_ADMIN"},
			profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
				{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
				{"names":["chown"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"]}}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if !allowed(p, "mount") || allowed(p, "chown") {
					t.Errorf("with CAP_SYS_ADMIN: mount %v chown %v, want true false", allowed(p, "mount"), allowed(p, "chown"))
				}
			},
		},
		{
			name: "minKernel decided without uname",
			profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
				{"names":["new1"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"99.0"}},
				{"names":["old1"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"3.0"}},
				{"names":["new2"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"99.0"}},
				{"names":["old2"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"3.0"}},
				{"names":["both"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"3.0","caps":["CAP_SYS_ADMIN"]}}]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				got := map[string]bool{}
				for _, n := range []string{"new1", "old1", "new2", "old2", "both"} {
					got[n] = allowed(p, n)
				}
				want := map[string]bool{"new1": false, "old1": true, "new2": true, "old2": false, "both": false}
				for n := range want {
					if got[n] != want[n] {
						t.Errorf("%s allowed = %v, want %v", n, got[n], want[n])
					}
				}
			},
		},
		{
			name:    "archMap picks the native architecture",
			profile: `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]},{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],"syscalls":[]}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if runtime.GOARCH == "amd64" && !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
					t.Errorf("Architectures = %v, want x86_64 and x86", p.Architectures)
				}
			},
		},
		{
			name:    "an empty profile means no filter, as with docker",
			profile: `{}`,
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if p != nil {
					t.Errorf("Seccomp = %+v, want nil", p)
				}
			},
		},
		{name: "bad JSON", profile: `{"defaultAction":`, wantErr: ErrInvalidSeccompProfile},
		{name: "not JSON", profile: `seccomp=unconfined`, wantErr: ErrInvalidSeccompProfile},
		{name: "empty input", profile: ``, wantErr: ErrInvalidSeccompProfile},
		{name: "wrong type", profile: `{"syscalls":"all"}`, wantErr: ErrInvalidSeccompProfile},
		{name: "name and names", profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}`, wantErr: ErrInvalidSeccompProfile},
		{name: "architectures and archMap", profile: `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`, wantErr: ErrInvalidSeccompProfile},
		{name: "bad minKernel", profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"abc"}}]}`, wantErr: ErrInvalidSeccompProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) {
				o.Seccomp, o.SeccompProfile, o.CapAdd = SeccompCustom, []byte(tc.profile), tc.caps
			})
			checkErr(t, "Generate()", err, tc.wantErr)
			if err == nil {
				tc.check(t, s.Linux.Seccomp)
			}
		})
	}
}

func TestSeccompProfileSizeCap(t *testing.T) {
	huge := append([]byte(`{"comment":"`), bytes.Repeat([]byte("x"), MaxSeccompProfileSize)...)
	huge = append(huge, `"}`...)
	_, err := generate(t, func(o *Options) { o.Seccomp, o.SeccompProfile = SeccompCustom, huge })
	checkErr(t, "Generate()", err, ErrFileTooLarge)
}

func BenchmarkGenerateDefaultSeccomp(b *testing.B) {
	o := baseOptions()
	o.Seccomp = SeccompDefault
	for b.Loop() {
		if _, err := Generate(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateUnconfined(b *testing.B) {
	o := baseOptions()
	for b.Loop() {
		if _, err := Generate(o); err != nil {
			b.Fatal(err)
		}
	}
}
