package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MonitorName is argv[0] of a container's monitor, the one process that
// stays alive for a detached container (podman's conmon). The caller
// registers MonitorMain under this name with its re-exec dispatcher.
//
// The monitor is the parent of the container's init: it keeps the exit
// status, writes the log, serves attach clients, applies the restart
// policy, runs healthchecks and removes --rm containers. It runs in the
// user namespace of the ctr invocation that started it, in its own session
// (no controlling terminal, immune to the terminal's hangup), and outlives
// that invocation. If it is killed, the container dies with it (the init
// has Pdeathsig) and later commands read the container as exited.
const MonitorName = "ctr-monitor"

// monitorConfig is what the starting ctr sends the monitor on fd 3.
type monitorConfig struct {
	Store storage.Options `json:"store"`
	Mode  rootless.Mode   `json:"mode"`
	ID    string          `json:"id"`
	// WaitAttach makes the monitor wait for the first attach client
	// before it starts the process, so no output is missed.
	WaitAttach bool `json:"waitAttach"`
}

// monitorReply is the monitor's answer once the container runs (or not).
// With WaitAttach a first reply with Listening comes before.
type monitorReply struct {
	Listening bool   `json:"listening,omitempty"`
	Error     string `json:"error,omitempty"`
	Kind      string `json:"kind,omitempty"` // notfound, cannotexec (exit 127, 126)
	Code      int    `json:"code,omitempty"` // exit status for other failures
	Pid       int    `json:"pid,omitempty"`
}

// stopMarker in the container's directory tells the monitor the user
// stopped the container, so the restart policy does not apply.
const stopMarker = "ctr-stopped"

// StartOptions configure Start.
type StartOptions struct {
	// Attach returns a connection attached before the process starts.
	Attach bool
}

