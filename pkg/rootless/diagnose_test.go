package rootless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// fakeProcSys writes the given files (relative to /proc/sys) into a temp dir.
func fakeProcSys(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// allOn is a /proc/sys on which unprivileged user namespaces work.
var allOn = map[string]string{
	"user/max_user_namespaces":                     "63382\n",
	"kernel/unprivileged_userns_clone":             "1\n",
	"kernel/apparmor_restrict_unprivileged_userns": "0\n",
}

func with(base map[string]string, file, value string) map[string]string {
	m := make(map[string]string, len(base))
	for k, v := range base {
		m[k] = v
	}
	m[file] = value
	return m
}

func TestDiagnoseUserNS(t *testing.T) {
	eperm := &os.SyscallError{Syscall: "clone", Err: syscall.EPERM}
	tests := []struct {
		name        string
		files       map[string]string
		cause       error
		wantSetting string // "" means nil
		wantValue   string
		wantFix     string // substring
	}{
		{
			name:        "max_user_namespaces is 0",
			files:       with(allOn, "user/max_user_namespaces", "0\n"),
			cause:       eperm,
			wantSetting: "user.max_user_namespaces",
			wantValue:   "0",
			wantFix:     "sysctl -w user.max_user_namespaces=",
		},
		{
			name:        "unprivileged_userns_clone is 0",
			files:       with(allOn, "kernel/unprivileged_userns_clone", "0"),
			cause:       eperm,
			wantSetting: "kernel.unprivileged_userns_clone",
			wantValue:   "0",
			wantFix:     "sysctl -w kernel.unprivileged_userns_clone=1",
		},
		{
			name:        "apparmor restricts unprivileged userns",
			files:       with(allOn, "kernel/apparmor_restrict_unprivileged_userns", " 1 \n"),
			cause:       eperm,
			wantSetting: "kernel.apparmor_restrict_unprivileged_userns",
			wantValue:   "1",
			wantFix:     "kernel.apparmor_restrict_unprivileged_userns=0",
		},
		{
			name:        "ENOSPC from max_user_namespaces",
			files:       with(allOn, "user/max_user_namespaces", "0\n"),
			cause:       fmt.Errorf("fork/exec /proc/self/exe: %w", syscall.ENOSPC),
			wantSetting: "user.max_user_namespaces",
			wantValue:   "0",
		},
		{
			name:        "EACCES",
			files:       with(allOn, "kernel/unprivileged_userns_clone", "0\n"),
			cause:       syscall.EACCES,
			wantSetting: "kernel.unprivileged_userns_clone",
			wantValue:   "0",
		},
		{
			name:        "EINVAL",
			files:       with(allOn, "kernel/unprivileged_userns_clone", "0\n"),
			cause:       syscall.EINVAL,
			wantSetting: "kernel.unprivileged_userns_clone",
			wantValue:   "0",
		},
		{
			name: "the first switch that is off is reported",
			files: map[string]string{
				"user/max_user_namespaces":                     "0",
				"kernel/unprivileged_userns_clone":             "0",
				"kernel/apparmor_restrict_unprivileged_userns": "1",
			},
			cause:       eperm,
			wantSetting: "user.max_user_namespaces",
			wantValue:   "0",
		},
		{
			name:  "all switches on",
			files: allOn,
			cause: eperm,
		},
		{
			name:  "no switches present",
			files: nil,
			cause: eperm,
		},
		{
			name:  "a non-permission error is not explained",
			files: with(allOn, "user/max_user_namespaces", "0\n"),
			cause: &os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.ENOENT},
		},
		{
			name:  "a plain error is not explained",
			files: with(allOn, "user/max_user_namespaces", "0\n"),
			cause: errors.New("something else"),
		},
		{
			name:  "a nil cause is not explained",
			files: with(allOn, "user/max_user_namespaces", "0\n"),
			cause: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procSys := fakeProcSys(t, tt.files)
			got := diagnoseUserNS(procSys, tt.cause)
			if tt.wantSetting == "" {
				if got != nil {
					t.Fatalf("diagnoseUserNS(%v) = %v, want nil", tt.cause, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("diagnoseUserNS(%v) = nil, want a *DisabledError for %s", tt.cause, tt.wantSetting)
			}
			if got.Setting != tt.wantSetting || got.Value != tt.wantValue {
				t.Errorf("diagnoseUserNS(%v) = %s=%q, want %s=%q", tt.cause, got.Setting, got.Value, tt.wantSetting, tt.wantValue)
			}
			if got.Fix == "" || !strings.Contains(got.Fix, tt.wantFix) {
				t.Errorf("diagnoseUserNS(%v).Fix = %q, want it to contain %q", tt.cause, got.Fix, tt.wantFix)
			}
			var err error = got
			if !errors.Is(err, ErrUserNSDisabled) {
				t.Errorf("errors.Is(%v, ErrUserNSDisabled) = false, want true", err)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("errors.Is(%v, %v) = false, want true (the cause is kept)", err, tt.cause)
			}
			var de *DisabledError
			if !errors.As(fmt.Errorf("start user namespace: %w", err), &de) || de != got {
				t.Errorf("errors.As(wrapped %v, *DisabledError) failed", err)
			}
			msg := err.Error()
			for _, s := range []string{ErrUserNSDisabled.Error(), tt.wantSetting + "=" + tt.wantValue} {
				if !strings.Contains(msg, s) {
					t.Errorf("DisabledError.Error() = %q, want it to contain %q", msg, s)
				}
			}
		})
	}
}

func TestDisabledErrorIsOnlyUserNSDisabled(t *testing.T) {
	err := &DisabledError{Setting: "user.max_user_namespaces", Value: "0", Err: syscall.EPERM}
	if errors.Is(err, ErrNoHome) {
		t.Errorf("errors.Is(%v, ErrNoHome) = true, want false", err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		t.Errorf("errors.Is(%v, ENOSPC) = true, want false", err)
	}
}

func TestToSyscall(t *testing.T) {
	m := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 65536},
	}
	want := []syscall.SysProcIDMap{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 65536},
	}
	if got := toSyscall(m); !reflect.DeepEqual(got, want) {
		t.Errorf("toSyscall(%v) = %v, want %v", m, got, want)
	}
	if got := toSyscall(nil); len(got) != 0 {
		t.Errorf("toSyscall(nil) = %v, want empty", got)
	}
}

func TestHasFileCapsPlainFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "plain", "x")
	if hasFileCaps(path) {
		t.Errorf("hasFileCaps(%q) = true, want false", path)
	}
	if hasFileCaps(path + ".missing") {
		t.Errorf("hasFileCaps(%q) = true, want false", path+".missing")
	}
}

func TestCurrent(t *testing.T) {
	t.Run("inside the namespace the env carries the mode", func(t *testing.T) {
		t.Setenv(envMode, string(ModeSubIDs))
		if mode, ok := Current(); mode != ModeSubIDs || !ok {
			t.Errorf("Current() = %q, %v, want %q, true", mode, ok, ModeSubIDs)
		}
		if !inNamespace() {
			t.Errorf("inNamespace() = false, want true with %s set", envMode)
		}
	})
	t.Run("outside the namespace it depends on the euid", func(t *testing.T) {
		t.Setenv(envMode, "")
		mode, ok := Current()
		if os.Geteuid() == 0 {
			if mode != ModeRoot || !ok {
				t.Errorf("Current() as root = %q, %v, want %q, true", mode, ok, ModeRoot)
			}
		} else if mode != "" || ok {
			t.Errorf("Current() as uid %d = %q, %v, want \"\", false", os.Geteuid(), mode, ok)
		}
	})
}
