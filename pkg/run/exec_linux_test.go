package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctr-project/ctr/internal/testutil"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/rootless"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// envExeProbe makes the test binary run exeProbe: set for the command
// /bin/selfexe, a symlink to /proc/self/exe, exec'd into a container.
const envExeProbe = "CTR_TEST_EXE_PROBE"

// exeReport is what exeProbe prints.
type exeReport struct {
	Dev, Ino  uint64
	FsType    int64
	ReadOnly  bool   // the mount is read-only (ST_RDONLY)
	Seals     int    // F_GET_SEALS, -1 when not a memfd
	OpenWrite string // what open(O_WRONLY) of /proc/self/exe returned
}

// exeProbe runs inside the container as the CVE-2019-5736 attacker: it was
// executed through /proc/self/exe of the joined process, so it runs from
// whatever file that was, and reports what it could do to that file.
func exeProbe() int {
	var r exeReport
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	var st unix.Stat_t
	var fs unix.Statfs_t
	if err := unix.Fstat(fd, &st); err != nil {
		fmt.Println("fstat:", err)
		return 1
	}
	if err := unix.Fstatfs(fd, &fs); err != nil {
		fmt.Println("fstatfs:", err)
		return 1
	}
	r.Dev, r.Ino, r.FsType, r.ReadOnly = st.Dev, st.Ino, fs.Type, fs.Flags&unix.ST_RDONLY != 0
	r.Seals = -1
	if rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		if s, err := unix.FcntlInt(uintptr(rfd), unix.F_GET_SEALS, 0); err == nil {
			r.Seals = s
		}
		unix.Close(rfd)
	}
	r.OpenWrite = "ok"
	if wfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
		r.OpenWrite = unix.ErrnoName(err.(unix.Errno))
	} else {
		unix.Close(wfd)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

// testContainer is a running busybox container (`sleep`) started by
// testMonitor in its own user namespace, and the spec it was started with.
type testContainer struct {
	pid    int
	spec   *specs.Spec
	rootfs string
	// subIDs tells whether the user namespace maps subordinate IDs (else
	// only uid 0 exists in the container).
	subIDs bool
}

// busyboxApplets are linked into the test rootfs.
var busyboxApplets = []string{"sh", "cat", "env", "grep", "hostname", "id", "ls", "pwd", "readlink", "sleep", "true", "tty"}

// startContainer starts the container, in a user namespace that maps the
// subordinate IDs when the test user has some, or only its own IDs with
// singleID.
func startContainer(t *testing.T, singleID bool) *testContainer {
	t.Helper()
	testutil.RequireUserNS(t)
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("skipping: needs busybox (busybox-static)")
	}
	if out, err := exec.Command("ldd", busybox).CombinedOutput(); err == nil || !bytes.Contains(out, []byte("not a dynamic")) {
		t.Skipf("skipping: %s is not statically linked", busybox)
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, busybox, filepath.Join(rootfs, "bin/busybox"), 0o755)
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	// The CVE-2019-5736 entry point: a command that is the runtime itself.
	if err := os.Symlink("/proc/self/exe", filepath.Join(rootfs, "bin/selfexe")); err != nil {
		t.Fatal(err)
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
	group := []byte("root:x:0:\nuser:x:1000:\n")
	writeFile(t, filepath.Join(rootfs, "etc/passwd"), passwd)
	writeFile(t, filepath.Join(rootfs, "etc/group"), group)
	// Bound on /etc/hostname: only the container's mount namespace has it.
	hostnameFile := filepath.Join(dir, "hostname")
	writeFile(t, hostnameFile, []byte("exectest\n"))

	plan := testutil.UserPlan(t, singleID)
	if plan.Mode == rootless.ModeRoot {
		t.Skip("skipping: runs rootless only")
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	spec, err := oci.Generate(oci.Options{
		Image:         ocispec.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"sleep", "1000"}},
		MappedUIDs:    uint32(rootless.MappedIDs(plan.UIDMap)),
		MappedGIDs:    uint32(rootless.MappedIDs(plan.GIDMap)),
		Hostname:      "exectest",
		Passwd:        passwd,
		Group:         group,
		Network:       oci.NetworkNone,
		EtcFiles:      map[string]string{"/etc/hostname": hostnameFile},
		KernelRelease: unix.ByteSliceToString(uts.Release[:]),
	})
	if err != nil {
		t.Fatal(err)
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(dir, "spec.json")
	writeFile(t, specFile, specJSON)

	// Closed by the goroutine that runs the monitor, once it is done.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	pidR, pidW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pidR.Close()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		code, err := rootless.Reexec(context.Background(), plan, rootless.ReexecOptions{
			Args:        []string{specFile, rootfs, filepath.Join(dir, "scratch")},
			RuntimeBase: dir,
			Stdin:       devNull,
			Stdout:      pidW,
			Stderr:      &stderr,
		})
		pidW.Close()
		devNull.Close()
		if err == nil && code != 0 && code != 128+int(syscall.SIGKILL) {
			err = fmt.Errorf("monitor exited with status %d", code)
		}
		done <- err
	}()
	line, err := bufio.NewReader(pidR).ReadString('\n')
	if err != nil {
		<-done
		t.Fatalf("container did not start: %v\n%s", err, stderr.String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("monitor printed %q", line)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if err := <-done; err != nil {
			t.Errorf("monitor: %v\n%s", err, stderr.String())
		}
	})
	return &testContainer{pid: pid, spec: spec, rootfs: rootfs, subIDs: plan.Mode == rootless.ModeSubIDs}
}

