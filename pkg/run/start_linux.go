package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitName is argv[0] of the container's init process. The caller registers
// Init under this name with its re-exec dispatcher (e.g.
// go.podman.io/storage/pkg/reexec), before anything else runs in main.
const InitName = "ctr-init"

// Fds of the init process, after stdio.
const (
	configFd = 3 // the initConfig, JSON, then EOF
	statusFd = 4 // SOCK_SEQPACKET: statusMessages (+ the console fd) until exec closes it
)

// Options describe a container to start.
type Options struct {
	// Rootfs is the mounted root filesystem; Spec.Root.Path is ignored.
	Rootfs string
	Spec   *specs.Spec
	// Init runs a minimal reaper as PID 1 that forwards signals to the
	// process and exits with its status (--init).
	Init bool
	// Stdin, Stdout and Stderr become the process's stdio when the spec
	// asks for no terminal. Nil means /dev/null.
	Stdin, Stdout, Stderr *os.File
	// Scratch is a private directory the runtime may use for temporary
	// mounts (the sealed executable).
	Scratch string
	// BeforeExec, when set, runs once the container's namespaces exist
	// (pid is its init) and before its command runs: the caller attaches
	// the network there. It runs while the init builds the root
	// filesystem, so the two overlap. An error aborts the start.
	BeforeExec func(pid int) error
	// ConsoleSize is the terminal size the container's pty gets before
	// its command runs (with a terminal in the spec).
	ConsoleSize *unix.Winsize
	// Executable is the binary the init runs from (sealed first): one that
	// dispatches InitName to Init and imports package nsjoin. Empty means
	// this process's own; a smaller binary starts faster.
	Executable string
	// CgroupDir, when set, is the cgroup v2 directory the init starts in
	// (clone3 CLONE_INTO_CGROUP: no window outside it).
	CgroupDir string
}

// initConfig is what the init process reads from configFd.
type initConfig struct {
	Rootfs string      `json:"rootfs"`
	Spec   *specs.Spec `json:"spec"`
	Init   bool        `json:"init"`
	// Created makes the init report "created" as soon as its namespaces
	// exist (for Options.BeforeExec); WaitGo makes it wait for "go"
	// before it executes the command.
	Created bool `json:"created,omitempty"`
	WaitGo  bool `json:"waitGo,omitempty"`
}

// Process is a started container (Start) or a process exec'd into a
// running one (Exec).
type Process struct {
	// cmd is the container's init, started by os/exec (Start).
	cmd *exec.Cmd
	// proc is the process to wait for and signal: cmd.Process, or for
	// Exec the joined process, a child of ours that os/exec did not start
	// (handled through a pidfd, so its pid cannot be recycled under us).
	proc *os.Process
	// seal says how the joining binary was sealed against CVE-2019-5736
	// (Exec: "overlay", or "memfd (overlay: why)"): for tests and debugging.
	seal string
	// Pid is the process in this process's PID namespace.
	Pid int
	// Console is the pty master when the spec asks for a terminal; the
	// caller copies it to and from the user's terminal.
	Console *os.File
}

