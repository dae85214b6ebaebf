package seccomp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The integration test re-executes the test binary; TestMain turns the copy
// into a child that loads the filter and reports what its syscalls return.
const (
	childEnv = "CTR_SECCOMP_TEST_CHILD" // load, exec or postexec
	nnpEnv   = "CTR_SECCOMP_TEST_NNP"   // "1": set no_new_privs before Load
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// childReport is what a child prints as JSON on stdout.
type childReport struct {
	Euid  int
	Load  string            // "ok", or why Load failed
	Calls map[string]string // syscall -> "ok" or errno name
}

func errnoName(err error) string {
	var e unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e):
		if e == 0 {
			return "ok"
		}
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
	}
	return err.Error()
}

// raw makes a syscall on the current thread and names its errno.
func raw(nr uintptr, args ...uintptr) string {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	return errnoName(e)
}

func child(mode string) int {
	rep := childReport{Euid: os.Geteuid(), Calls: map[string]string{}}
	defer func() {
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if mode == "postexec" {
		probe(rep.Calls)
		rep.Load = "inherited"
		return 0
	}

	// From here to the end of the process, this goroutine owns the
	// thread the filter goes on: every probe below must run on it.
	runtime.LockOSThread()
	f, err := Compile(defaultProfile(&fakeTB{}))
	if err != nil {
		rep.Load = "compile: " + err.Error()
		return 0
	}
	if os.Getenv(nnpEnv) == "1" {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			rep.Load = "prctl: " + err.Error()
			return 0
		}
	}
	if err := Load(f); err != nil {
		rep.Load = errnoName(err) + ": " + err.Error()
		return 0
	}
	rep.Load = "ok"
	if mode == "exec" {
		env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, childEnv+"=") })
		err := syscall.Exec("/proc/self/exe", os.Args, append(env, childEnv+"=postexec"))
		rep.Load = "exec: " + err.Error()
		return 0
	}
	probe(rep.Calls)
	rep.Calls["above max syscall"] = raw(uintptr(f.MaxSyscall + 1))

	// Another thread was not filtered: unshare(CLONE_NEWUSER) reaches the
	// kernel there, which refuses it because the process has threads.
	done := make(chan string)
	go func() {
		runtime.LockOSThread()
		done <- raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	}()
	rep.Calls["unshare CLONE_NEWUSER on another thread"] = <-done
	return 0
}

// probe makes syscalls on the current thread. Each one's expected result
// differs with and without the filter.
func probe(calls map[string]string) {
	calls["getpid"] = raw(unix.SYS_GETPID)
	calls["unshare CLONE_NEWUSER"] = raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	// Unfiltered, clone3(NULL, 0) is EINVAL.
	calls["clone3"] = raw(unix.SYS_CLONE3, 0, 0)
	// Unfiltered, root gets ENOENT (no such mount point).
	src, _ := unix.BytePtrFromString("none")
	dst, _ := unix.BytePtrFromString("/nonexistent-ctr-seccomp-test")
	fstype, _ := unix.BytePtrFromString("tmpfs")
	_, _, e := unix.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(dst)), uintptr(unsafe.Pointer(fstype)), 0, 0, 0)
	calls["mount"] = errnoName(e)
	calls["personality query"] = raw(unix.SYS_PERSONALITY, 0xffffffff)
	calls["personality ADDR_NO_RANDOMIZE"] = raw(unix.SYS_PERSONALITY, 0x0040000) // ADDR_NO_RANDOMIZE
	// Unfiltered, AF_AX25 is EAFNOSUPPORT (removed in Linux 7.1) or works.
	calls["socket AF_AX25"] = raw(unix.SYS_SOCKET, unix.AF_AX25, unix.SOCK_SEQPACKET, 0)
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	calls["socket AF_INET"] = errnoName(e)
	if e == 0 {
		unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	}
	calls["keyctl"] = raw(unix.SYS_KEYCTL, 0)
	calls["seccomp mode"] = seccompMode()
}

// seccompMode reads this thread's "Seccomp:" line from /proc: 0 none, 2 filter.
func seccompMode() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	if err != nil {
		return err.Error()
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "no Seccomp line"
}

// fakeTB lets the child use defaultProfile without a testing.T.
type fakeTB struct{ testing.TB }