// process returns a copy of the container's process with args and changes.
func (c *testContainer) process(t *testing.T, args []string, change func(*specs.Process)) *specs.Process {
	t.Helper()
	b, err := json.Marshal(c.spec.Process)
	if err != nil {
		t.Fatal(err)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	p.Args = args
	if change != nil {
		change(&p)
	}
	return &p
}

// execResult is what one exec did.
type execResult struct {
	stdout, stderr string
	code           int
}

// run execs proc in the container with stdout and stderr captured and
// waits for it. An Exec error is returned as is.
func (c *testContainer) run(t *testing.T, proc *specs.Process) (execResult, error) {
	t.Helper()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(&stdout, outR) })
	wg.Go(func() { _, _ = io.Copy(&stderr, errR) })
	p, err := Exec(ExecOptions{Pid: c.pid, Process: proc, Seccomp: c.spec.Linux.Seccomp, Stdout: outW, Stderr: errW})
	outW.Close()
	errW.Close()
	if err != nil {
		wg.Wait()
		return execResult{}, err
	}
	code, err := p.Wait()
	wg.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return execResult{stdout: stdout.String(), stderr: stderr.String(), code: code}, nil
}

// mustRun is run for commands that must exit 0.
func (c *testContainer) mustRun(t *testing.T, args []string, change func(*specs.Process)) string {
	t.Helper()
	r, err := c.run(t, c.process(t, args, change))
	if err != nil {
		t.Fatalf("Exec(%q) = %v", args, err)
	}
	if r.code != 0 {
		t.Fatalf("Exec(%q) exited with %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

// statusLines returns the named fields of a /proc/PID/status text.
func statusLines(status string, names ...string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && slices.Contains(names, k) {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestIntegrationExec(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: starts containers")
	}
	c := startContainer(t, false)

	t.Run("namespaces", func(t *testing.T) {
		// /etc/hostname is a bind mount in the container's mount
		// namespace; hostname(1) reads the UTS namespace.
		if got := c.mustRun(t, []string{"sh", "-c", "cat /etc/hostname; hostname"}, nil); got != "exectest\nexectest\n" {
			t.Errorf("hostname = %q, want exectest twice", got)
		}
		names := []string{"user", "mnt", "uts", "ipc", "net", "pid", "cgroup"}
		script := "readlink /proc/1/ns/pid"
		for _, n := range names {
			script += "; readlink /proc/self/ns/" + n
		}
		got := strings.Fields(c.mustRun(t, []string{"sh", "-c", script}, nil))
		if len(got) != len(names)+1 {
			t.Fatalf("readlink printed %q", got)
		}
		for i, n := range names {
			want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", c.pid, n))
			if err != nil {
				t.Fatal(err)
			}
			if got[i+1] != want {
				t.Errorf("%s namespace = %s, want the container's %s", n, got[i+1], want)
			}
		}
		if got[0] != got[1+slices.Index(names, "pid")] {
			t.Errorf("pid namespace of PID 1 = %s, of the exec'd process %s", got[0], got[1+slices.Index(names, "pid")])
		}
	})

	t.Run("exit status", func(t *testing.T) {
		r, err := c.run(t, c.process(t, []string{"sh", "-c", "exit 7"}, nil))
		if err != nil || r.code != 7 {
			t.Errorf("exit 7: status %d, error %v", r.code, err)
		}
		r, err = c.run(t, c.process(t, []string{"true"}, nil))
		if err != nil || r.code != 0 {
			t.Errorf("true: status %d, error %v", r.code, err)
		}
	})

	t.Run("signal", func(t *testing.T) {
		p, err := Exec(ExecOptions{Pid: c.pid, Process: c.process(t, []string{"sleep", "100"}, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code, err := p.Wait(); err != nil || code != 128+int(syscall.SIGTERM) {
			t.Errorf("Wait() = %d, %v; want %d", code, err, 128+int(syscall.SIGTERM))
		}
	})

	t.Run("command errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want error
		}{
			{[]string{"nonexistent"}, ErrCommandNotFound},
			{[]string{"/bin/nonexistent"}, ErrCommandNotFound},
			{[]string{"/etc/passwd"}, ErrCannotExecute},
			{[]string{"/tmp"}, ErrCannotExecute},
		} {
			_, err := c.run(t, c.process(t, tc.args, nil))
			var execErr *ExecError
			if !errors.Is(err, tc.want) || !errors.As(err, &execErr) {
				t.Errorf("Exec(%q) = %v, want %v", tc.args, err, tc.want)
			}
		}
		_, err := c.run(t, c.process(t, []string{"true"}, func(p *specs.Process) { p.Cwd = "/nonexistent" }))
		var setupErr *SetupError
		if !errors.As(err, &setupErr) || !strings.Contains(err.Error(), "/nonexistent") {
			t.Errorf("Exec with cwd /nonexistent = %v, want a SetupError naming it", err)
		}
	})

	t.Run("env and cwd", func(t *testing.T) {
		env := []string{"PATH=/bin", "FOO=bar baz"}
		got := c.mustRun(t, []string{"env"}, func(p *specs.Process) { p.Env = env })
		if want := strings.Join(env, "\n") + "\n"; got != want {
			t.Errorf("env = %q, want exactly %q", got, want)
		}
		got = c.mustRun(t, []string{"pwd"}, func(p *specs.Process) { p.Cwd = "/tmp" })
		if got != "/tmp\n" {
			t.Errorf("pwd = %q, want /tmp", got)
		}
	})

	t.Run("rlimits and umask", func(t *testing.T) {
		got := c.mustRun(t, []string{"sh", "-c", "ulimit -n; ulimit -Hn; umask"}, func(p *specs.Process) {
			p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
			mask := uint32(0o027)
			p.User.Umask = &mask
		})
		if got != "100\n200\n0027\n" {
			t.Errorf("got %q, want nofile 100:200 and umask 0027", got)
		}
	})

	fields := []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"}
	t.Run("capabilities and seccomp", func(t *testing.T) {
		initStatus, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
		if err != nil {
			t.Fatal(err)
		}
		want := statusLines(string(initStatus), fields...)
		got := statusLines(c.mustRun(t, []string{"cat", "/proc/self/status"}, nil), fields...)
		// The container's init ran the same process spec.
		for _, f := range fields {
			if got[f] != want[f] {
				t.Errorf("%s = %q, the container's init has %q", f, got[f], want[f])
			}
		}
		eff, err := capSet(c.spec.Process.Capabilities.Effective, lastCap())
		if err != nil {
			t.Fatal(err)
		}
		if w := fmt.Sprintf("%016x", eff); got["CapEff"] != w || got["CapInh"] != "0000000000000000" || got["CapAmb"] != "0000000000000000" {
			t.Errorf("capabilities %v, want effective %s and no inheritable or ambient ones", got, w)
		}
		if got["Seccomp"] != "2" || got["Seccomp_filters"] != "1" || got["NoNewPrivs"] != "0" {
			t.Errorf("got %v, want one seccomp filter and no no_new_privs", got)
		}
		got = statusLines(c.mustRun(t, []string{"cat", "/proc/self/status"}, func(p *specs.Process) { p.NoNewPrivileges = true }), fields...)
		if got["Seccomp"] != "2" || got["Seccomp_filters"] != "1" || got["NoNewPrivs"] != "1" {
			t.Errorf("with no_new_privs: got %v, want one seccomp filter and no_new_privs", got)
		}
	})

	t.Run("user", func(t *testing.T) {
		if !c.subIDs {
			t.Skip("skipping: single-ID mapping, uid 1000 does not exist")
		}
		got := c.mustRun(t, []string{"sh", "-c", "id -u; id -g; id -G; cat /proc/self/status"}, func(p *specs.Process) {
			p.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{4}}
			// podman's rule: a non-root user keeps the bounding set only.
			p.Capabilities.Effective, p.Capabilities.Permitted = nil, nil
			p.Cwd = "/home/user"
		})
		if !strings.HasPrefix(got, "1000\n1000\n1000 4\n") {
			t.Errorf("id printed %q, want uid 1000, gid 1000, groups 1000 4", got)
		}
		if st := statusLines(got, "CapEff", "CapPrm"); st["CapEff"] != "0000000000000000" || st["CapPrm"] != "0000000000000000" {
			t.Errorf("uid 1000 has capabilities %v", st)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		p, err := Exec(ExecOptions{Pid: c.pid, Process: c.process(t, []string{"sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty"}, func(p *specs.Process) {
			p.Terminal = true
		})})
		if err != nil {
			t.Fatal(err)
		}
		if p.Console == nil {
			t.Fatal("no console")
		}
		defer p.Console.Close()
		out := make(chan string)
		go func() {
			// EIO once the last slave fd closes.
			b, _ := io.ReadAll(p.Console)
			out <- string(b)
		}()
		if code, err := p.Wait(); err != nil || code != 0 {
			t.Errorf("Wait() = %d, %v", code, err)
		}
		got := strings.ReplaceAll(<-out, "\r\n", "\n")
		if !strings.HasPrefix(got, "/dev/pts/") || !strings.Contains(got, "\nstdio-is-tty\n") {
			t.Errorf("console printed %q, want a /dev/pts tty as stdio", got)
		}
	})

	t.Run("no fd leaks", func(t *testing.T) {
		// An inheritable fd of ours must show up neither in the command
		// nor in the joined process while it runs in the container as
		// root with every capability; nor must the joiner's own fds.
		canary := filepath.Join(t.TempDir(), "canary")
		fd, err := unix.Open(canary, unix.O_RDONLY|unix.O_CREAT, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		var goStage []string
		nsfs := regexp.MustCompile(`^(user|mnt|uts|ipc|net|pid|cgroup|time):\[`)
		leaked := func(fdNum int, link string) bool {
			return link == canary || strings.Contains(link, "pidfd") || nsfs.MatchString(link) || fdNum > 3 && strings.HasPrefix(link, "pipe:")
		}
		testHookJoined = func(pid int) {
			testHookJoined = nil
			dir := fmt.Sprintf("/proc/%d/fd", pid)
			// The intermediate reports the pid as soon as it has
			// forked, and the child closes its inherited copy of the
			// sync pipe right after: look again for a moment before
			// calling what is still there a leak.
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Error(err)
					return
				}
				goStage = goStage[:0]
				clean := true
				for _, e := range entries {
					link, _ := os.Readlink(filepath.Join(dir, e.Name()))
					goStage = append(goStage, e.Name()+" -> "+link)
					n, _ := strconv.Atoi(e.Name())
					clean = clean && !leaked(n, link)
				}
				if clean || time.Now().After(deadline) {
					return
				}
			}
		}
		defer func() { testHookJoined = nil }()
		got := strings.Fields(c.mustRun(t, []string{"ls", "/proc/self/fd"}, nil))
		// 3 is ls's own directory handle.
		if !slices.Equal(got, []string{"0", "1", "2", "3"}) {
			t.Errorf("fds in the exec'd process: %v, want 0 1 2 and ls's 3", got)
		}
		// Stdio, and the config pipe and status socket (3, 4) that
		// ExecInit closes on exec; the Go runtime may have opened some
		// of its own by now (eventpoll, eventfd). Not the canary, nor the
		// C stage's sync pipe, the target's pidfd or namespace fds.
		for _, l := range goStage {
			n, link, _ := strings.Cut(l, " -> ")
			fdNum, _ := strconv.Atoi(n)
			if leaked(fdNum, link) {
				t.Errorf("the joined process holds %s; all its fds: %q", l, goStage)
			}
		}
		if len(goStage) < 5 {
			t.Errorf("fds of the joined process: %q, want at least stdio, config and status", goStage)
		}
	})

	t.Run("sealed executable", func(t *testing.T) {
		// The command /bin/selfexe -> /proc/self/exe runs whatever the
		// joined process was executed from: the test binary, needing its
		// shared libraries in the container.
		copyLibraries(t, c.rootfs)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		var real unix.Stat_t
		if err := unix.Stat(self, &real); err != nil {
			t.Fatal(err)
		}
		defer func() { sealMode = "" }()
		for _, mode := range []string{"", "memfd"} {
			sealMode = mode
			got := c.mustRun(t, []string{"/bin/selfexe"}, func(p *specs.Process) { p.Env = append(p.Env, envExeProbe+"=1") })
			var r exeReport
			if err := json.Unmarshal([]byte(got), &r); err != nil {
				t.Fatalf("probe printed %q", got)
			}
			t.Logf("seal %q: %+v", mode, r)
			if r.Dev == real.Dev && r.Ino == real.Ino {
				t.Errorf("seal %q: the container ran the test binary's own file", mode)
			}
			if r.OpenWrite == "ok" {
				t.Errorf("seal %q: the container opened its executable for writing", mode)
			}
			overlay := r.FsType == unix.OVERLAYFS_SUPER_MAGIC && r.ReadOnly
			sealed := r.Seals >= 0 && r.Seals&unix.F_SEAL_WRITE != 0
			if mode == "" && !overlay || mode == "memfd" && !sealed {
				t.Errorf("seal %q: executable on fs %#x read-only %v seals %d: want a read-only overlay, or with memfd a write-sealed memfd", mode, r.FsType, r.ReadOnly, r.Seals)
			}
		}
	})

	t.Run("joined process is opaque to the container", func(t *testing.T) {
		// While the joined process waits for its configuration (as root
		// in the container with every capability, running ctr's code), a
		// container process tries its /proc files: the exe link, what
		// CVE-2019-5736 wrote through, and its memory. Two rules refuse
		// it: a process may not ptrace one holding capabilities it lacks,
		// and the joined process is not dumpable (which alone covers the
		// moment between finalize's capability drop and execve).
		var attack string
		var exeErr error
		testHookJoined = func(pid int) {
			testHookJoined = nil
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				t.Error(err)
				return
			}
			nspid := strings.Fields(statusLines(string(status), "NSpid")["NSpid"])
			n := nspid[len(nspid)-1]
			attack = c.mustRun(t, []string{"sh", "-c", fmt.Sprintf(`[ -d /proc/%[1]s ] && echo visible
readlink /proc/%[1]s/exe || echo readlink-denied
cat /proc/%[1]s/exe >/dev/null 2>&1 || echo read-denied
cat /proc/%[1]s/mem >/dev/null 2>&1 || echo mem-denied`, n)}, nil)
			// On the host side, its owner cannot write the file either.
			fd, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			exeErr = err
		}
		defer func() { testHookJoined = nil }()
		joined, err := Exec(ExecOptions{Pid: c.pid, Process: c.process(t, []string{"true"}, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if code, err := joined.Wait(); err != nil || code != 0 {
			t.Errorf("Wait() = %d, %v", code, err)
		}
		if want := "visible\nreadlink-denied\nread-denied\nmem-denied\n"; attack != want {
			t.Errorf("container process probing the joined one printed %q, want %q", attack, want)
		}
		if !errors.Is(exeErr, unix.EROFS) {
			t.Errorf("open /proc/PID/exe of the joined process for writing from the host: %v, want EROFS", exeErr)
		}
	})

	t.Run("dead process", func(t *testing.T) {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		if _, err := Exec(ExecOptions{Pid: cmd.Process.Pid, Process: c.process(t, []string{"true"}, nil)}); err == nil {
			t.Error("Exec into an exited process succeeded")
		}
	})

	t.Run("latency", func(t *testing.T) {
		defer func() { sealMode = "" }()
		for _, mode := range []string{"", "memfd"} {
			sealMode = mode
			var execd, total []time.Duration
			proc := c.process(t, []string{"true"}, nil)
			for range 20 {
				start := time.Now()
				p, err := Exec(ExecOptions{Pid: c.pid, Process: proc, Seccomp: c.spec.Linux.Seccomp})
				if err != nil {
					t.Fatal(err)
				}
				execd = append(execd, time.Since(start))
				if code, err := p.Wait(); err != nil || code != 0 {
					t.Errorf("Wait() = %d, %v", code, err)
				}
				total = append(total, time.Since(start))
				if mode == "" && p.seal != "overlay" {
					t.Errorf("sealed with %q, want overlay", p.seal)
				}
			}
			slices.Sort(execd)
			slices.Sort(total)
			t.Logf("seal %q: Exec of `true` with seccomp, median of 20: %v to exec'd, %v to exited (min %v, max %v)",
				mode, execd[10].Round(10*time.Microsecond), total[10].Round(10*time.Microsecond), total[0].Round(10*time.Microsecond), total[19].Round(10*time.Microsecond))
		}
	})
}

// TestIntegrationExecSingleID runs Start and Exec where the user namespace
// maps only the user's own IDs and must deny setgroups.
func TestIntegrationExecSingleID(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: starts containers")
	}
	c := startContainer(t, true)
	if c.subIDs {
		t.Fatal("got a subordinate ID mapping")
	}
	if got := c.mustRun(t, []string{"sh", "-c", "hostname; id -u; readlink /proc/self/ns/mnt"}, nil); got != fmt.Sprintf("exectest\n0\n%s\n", mustReadlink(t, fmt.Sprintf("/proc/%d/ns/mnt", c.pid))) {
		t.Errorf("got %q", got)
	}
	status := c.mustRun(t, []string{"cat", "/proc/self/status"}, nil)
	if got := statusLines(status, "CapEff", "Seccomp"); got["Seccomp"] != "2" || got["CapEff"] == "0000000000000000" || got["CapEff"] == "000001ffffffffff" {
		t.Errorf("got %v, want the container's capabilities and its seccomp filter", got)
	}
}

func mustReadlink(t *testing.T, path string) string {
	t.Helper()
	s, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadJoined(t *testing.T) {
	for _, tc := range []struct {
		report   string
		pid      int
		seal     string
		errMatch string
	}{
		{"pid 42 overlay", 42, "overlay", ""},
		{"pid 42 memfd (overlay: Operation not permitted)", 42, "memfd (overlay: Operation not permitted)", ""},
		{"error join user namespace of container process 7: Operation not permitted", 0, "", "join user namespace of container process 7: Operation not permitted"},
		{"", 0, "", "without a report"},
		{"pid x", 0, "", "bad report"},
		{"pid -3 overlay", 0, "", "bad report"},
		{"hello", 0, "", "bad report"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.WriteString(tc.report)
		w.Close()
		pid, seal, err := readJoined(r)
		r.Close()
		var setupErr *SetupError
		switch {
		case tc.errMatch == "" && (err != nil || pid != tc.pid || seal != tc.seal):
			t.Errorf("readJoined(%q) = %d, %q, %v; want %d, %q", tc.report, pid, seal, err, tc.pid, tc.seal)
		case tc.errMatch != "" && (!errors.As(err, &setupErr) || !strings.Contains(err.Error(), tc.errMatch)):
			t.Errorf("readJoined(%q) = %v, want a SetupError with %q", tc.report, err, tc.errMatch)
		}
	}
}

// copyLibraries copies the shared libraries of the test binary, and its
// loader, to the same paths in rootfs.
func copyLibraries(t *testing.T, rootfs string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ldd", self).Output()
	if err != nil {
		t.Skipf("skipping: ldd %s: %v", self, err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)".
		f := strings.Fields(line)
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>":
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		default:
			continue
		}
		dst := filepath.Join(rootfs, lib)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, lib, dst, 0o755)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