// Start starts a created or exited container under a new monitor and
// returns once its process runs. With o.Attach it also returns an attach
// connection for AttachTo.
func (e *Engine) Start(nameOrID string, o StartOptions) (*Container, net.Conn, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return nil, nil, err
	}
	if c.Running() {
		if !o.Attach {
			return c, nil, nil // podman: starting a running container is a no-op
		}
		conn, err := e.attachStreams(c.ID)
		return c, conn, err
	}
	if err := e.EnterNetworkOwner(c.Net); err != nil {
		return c, nil, err
	}
	runDir, err := e.store.ContainerRunDir(c.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, nil, err
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	parent, child := os.NewFile(uintptr(sp[0]), "monitor"), os.NewFile(uintptr(sp[1]), "monitor-child")
	defer parent.Close()
	diag, err := os.OpenFile(filepath.Join(runDir, "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		child.Close()
		return nil, nil, err
	}
	defer diag.Close()
	extra := []*os.File{child}
	// While this ctr runs, the monitor may reach the host side too (to
	// start pasta); it gets the host agent as fd 4.
	if agent := rootless.HostAgentFile(); agent != nil {
		defer agent.Close()
		extra = append(extra, agent)
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{MonitorName, c.ID},
		Stdout:     diag,
		Stderr:     diag,
		ExtraFiles: extra,
		Dir:        "/",
		// Its own session: no controlling terminal, so a hangup of the
		// user's terminal does not reach it.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	child.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("start monitor: %w", err)
	}
	// Not waited for: it outlives this process and is reaped by init.
	defer cmd.Process.Release()
	if err := json.NewEncoder(parent).Encode(monitorConfig{Store: e.store.Options(), Mode: e.mode, ID: c.ID, WaitAttach: o.Attach}); err != nil {
		return nil, nil, fmt.Errorf("configure monitor: %w", err)
	}
	dec := json.NewDecoder(parent)
	failed := func() error {
		return fmt.Errorf("monitor of %s exited before starting it (see %s)", c.Name, filepath.Join(runDir, "monitor.log"))
	}
	var conn net.Conn
	var reply monitorReply
	if err := dec.Decode(&reply); err != nil {
		return nil, nil, failed()
	}
	if reply.Listening {
		if conn, err = e.attachStreams(c.ID); err != nil {
			return nil, nil, err
		}
		reply = monitorReply{}
		if err := dec.Decode(&reply); err != nil {
			conn.Close()
			return nil, nil, failed()
		}
	}
	if reply.Error != "" {
		if conn != nil {
			conn.Close()
		}
		switch reply.Kind {
		case "notfound":
			return nil, nil, &run.ExecError{Err: run.ErrCommandNotFound, Msg: reply.Error}
		case "cannotexec":
			return nil, nil, &run.ExecError{Err: run.ErrCannotExecute, Msg: reply.Error}
		}
		return nil, nil, &StartError{Code: reply.Code, Err: errors.New(reply.Error)}
	}
	c, err = e.Container(c.ID)
	if err != nil && conn != nil {
		conn.Close()
	}
	return c, conn, err
}

// AttachTo runs an attach session on a connection from Start.
func (e *Engine) AttachTo(ctx context.Context, c *Container, conn net.Conn, o AttachOptions) (int, error) {
	return e.attachConn(ctx, c, conn, o)
}

// MonitorMain is the monitor process. It does not return.
func MonitorMain() {
	ctl := os.NewFile(3, "control")
	var cfg monitorConfig
	if err := json.NewDecoder(ctl).Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "monitor: read config:", err)
		os.Exit(1)
	}
	// Stray terminal-job signals must not kill the monitor.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU)
	m, err := newMonitor(cfg)
	if err == nil && cfg.WaitAttach {
		_ = json.NewEncoder(ctl).Encode(monitorReply{Listening: true})
		select {
		case <-m.attach.connected:
		case <-time.After(30 * time.Second):
		}
	}
	if err == nil {
		err = m.start()
	}
	reply := monitorReply{}
	if err != nil {
		reply.Error = err.Error()
		switch {
		case errors.Is(err, run.ErrCommandNotFound):
			reply.Kind = "notfound"
		case errors.Is(err, run.ErrCannotExecute):
			reply.Kind = "cannotexec"
		default:
			reply.Code = startFailureCode(err)
		}
	} else {
		reply.Pid = m.proc.Pid
	}
	_ = json.NewEncoder(ctl).Encode(reply)
	ctl.Close()
	if err != nil {
		if m != nil {
			m.finish(err)
		}
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(1)
	}
	m.loop()
	os.Exit(0)
}

type monitor struct {
	e       *Engine
	c       *Container
	spec    *specs.Spec
	rootfs  string
	runDir  string
	log     *logWriter
	attach  *attachServer
	proc    *run.Process
	state   State
	network *netHandle

	mu    sync.Mutex // guards state against the healthcheck goroutine
	stdin io.WriteCloser
	out   sync.WaitGroup
}

func newMonitor(cfg monitorConfig) (*monitor, error) {
	store, err := storage.Open(cfg.Store)
	if err != nil {
		return nil, err
	}
	e, err := New(store, cfg.Mode)
	if err != nil {
		return nil, err
	}
	c, err := e.Container(cfg.ID)
	if err != nil {
		return nil, err
	}
	m := &monitor{e: e, c: c, state: State{RestartCount: c.State.RestartCount}}
	b, err := store.ReadContainerFile(c.ID, specFile)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if err := json.Unmarshal(b, &m.spec); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	if m.runDir, err = store.ContainerRunDir(c.ID); err != nil {
		return nil, err
	}
	dir, err := store.ContainerDir(c.ID)
	if err != nil {
		return nil, err
	}
	if m.log, err = openLog(dir, c.LogMaxSize); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(dir, stopMarker))
	if m.rootfs, err = store.MountContainer(c.ID); err != nil {
		return nil, err
	}
	if m.attach, err = listenAttach(m.runDir); err != nil {
		return nil, err
	}
	m.attach.other = func(conn net.Conn, typ byte, payload []byte) {
		switch typ {
		case frameCopyIn, frameCopyOut:
			m.serveCopy(conn, typ, payload)
		}
	}
	go m.attach.serve()
	m.createCgroup()
	return m, nil
}

