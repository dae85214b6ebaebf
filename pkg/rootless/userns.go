package rootless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ChildName is argv[0] of the process re-executed inside the user
// namespace. The caller registers its entrypoint under this name with
// go.podman.io/storage/pkg/reexec.
const ChildName = "ctr-userns"

// envMode marks the re-executed child and carries its Mode. Its presence is
// how a process knows it already runs inside ctr's user namespace.
const envMode = "_CTR_USERNS_MODE"

// syncFd is the child's end of the pipe the parent closes once the ID maps
// are written (the first fd in ExtraFiles).
const syncFd = 3

// envJoined marks a child that joined an existing user namespace (see
// RerunInUserNSOf) rather than getting a new one.
const envJoined = "_CTR_USERNS_JOINED"

// joinFd is the pidfd a joining child gets, after the agent socket; the
// constructor in package nsjoin joins its user namespace.
const joinFd = 5

func inNamespace() bool { return os.Getenv(envMode) != "" }

// Current returns the mode of this process and whether it already runs with
// the IDs it needs (as root, or inside ctr's user namespace). When ok is
// false the caller must Reexec.
func Current() (mode Mode, ok bool) {
	if m := os.Getenv(envMode); m != "" {
		return Mode(m), true
	}
	if os.Geteuid() == 0 {
		return ModeRoot, true
	}
	return "", false
}

// ReexecOptions configure Reexec.
type ReexecOptions struct {
	// Args are the arguments for the child, without argv[0].
	Args []string
	// RuntimeBase becomes the child's XDG_RUNTIME_DIR.
	RuntimeBase string
	// Stdin, Stdout and Stderr default to the process's own.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Result, when set, receives what the child passed to ReturnToHost.
	Result *[]byte
}

// Reexec runs this binary again, as ChildName, in a new user and mount
// namespace mapped as the plan says, waits for it and returns its exit
// status (128+N when it died of signal N). Signals sent to this process are
// forwarded, so `kill` and `timeout` reach the child.
//
// A child that calls RerunInUserNSOf is run once more, in the user
// namespace of the process it named (and a new mount namespace): the
// binary must import package nsjoin for that.
func Reexec(ctx context.Context, plan *Plan, opts ReexecOptions) (int, error) {
	if plan.Mode == ModeRoot {
		return 0, errors.New("reexec: root needs no user namespace")
	}
	code, rejoin, err := reexec(ctx, plan, opts, -1)
	if rejoin < 0 {
		return code, err
	}
	defer unix.Close(rejoin)
	if err != nil || code != 0 {
		return code, err // the child failed after asking: it said why
	}
	code, again, err := reexec(ctx, plan, opts, rejoin)
	if again >= 0 {
		unix.Close(again) // RerunInUserNSOf refuses a second time
	}
	return code, err
}

// reexec runs the child once: in a new user namespace, or joining the user
// namespace of the process the pidfd join refers to (when not -1). It
// returns the child's exit status and the pidfd of its rerun request, or
// -1.
func reexec(ctx context.Context, plan *Plan, opts ReexecOptions, join int) (code, rejoin int, err error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, -1, err
	}
	defer syncR.Close()
	defer syncW.Close()

	cmd := exec.Command("/proc/self/exe", opts.Args...)
	cmd.Args[0] = ChildName
	cmd.Stdin, cmd.Stdout, cmd.Stderr = orStdin(opts.Stdin), orWriter(opts.Stdout, os.Stdout), orWriter(opts.Stderr, os.Stderr)
	agent, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, -1, fmt.Errorf("host agent socket: %w", err)
	}
	agentParent, agentChild := os.NewFile(uintptr(agent[0]), "host-agent"), os.NewFile(uintptr(agent[1]), "host-agent-child")
	defer agentChild.Close()
	cmd.ExtraFiles = []*os.File{syncR, agentChild} // fds 3 (syncFd) and 4 (hostAgentFd)
	cmd.Env = append(os.Environ(), envMode+"="+string(plan.Mode), "XDG_RUNTIME_DIR="+opts.RuntimeBase,
		envHostAgent+"="+strconv.Itoa(hostAgentFd))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		// The child execs before newuidmap has written its maps, as an
		// unmapped uid: execve would drop every capability. Ambient
		// capabilities survive that exec, so the child is fully privileged
		// in its namespace once the maps exist.
		AmbientCaps: allCaps(),
		// Die with us: a child outliving a killed parent would keep
		// running unsupervised with our terminal.
		Pdeathsig: syscall.SIGKILL,
	}
	switch {
	case join >= 0:
		// The nsjoin constructor joins the user namespace (which gives
		// every capability in it, and maps us as that namespace's owner
		// is mapped) and unshares the mount namespace, before the Go
		// runtime starts. Its maps exist already.
		dup, err := unix.FcntlInt(uintptr(join), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, -1, err
		}
		pidfd := os.NewFile(uintptr(dup), "join-pidfd")
		defer pidfd.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, pidfd) // joinFd
		cmd.Env = append(cmd.Env, fmt.Sprintf("_CTR_SETNS=%d:user", joinFd), "_CTR_SETNS_UNSHARE=mnt", envJoined+"=1")
		cmd.SysProcAttr.Cloneflags, cmd.SysProcAttr.AmbientCaps = 0, nil
	case plan.Mode == ModeSingleID:
		// Without newuidmap only a single mapping of our own IDs is
		// allowed, and setgroups must be denied first (user_namespaces(7));
		// the Go runtime writes both before the child runs.
		cmd.SysProcAttr.UidMappings = toSyscall(plan.UIDMap)
		cmd.SysProcAttr.GidMappings = toSyscall(plan.GIDMap)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	if err := cmd.Start(); err != nil {
		agentParent.Close()
		if d := diagnoseUserNS("/proc/sys", err); d != nil {
			return 0, -1, d
		}
		return 0, -1, fmt.Errorf("start user namespace: %w", err)
	}
	syncR.Close()
	agentChild.Close()
	var st agentState
	agentDone := make(chan struct{})
	go serveHostAgent(agentParent, &st, agentDone)
	if plan.Mode == ModeSubIDs && join < 0 {
		if err := writeMaps(ctx, cmd.Process.Pid, plan); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, -1, err
		}
	}
	syncW.Close() // the child proceeds

	stop := forwardSignals(cmd.Process)
	err = cmd.Wait()
	stop()
	code, err = exitStatus(cmd, err)
	// The agent ends when the child's end of the socket closes (a
	// monitor may hold a copy: do not wait for it then).
	select {
	case <-agentDone:
	case <-time.After(100 * time.Millisecond):
	}
	if r := st.result.Load(); opts.Result != nil && r != nil {
		*opts.Result = *r
	}
	// Requests are answered before the child goes on, so one made
	// before it exited is here.
	return code, int(st.rejoin.Swap(0) - 1), err
}