// Start creates the container and starts its process. It returns once the
// process has been executed, or with an *ExecError (command not found or
// not executable) or *SetupError after the container is gone.
func Start(o Options) (_ *Process, retErr error) {
	if o.Spec == nil || o.Spec.Process == nil || len(o.Spec.Process.Args) == 0 {
		return nil, errors.New("start container: the spec has no process")
	}
	exe, err := sealedExecutable(o.Scratch, o.Executable)
	if err != nil {
		return nil, err
	}
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer configR.Close()
	defer configW.Close()
	statusParent, statusChild, err := statusSocket("status-init")
	if err != nil {
		return nil, err
	}
	defer statusParent.Close()
	defer statusChild.Close()

	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", exe.Fd()),
		Args:       []string{InitName},
		Env:        []string{},
		ExtraFiles: []*os.File{configR, statusChild},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags(o.Spec),
			// A foreground container must not outlive the process that
			// runs it (the monitor, for detached ones).
			Pdeathsig: syscall.SIGKILL,
		},
	}
	// Without a terminal the container writes straight to the caller's
	// files (no copying); nil leaves exec.Cmd's /dev/null.
	if !o.Spec.Process.Terminal {
		if o.Stdin != nil {
			cmd.Stdin = o.Stdin
		}
		if o.Stdout != nil {
			cmd.Stdout = o.Stdout
		}
		if o.Stderr != nil {
			cmd.Stderr = o.Stderr
		}
	}
	var namespaces []specs.LinuxNamespace
	if o.Spec.Linux != nil {
		namespaces = o.Spec.Linux.Namespaces
	}
	for _, ns := range namespaces {
		if ns.Path == "" {
			continue
		}
		if ns.Type != specs.NetworkNamespace {
			return nil, fmt.Errorf("joining an existing %s namespace is not supported", ns.Type)
		}
		// The init joins it in package nsjoin's constructor, while it
		// has one thread; cloneFlags leaves out CLONE_NEWNET.
		f, err := os.Open(ns.Path)
		if err != nil {
			return nil, fmt.Errorf("network namespace to join: %w", err)
		}
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		cmd.Env = append(cmd.Env, fmt.Sprintf("_CTR_SETNS=%d:net", 2+len(cmd.ExtraFiles)))
	}
	if o.CgroupDir != "" {
		cg, err := os.Open(o.CgroupDir)
		if err != nil {
			return nil, fmt.Errorf("container cgroup: %w", err)
		}
		defer cg.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cg.Fd())
	}
	var startErr error
	onSpawnThread(func() { startErr = cmd.Start() })
	if startErr != nil {
		return nil, fmt.Errorf("start container init: %w", startErr)
	}
	p := &Process{cmd: cmd, proc: cmd.Process, Pid: cmd.Process.Pid}
	defer func() {
		if retErr != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if p.Console != nil {
				p.Console.Close()
			}
		}
	}()
	configR.Close()
	statusChild.Close()

	g := &gate{beforeExec: o.BeforeExec, consoleSize: o.ConsoleSize, terminal: o.Spec.Process.Terminal}
	g.wait = g.beforeExec != nil || (g.terminal && g.consoleSize != nil)
	err = json.NewEncoder(configW).Encode(initConfig{Rootfs: o.Rootfs, Spec: o.Spec, Init: o.Init, WaitGo: g.wait, Created: g.beforeExec != nil})
	configW.Close()
	if err != nil {
		return nil, fmt.Errorf("send config to container init: %w", err)
	}
	if err := awaitExec(statusParent, p, "container init", g); err != nil {
		return nil, err
	}
	return p, nil
}

// awaitExec reads the status socket until the process has executed its
// command, which closes the socket (close-on-exec), and returns the failure
// it reported instead, if any. A console it sends becomes p.Console.
//
// When the process reports "created", beforeExec (Options.BeforeExec) runs
// and the process is told to go on.
func awaitExec(sock *os.File, p *Process, who string, g *gate) error {
	if g == nil {
		g = &gate{}
	}
	for {
		msg, fd, err := readStatus(sock)
		if errors.Is(err, io.EOF) {
			return nil // exec succeeded: the socket closed on exec
		}
		if err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
		switch {
		case msg.Kind == "console":
			if fd < 0 {
				return fmt.Errorf("%s sent no console fd", who)
			}
			if p.Console != nil {
				p.Console.Close()
			}
			p.Console = os.NewFile(uintptr(fd), "console")
			if g.consoleSize != nil {
				_ = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, g.consoleSize)
			}
			g.console = true
		case msg.Kind == "created" && g.beforeExec != nil:
			if err := g.beforeExec(p.Pid); err != nil {
				return err
			}
			g.created = true
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
			return msg.err()
		}
		if err := g.maybeGo(int(sock.Fd())); err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
	}
}