// createCgroup gives the container a cgroup of its own when the user has
// a delegated cgroup v2 subtree, so that it can be paused; without one it
// records why not, for pause to report. Restarts reuse the cgroup.
func (m *monitor) createCgroup() {
	own, err := cgroups.OwnCgroup()
	if err == nil {
		m.state.CgroupDir, err = cgroups.Create(own, "ctr-"+m.c.ID)
	}
	if err != nil {
		m.state.CgroupError = err.Error()
	}
}

// start runs the container's process once, wiring its output to the log
// and attach clients.
func (m *monitor) start() error {
	ro := run.Options{Rootfs: m.rootfs, Spec: m.spec, Init: m.c.Init, Scratch: filepath.Join(m.runDir, "scratch"), CgroupDir: m.state.CgroupDir}
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	var stdoutR, stderrR *os.File
	if !m.spec.Process.Terminal {
		var err error
		var w1, w2 *os.File
		if stdoutR, w1, err = os.Pipe(); err != nil {
			return err
		}
		if stderrR, w2, err = os.Pipe(); err != nil {
			return err
		}
		closers = append(closers, w1, w2)
		ro.Stdout, ro.Stderr = w1, w2
		if m.c.Interactive {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			closers = append(closers, r)
			ro.Stdin = r
			m.setStdin(w)
		}
	}
	if m.c.Net.Mode == netns.ModeContainer {
		f, err := m.e.joinSharedNetNS(&m.c.Config, m.spec)
		if err != nil {
			m.state.Error = err.Error()
			return err
		}
		defer f.Close()
	}
	started := time.Now().UTC()
	ro.BeforeExec = func(pid int) (err error) {
		m.network, err = attachNetwork(&m.c.Config, pid, m.runDir)
		return err
	}
	p, err := run.Start(ro)
	if err != nil {
		m.network.Close()
		m.network = nil
		if stdoutR != nil {
			stdoutR.Close()
			stderrR.Close()
		}
		m.state.Error = err.Error()
		return err
	}
	m.proc = p
	if p.Console != nil {
		m.copyOut("stdout", p.Console, frameStdout)
		m.setStdin(p.Console)
		m.attach.mu.Lock()
		m.attach.resize = func(rows, cols uint16) {
			_ = unix.IoctlSetWinsize(int(p.Console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		}
		m.attach.mu.Unlock()
	} else {
		m.copyOut("stdout", stdoutR, frameStdout)
		m.copyOut("stderr", stderrR, frameStderr)
	}
	m.mu.Lock()
	m.state.Status, m.state.Pid, m.state.StartedAt = StateRunning, p.Pid, started
	m.state.PidStart, _ = rootless.ProcessStartTime(p.Pid)
	m.state.MonitorPid = os.Getpid()
	m.state.MonitorStart, _ = rootless.ProcessStartTime(os.Getpid())
	m.state.ExitCode, m.state.Error, m.state.Ports = 0, "", m.network.published()
	if m.c.Health != nil {
		m.state.Health = &Health{Status: "starting"}
	}
	st := m.state
	m.mu.Unlock()
	return m.e.saveState(m.c.ID, &st)
}

// setStdin makes w where attach clients' input goes.
func (m *monitor) setStdin(w io.WriteCloser) {
	m.attach.mu.Lock()
	defer m.attach.mu.Unlock()
	m.stdin = w
	m.attach.input = func(b []byte) error { _, err := w.Write(b); return err }
	m.attach.closeIn = func() {
		if f, ok := w.(*os.File); ok && f.Name() == "console" {
			_, _ = w.Write([]byte{4}) // ^D: a pty has no half-close
			return
		}
		w.Close()
	}
}

func (m *monitor) copyOut(stream string, r *os.File, frame byte) {
	m.out.Go(func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				_ = m.log.write(stream, buf[:n])
				m.attach.broadcast(frame, buf[:n])
			}
			if err != nil {
				if r.Name() != "console" {
					r.Close()
				}
				return
			}
		}
	})
}

