package seccomp

import (
	"runtime"
	"runtime/debug"
	"slices"
	"testing"

	elastic "github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// TestTablesAgree cross-checks the x/sys tables against elastic/go-seccomp-bpf's:
// no name may have two numbers, and the log shows what each lacks.
func TestTablesAgree(t *testing.T) {
	for _, tc := range []struct {
		arch    *archInfo
		xsys    map[string]uint32
		elastic map[string]int
	}{
		{archX86_64, xsysAMD64(), elastic.X86_64.SyscallNames},
		{archAARCH64, xsysARM64(), elastic.AARCH64.SyscallNames},
	} {
		t.Run(string(tc.arch.spec), func(t *testing.T) {
			var onlyElastic, onlyXsys []string
			for name, nr := range tc.elastic {
				x, ok := tc.xsys[name]
				switch {
				case !ok:
					onlyElastic = append(onlyElastic, name)
				case uint32(nr) != x:
					t.Errorf("%s: elastic says %d, x/sys says %d", name, nr, x)
				}
			}
			for name := range tc.xsys {
				if _, ok := tc.elastic[name]; !ok {
					onlyXsys = append(onlyXsys, name)
				}
			}
			slices.Sort(onlyElastic)
			slices.Sort(onlyXsys)
			t.Logf("x/sys %s: %d names, elastic: %d; only in x/sys: %v; only in elastic: %v",
				xsysVersion, len(tc.xsys), len(tc.elastic), onlyXsys, onlyElastic)
			for name, nr := range tc.arch.table() {
				if tc.arch.x32Bit != 0 && nr&tc.arch.x32Bit != 0 {
					t.Errorf("%s = %#x has the x32 bit", name, nr)
				}
			}
		})
	}
}

// TestTableMatchesXsys compares the generated table with the x/sys
// constants this binary was built with, for the native architecture.
func TestTableMatchesXsys(t *testing.T) {
	a := native(t)
	for name, want := range map[string]uint32{
		"read": unix.SYS_READ, "openat": unix.SYS_OPENAT, "clone": unix.SYS_CLONE,
		"clone3": unix.SYS_CLONE3, "mseal": unix.SYS_MSEAL, "listmount": unix.SYS_LISTMOUNT,
		"statmount": unix.SYS_STATMOUNT, "personality": unix.SYS_PERSONALITY,
	} {
		if got, ok := a.table()[name]; !ok || got != want {
			t.Errorf("table[%q] = %d, %v; want %d", name, got, ok, want)
		}
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "golang.org/x/sys" && dep.Version != xsysVersion {
				// Not an error: a newer x/sys only means our table may
				// lack its newest syscalls, which Filter.Unknown reports.
				t.Logf("zsyscalls.go is from x/sys %s, the build uses %s: run go generate ./pkg/run/seccomp", xsysVersion, dep.Version)
			}
		}
	}
	if a.goarch != runtime.GOARCH {
		t.Errorf("nativeArch() = %s on %s", a.goarch, runtime.GOARCH)
	}
	if a == archX86_64 && (a.audit != unix.AUDIT_ARCH_X86_64 || a.x32Bit != 0x40000000) {
		t.Errorf("x86_64 audit %#x x32 bit %#x", a.audit, a.x32Bit)
	}
	if a == archAARCH64 && a.audit != unix.AUDIT_ARCH_AARCH64 {
		t.Errorf("aarch64 audit %#x", a.audit)
	}
}