// gate holds back the container's command until the parent is ready for
// it: its network is attached (beforeExec) and its terminal has the
// caller's size, so the first thing the command sees is right.
type gate struct {
	beforeExec  func(int) error
	consoleSize *unix.Winsize
	wait        bool // the init waits for "go"
	terminal    bool // a console will arrive
	created     bool
	console     bool
	sent        bool
}

func (g *gate) maybeGo(sock int) error {
	if !g.wait || g.sent || (g.beforeExec != nil && !g.created) || (g.terminal && !g.console) {
		return nil
	}
	g.sent = true
	return sendStatus(sock, statusMessage{Kind: "go"}, -1)
}

// Wait waits for the process to exit and returns its status: the exit
// code, or 128+N when signal N killed it.
func (p *Process) Wait() (int, error) {
	if p.cmd == nil {
		st, err := p.proc.Wait()
		if err != nil {
			return -1, err
		}
		return exitCode(st.Sys().(syscall.WaitStatus)), nil
	}
	err := p.cmd.Wait()
	if err == nil {
		return 0, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return -1, err
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
		return exitCode(ws), nil
	}
	return exitErr.ExitCode(), nil
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error {
	return p.proc.Signal(sig)
}

func cloneFlags(s *specs.Spec) uintptr {
	var flags uintptr
	if s.Linux == nil {
		return syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			continue // joining existing namespaces is not supported by Start
		}
		switch ns.Type {
		case specs.MountNamespace:
			flags |= syscall.CLONE_NEWNS
		case specs.PIDNamespace:
			flags |= syscall.CLONE_NEWPID
		case specs.UTSNamespace:
			flags |= syscall.CLONE_NEWUTS
		case specs.IPCNamespace:
			flags |= syscall.CLONE_NEWIPC
		case specs.NetworkNamespace:
			flags |= syscall.CLONE_NEWNET
		case specs.CgroupNamespace:
			flags |= syscall.CLONE_NEWCGROUP
		case specs.UserNamespace:
			flags |= syscall.CLONE_NEWUSER
		}
	}
	return flags | syscall.CLONE_NEWNS // the mount setup always needs its own
}

// statusSocket makes the socket pair on which a child reports to us
// (statusMessages, then EOF when its execve closes its end); child names
// the child's end.
func statusSocket(child string) (parent, childEnd *os.File, err error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("status socket: %w", err)
	}
	return os.NewFile(uintptr(sp[0]), "status"), os.NewFile(uintptr(sp[1]), child), nil
}

// readStatus reads one status message and the fd attached to it, if any.
func readStatus(sock *os.File) (statusMessage, int, error) {
	return readStatusFd(int(sock.Fd()))
}

// readStatusFd is readStatus on a raw fd.
func readStatusFd(sock int) (statusMessage, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return statusMessage{}, -1, err
	}
	if n == 0 {
		return statusMessage{}, -1, io.EOF
	}
	fd := -1
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) > 0 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	var msg statusMessage
	if err := json.Unmarshal(buf[:n], &msg); err != nil {
		return msg, fd, fmt.Errorf("bad status message: %w", err)
	}
	return msg, fd, nil
}

// sendStatus is the init side of readStatus.
func sendStatus(sock int, msg statusMessage, fd int) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(sock, b, oob, nil, 0)
}

// The init's parent-death signal fires when the *thread* that forked it
// exits, not only the process (prctl(2) PR_SET_PDEATHSIG). A Go program's
// threads do exit: a goroutine that ends while locked to its thread takes
// the thread with it, which libraries do on purpose after switching
// namespaces (containernetworking's ns.Do, used by the port forwarder).
// A container forked from such a thread would be killed at a random
// moment. So every container is forked from one thread that stays locked
// for the life of the process.
var spawner struct {
	once sync.Once
	ch   chan func()
}

func onSpawnThread(fn func()) {
	spawner.once.Do(func() {
		spawner.ch = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawner.ch {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawner.ch <- func() {
		defer close(done)
		fn()
	}
	<-done
}