// loop waits for the container, restarting it as its policy says.
func (m *monitor) loop() {
	stopHealth := m.startHealthchecks()
	for {
		exited := make(chan struct{})
		go m.watchNetwork(m.network, exited)
		code, err := m.proc.Wait()
		close(exited)
		m.network.Close()
		m.out.Wait() // the last output, then the exit
		if m.stdin != nil {
			m.stdin.Close()
		}
		if err != nil {
			code = -1
		}
		m.mu.Lock()
		m.state.Status, m.state.ExitCode, m.state.FinishedAt = StateExited, code, time.Now().UTC()
		st := m.state
		m.mu.Unlock()
		_ = m.e.saveState(m.c.ID, &st)
		if !m.shouldRestart(code) {
			break
		}
		m.state.RestartCount++
		time.Sleep(restartBackoff(m.state.RestartCount))
		if m.stopped() {
			break
		}
		if err := m.start(); err != nil {
			m.finish(err)
			stopHealth()
			return
		}
	}
	stopHealth()
	m.finish(nil)
}

// restartBackoff waits 100 ms, 200 ms, 400 ms ... up to 30 s between
// restarts, so a crash loop does not spin.
func restartBackoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 9)
	return min(d, 30*time.Second)
}

func (m *monitor) stopped() bool {
	dir, err := m.e.store.ContainerDir(m.c.ID)
	if err != nil {
		return true
	}
	_, err = os.Stat(filepath.Join(dir, stopMarker))
	return err == nil
}

func (m *monitor) shouldRestart(code int) bool {
	if m.stopped() {
		return false
	}
	p := m.c.Restart
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || m.state.RestartCount < p.MaxRetries)
	}
	return false
}

// finish tells attached clients the status, releases the rootfs and
// removes a --rm container.
func (m *monitor) finish(startErr error) {
	if startErr != nil {
		m.mu.Lock()
		m.state.Status, m.state.FinishedAt, m.state.Error = StateExited, time.Now().UTC(), startErr.Error()
		m.state.ExitCode = 125
		switch {
		case errors.Is(startErr, run.ErrCommandNotFound):
			m.state.ExitCode = 127
		case errors.Is(startErr, run.ErrCannotExecute):
			m.state.ExitCode = 126
		}
		st := m.state
		m.mu.Unlock()
		_ = m.e.saveState(m.c.ID, &st)
	}
	status := make([]byte, 4)
	binary.BigEndian.PutUint32(status, uint32(int32(m.state.ExitCode)))
	m.attach.broadcast(frameExit, status)
	m.attach.close()
	m.log.Close()
	m.removeCgroup()
	if m.c.Remove {
		_ = m.e.store.DeleteContainer(m.c.ID)
	} else {
		_ = m.e.store.UnmountContainer(m.c.ID)
	}
	_ = m.e.store.Close()
}

// removeCgroup deletes the container's cgroup once its processes are
// gone: the kernel empties it just after the init's exit is reported.
func (m *monitor) removeCgroup() {
	if m.state.CgroupDir == "" {
		return
	}
	for range 100 {
		if cgroups.Remove(m.state.CgroupDir) == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchNetwork records in the state that the network helper died while
// the container ran (ps and inspect then say so).
func (m *monitor) watchNetwork(h *netHandle, exited <-chan struct{}) {
	died := h.helperDied()
	if died == nil {
		return
	}
	select {
	case <-exited:
		return // the container stopped first: the helper follows it
	case <-died:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.Error = "network helper slirp4netns exited: the container has lost its network"
	st := m.state
	_ = m.e.saveState(m.c.ID, &st)
}

// StartError is a failure to start a container, with the exit status ctr
// reports for it (podman: 126 when a published port cannot be bound).
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

func startFailureCode(err error) int {
	if errors.Is(err, netns.ErrPortInUse) {
		return 126
	}
	return 125
}