// writeMaps runs newuidmap and newgidmap for pid, at the same time: they
// are independent, and each costs a setuid-root process start.
func writeMaps(ctx context.Context, pid int, plan *Plan) error {
	helpers := []struct {
		path string
		m    []specs.LinuxIDMapping
	}{{plan.NewUIDMap, plan.UIDMap}, {plan.NewGIDMap, plan.GIDMap}}
	errs := make([]error, len(helpers))
	var wg sync.WaitGroup
	for i, h := range helpers {
		wg.Go(func() {
			var stderr bytes.Buffer
			c := exec.CommandContext(ctx, h.path, newIDMapArgs(pid, h.m)...)
			c.Stderr = &stderr
			if err := c.Run(); err != nil {
				errs[i] = &MapError{Helper: h.path, Output: strings.TrimSpace(stderr.String()), Err: err}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// MapError reports a failed newuidmap/newgidmap run.
type MapError struct {
	Helper string
	Output string
	Err    error
}

func (e *MapError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Helper, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg + " (check that it is setuid root and that /etc/subuid and /etc/subgid ranges do not overlap other users')"
}

func (e *MapError) Unwrap() error { return e.Err }

func exitStatus(cmd *exec.Cmd, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return 0, err
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// forwardSignals relays catchable signals to p until stop is called.
// SIGINT and SIGQUIT from the terminal already reach the child, which shares
// our process group; forwarding them as well would deliver them twice, so
// they are relayed only when our group is not the terminal's foreground
// group (e.g. `kill -INT` from a script).
func forwardSignals(p *os.Process) (stop func()) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				if (s == syscall.SIGINT || s == syscall.SIGQUIT || s == syscall.SIGWINCH) && inForeground() {
					continue
				}
				_ = p.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

func inForeground() bool {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer tty.Close()
	fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// ChildInit completes the entry on the child side. It must run before
// anything that depends on the uid: it blocks until the parent has written
// the ID maps, then checks that the namespace is usable.
func ChildInit() error {
	// The host agent is for this process: helpers it starts (slirp4netns,
	// storage's) must not inherit it. A monitor gets its own copy
	// (HostAgentFile).
	if os.Getenv(envHostAgent) != "" {
		unix.CloseOnExec(hostAgentFd)
	}
	sync := os.NewFile(syncFd, "userns-sync")
	_, err := io.Copy(io.Discard, sync)
	sync.Close()
	if err != nil {
		return fmt.Errorf("wait for ID maps: %w", err)
	}
	if os.Getenv("_CTR_SETNS") != "" {
		return errors.New("this binary cannot join a user namespace: it must import github.com/ctr-project/ctr/pkg/rootless/nsjoin")
	}
	if os.Geteuid() != 0 {
		return errors.New("the user namespace has no mapping for this process (the parent did not finish)")
	}
	// Ubuntu's apparmor_restrict_unprivileged_userns lets the namespace be
	// created but strips every capability in it.
	if !hasCapSysAdmin() {
		if d := diagnoseUserNS("/proc/sys", syscall.EPERM); d != nil {
			return d
		}
		return errors.New("no capabilities inside the user namespace (is a security module restricting it?)")
	}
	// Our mounts (overlay, the container rootfs) must not propagate back,
	// and host mounts made later may still reach long-lived monitors.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return &os.PathError{Op: "make mounts rslave", Path: "/", Err: err}
	}
	return nil
}

// allCaps lists every capability the running kernel knows.
func allCaps() []uintptr {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps
}

func hasCapSysAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && v&(1<<unix.CAP_SYS_ADMIN) != 0
		}
	}
	return false
}

func orStdin(r io.Reader) io.Reader {
	if r == nil {
		return os.Stdin
	}
	return r
}

func orWriter(w, def io.Writer) io.Writer {
	if w == nil {
		return def
	}
	return w
}