func (*fakeTB) Helper() {}
func (*fakeTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// filtered is what the probes return on a filtered thread.
var filtered = map[string]string{
	"getpid":                        "ok",
	"unshare CLONE_NEWUSER":         "EPERM",
	"clone3":                        "ENOSYS",
	"mount":                         "EPERM",
	"personality query":             "ok",
	"personality ADDR_NO_RANDOMIZE": "EPERM",
	"socket AF_AX25":                "EPERM",
	"socket AF_INET":                "ok",
	"keyctl":                        "EPERM",
	"seccomp mode":                  "2",
}

func TestLoad(t *testing.T) {
	native(t)
	if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		t.Skipf("seccomp not available: %v", err)
	}
	bin := shareableBinary(t)
	root := os.Geteuid() == 0
	nobody := uint32(65534)

	type tcase struct {
		name    string
		uid     *uint32
		nnp     bool
		mode    string
		wantErr string // errno name Load must fail with, "" for success
	}
	cases := []tcase{
		{name: "current user with no_new_privs", nnp: true, mode: "load"},
		{name: "filter survives execve and covers every new thread", nnp: true, mode: "exec"},
	}
	if root {
		cases = append(cases,
			tcase{name: "root without no_new_privs (CAP_SYS_ADMIN)", mode: "load"},
			tcase{name: "unprivileged uid 65534 with no_new_privs", uid: &nobody, nnp: true, mode: "load"},
			tcase{name: "unprivileged uid 65534 without no_new_privs is EACCES", uid: &nobody, mode: "load", wantErr: "EACCES"},
		)
	} else {
		cases = append(cases, tcase{name: "unprivileged without no_new_privs is EACCES", mode: "load", wantErr: "EACCES"})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin)
			cmd.Dir = filepath.Dir(bin)
			cmd.Env = append(os.Environ(), childEnv+"="+tc.mode)
			if tc.nnp {
				cmd.Env = append(cmd.Env, nnpEnv+"=1")
			}
			if tc.uid != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: *tc.uid, Gid: *tc.uid}}
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\nstderr: %s", err, stderr.String())
			}
			var rep childReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("child output %q: %v\nstderr: %s", out, err, stderr.String())
			}
			t.Logf("child euid %d, load %s", rep.Euid, rep.Load)
			if tc.uid != nil && rep.Euid != int(*tc.uid) {
				t.Fatalf("child euid = %d, want %d", rep.Euid, *tc.uid)
			}
			if tc.wantErr != "" {
				if !strings.HasPrefix(rep.Load, tc.wantErr+":") {
					t.Errorf("Load = %q, want %s", rep.Load, tc.wantErr)
				}
				return
			}
			if rep.Load != "ok" && rep.Load != "inherited" {
				t.Fatalf("Load = %q, want ok", rep.Load)
			}
			want := map[string]string{}
			for k, v := range filtered {
				want[k] = v
			}
			if tc.mode == "load" {
				want["above max syscall"] = "ENOSYS"
				want["unshare CLONE_NEWUSER on another thread"] = "EINVAL"
			}
			for k, w := range want {
				if got := rep.Calls[k]; got != w {
					t.Errorf("%s = %s, want %s", k, got, w)
				}
			}
		})
	}
}

// shareableBinary copies the test binary to a directory any user can read,
// so that a child can run as uid 65534: go test builds into a 0700 directory.
func shareableBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bin := filepath.Join(dir, "seccomp.test")
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestLoadRejects covers the checks Load makes before calling seccomp(2);
// none of these cases reaches the kernel.
func TestLoadRejects(t *testing.T) {
	a := native(t)
	other := archAARCH64
	if a == archAARCH64 {
		other = archX86_64
	}
	ret := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}
	for _, tc := range []struct {
		name string
		f    *Filter
	}{
		{"nil filter", nil},
		{"empty program", &Filter{Arch: a.spec}},
		{"program for another architecture", &Filter{Program: []unix.SockFilter{ret}, Arch: other.spec}},
		{"TSYNC", &Filter{Program: []unix.SockFilter{ret}, Arch: a.spec, Flags: unix.SECCOMP_FILTER_FLAG_TSYNC}},
		{"too long", &Filter{Program: make([]unix.SockFilter, MaxInstructions+1), Arch: a.spec}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Load(tc.f); err == nil {
				t.Fatalf("Load(%s) = nil, want an error", tc.name)
			}
		})
	}
}
