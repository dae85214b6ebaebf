package e2e

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/ctr-project/ctr/internal/testutil"
	"github.com/rogpeppe/go-internal/testscript"
)

var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"kill9-during-pull": kill9DuringPull,
	"mkrootfs":          mkrootfs,
	"capture":           capture,
	"waitfor":           waitfor,
	"pty-run":           ptyRun,
}

// waitfor waits (at most 30s) until FILE exists.
func waitfor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfor FILE")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within 30s", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ptyRun runs a command on a new pseudo-terminal (rows 24, columns 80),
// types INPUT (with \r for Enter) into it, and puts everything the
// terminal showed in stdout. The exit status is checked like exec's.
//
//	pty-run INPUT COMMAND [ARG...]
func ptyRun(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: pty-run INPUT COMMAND [ARG...]")
	}
	cmd := exec.Command(lookScriptPath(ts, args[1]), args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	for _, kv := range []string{"HOME", "XDG_RUNTIME_DIR", "PATH", "USER", "GOCOVERDIR"} {
		cmd.Env = append(cmd.Env, kv+"="+ts.Getenv(kv))
	}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	ts.Check(err)
	defer f.Close()
	input := strings.ReplaceAll(args[0], `\r`, "\r")
	_, err = f.Write([]byte(input))
	ts.Check(err)
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				close(done)
				return
			}
		}
	}()
	werr := cmd.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	_, err = io.WriteString(ts.Stdout(), out.String())
	ts.Check(err)
	if (werr != nil) != neg {
		ts.Fatalf("pty-run %s: unexpected result: %v", args[1], werr)
	}
}

// capture sets VAR to the last command's standard output, trimmed.
func capture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture VAR")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
}

// mkrootfs writes the busybox root filesystem as a tarball; each extra
// PATH=TARGET argument adds a symlink.
//
//	mkrootfs FILE [PATH=TARGET...]
func mkrootfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: mkrootfs FILE [PATH=TARGET...]")
	}
	entries, err := testutil.BusyboxRootfs()
	ts.Check(err)
	for _, l := range args[1:] {
		p, target, ok := strings.Cut(l, "=")
		if !ok {
			ts.Fatalf("mkrootfs: want PATH=TARGET, got %q", l)
		}
		entries = append(entries, testutil.TarEntry{Name: p, Type: tar.TypeSymlink, Linkname: target, Mode: 0o777})
	}
	b, err := testutil.LayerTar(entries)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// kill9DuringPull runs `ctr pull REF` against the slow proxy, sends SIGKILL
// to ctr once part of a blob has been transferred, and checks that the
// process in the user namespace died with it.
func kill9DuringPull(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: kill9-during-pull REF")
	}
	cmd := exec.Command(filepath.Join(ts.Getenv("CTRBIN"), "ctr"), "pull", "-q", args[0])
	cmd.Dir = ts.Getenv("WORK")
	for _, kv := range []string{"HOME", "XDG_RUNTIME_DIR", "PATH", "USER", "GOCOVERDIR"} {
		cmd.Env = append(cmd.Env, kv+"="+ts.Getenv(kv))
	}
	before := proxy.SlowBytes()
	ts.Check(cmd.Start())
	deadline := time.Now().Add(30 * time.Second)
	for proxy.SlowBytes()-before < 128<<10 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			ts.Fatalf("the pull did not start downloading within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	children := childrenOf(cmd.Process.Pid)
	if len(children) == 0 {
		ts.Fatalf("ctr (pid %d) has no child in the user namespace while pulling", cmd.Process.Pid)
	}
	ts.Check(cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		ts.Fatalf("ctr was not killed by SIGKILL: %v", err)
	}
	for _, pid := range children {
		for alive(pid) {
			if time.Now().After(deadline) {
				ts.Fatalf("the namespace child %d outlived the killed ctr", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ts.Logf("killed ctr after %d bytes; children %v exited", proxy.SlowBytes()-before, children)
}

// childrenOf lists the PIDs whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may contain spaces; fields after ")" are fixed.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// lookScriptPath finds a program in the script's PATH, not the test's.
func lookScriptPath(ts *testscript.TestScript, name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}
