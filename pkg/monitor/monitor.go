package monitor

import (
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Name is argv[0] of a container's monitor. A binary that runs monitors
// dispatches it to Main.
const Name = "ctr-monitor"

// The monitor's fds, after stdio: ControlFd is a socket to the starting
// ctr, which sends the Config and reads the Replies; the host agent, when
// there is one, is fd 4 (package rootless expects it there); the ctr
// binary (Config.HelperFd) comes after.
const ControlFd = 3

// Config is what the starting ctr sends the monitor on ControlFd.
type Config struct {
	// ID is the container's ID.
	ID string `json:"id"`
	// Dir is the container's persistent directory (config, spec, state,
	// log); RunDir its run directory (attach socket, network helpers).
	Dir    string `json:"dir"`
	RunDir string `json:"runDir"`
	// Rootfs is the container's root filesystem, mounted by the starting
	// ctr in the mount namespace that the monitor shares.
	Rootfs string `json:"rootfs"`
	// NetOwnerDir is, for --network container:NAME, NAME's persistent
	// directory: every start joins the network namespace its state names.
	NetOwnerDir string `json:"netOwnerDir,omitempty"`
	// WaitAttach makes the monitor wait for the first attach client
	// before it starts the process, so no output is missed.
	WaitAttach bool `json:"waitAttach"`
	// HelperFd is the monitor's fd of the ctr binary, which it runs as
	// HelperName; HelperStore is what that needs to open the store,
	// passed through as it is.
	HelperFd    int             `json:"helperFd"`
	HelperStore json.RawMessage `json:"helperStore,omitempty"`
}

// Reply is the monitor's answer once the container runs (or not). With
// WaitAttach a first reply with Listening comes before.
type Reply struct {
	Listening bool   `json:"listening,omitempty"`
	Error     string `json:"error,omitempty"`
	Kind      string `json:"kind,omitempty"` // ReplyNotFound, ReplyCannotExec
	Code      int    `json:"code,omitempty"` // exit status for other failures
	Pid       int    `json:"pid,omitempty"`
}

// Reply kinds: the command was not found (exit 127) or cannot be executed
// (126).
const (
	ReplyNotFound   = "notfound"
	ReplyCannotExec = "cannotexec"
)

// StartFailureCode is the exit status ctr reports for a container that
// could not start: podman's 126 when a published port cannot be bound,
// else 125.
func StartFailureCode(err error) int {
	if errors.Is(err, netns.ErrPortInUse) {
		return 126
	}
	return 125
}

// Main is the monitor process. It does not return.
func Main() {
	ctl := os.NewFile(ControlFd, "control")
	var cfg Config
	if err := json.NewDecoder(ctl).Decode(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "monitor: read config:", err)
		os.Exit(1)
	}
	// Inherited fds are not close-on-exec: neither the container nor a
	// network helper may get a handle on the ctr binary. A high number
	// also keeps the fds 3, 4, ... that the helper gets from clobbering it
	// before the execve that uses it.
	if cfg.HelperFd > ControlFd {
		if fd, err := unix.FcntlInt(uintptr(cfg.HelperFd), unix.F_DUPFD_CLOEXEC, 100); err == nil {
			unix.Close(cfg.HelperFd)
			cfg.HelperFd = fd
		} else {
			unix.CloseOnExec(cfg.HelperFd)
		}
	}
	// Stray terminal-job signals must not kill the monitor.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU)
	m, err := newMonitor(cfg)
	if err == nil && cfg.WaitAttach {
		_ = json.NewEncoder(ctl).Encode(Reply{Listening: true})
		select {
		case <-m.attach.connected:
		case <-time.After(30 * time.Second):
		}
	}
	if err == nil {
		err = m.start()
	}
	reply := Reply{}
	if err != nil {
		reply.Error = err.Error()
		switch {
		case errors.Is(err, run.ErrCommandNotFound):
			reply.Kind = ReplyNotFound
		case errors.Is(err, run.ErrCannotExecute):
			reply.Kind = ReplyCannotExec
		default:
			reply.Code = StartFailureCode(err)
		}
	} else {
		reply.Pid = m.proc.Pid
	}
	_ = json.NewEncoder(ctl).Encode(reply)
	ctl.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		if m != nil {
			m.finish(err)
		} else if herr := runHelper(&cfg, HelperRequest{Op: HelperUnmount}); herr != nil {
			fmt.Fprintln(os.Stderr, "monitor:", herr)
		}
		os.Exit(1)
	}
	m.loop()
	os.Exit(0)
}

type monitor struct {
	cfg     Config
	c       *container.Config
	spec    *specs.Spec
	log     *container.LogWriter
	attach  *attachServer
	proc    *run.Process
	state   container.State
	network *Network

	mu    sync.Mutex // guards state against the healthcheck goroutine
	stdin io.WriteCloser
	out   sync.WaitGroup
}

func newMonitor(cfg Config) (*monitor, error) {
	c, err := container.ReadConfig(cfg.Dir)
	if err != nil {
		return nil, err
	}
	st, err := container.ReadState(cfg.Dir)
	if err != nil {
		return nil, err
	}
	m := &monitor{cfg: cfg, c: c, state: container.State{RestartCount: st.RestartCount}}
	if m.spec, err = container.ReadSpec(cfg.Dir); err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if m.log, err = container.OpenLog(cfg.Dir, c.LogMaxSize); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(cfg.Dir, container.StopMarker))
	if m.attach, err = listenAttach(cfg.RunDir); err != nil {
		return nil, err
	}
	m.attach.other = m.serveCopy
	go m.attach.serve()
	m.createCgroup()
	return m, nil
}

// saveState writes st as the container's state.
func (m *monitor) saveState(st *container.State) error {
	return container.WriteState(m.cfg.Dir, st, !m.c.Remove)
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
	ro := run.Options{Rootfs: m.cfg.Rootfs, Spec: m.spec, Init: m.c.Init, Scratch: filepath.Join(m.cfg.RunDir, "scratch"), CgroupDir: m.state.CgroupDir}
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
		f, err := m.joinNetOwner()
		if err != nil {
			m.state.Error = err.Error()
			return err
		}
		defer f.Close()
	}
	started := time.Now().UTC()
	ro.BeforeExec = func(pid int) (err error) {
		m.network, err = AttachNetwork(m.c, pid, m.cfg.RunDir)
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
		m.copyOut("stdout", p.Console, container.FrameStdout)
		m.setStdin(p.Console)
		m.attach.mu.Lock()
		m.attach.resize = func(rows, cols uint16) {
			_ = unix.IoctlSetWinsize(int(p.Console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		}
		m.attach.mu.Unlock()
	} else {
		m.copyOut("stdout", stdoutR, container.FrameStdout)
		m.copyOut("stderr", stderrR, container.FrameStderr)
	}
	m.mu.Lock()
	m.state.Status, m.state.Pid, m.state.StartedAt = container.StateRunning, p.Pid, started
	m.state.PidStart, _ = rootless.ProcessStartTime(p.Pid)
	m.state.MonitorPid = os.Getpid()
	m.state.MonitorStart, _ = rootless.ProcessStartTime(os.Getpid())
	m.state.ExitCode, m.state.Error, m.state.Ports = 0, "", m.network.Ports()
	if m.c.Health != nil {
		m.state.Health = &container.Health{Status: "starting"}
	}
	st := m.state
	m.mu.Unlock()
	return m.saveState(&st)
}

// joinNetOwner points the spec at the network namespace of the container
// this one shares (--network container:NAME), as that one's state names it
// now: NAME may have been restarted since.
func (m *monitor) joinNetOwner() (*os.File, error) {
	if m.cfg.NetOwnerDir == "" {
		return nil, fmt.Errorf("container %s shares a network namespace, and its monitor was not told whose", m.c.Name)
	}
	owner, err := container.ReadConfig(m.cfg.NetOwnerDir)
	if err != nil {
		return nil, fmt.Errorf("--network container:%s: %w", m.c.Net.Container, err)
	}
	st, err := container.ReadState(m.cfg.NetOwnerDir)
	if err != nil {
		return nil, fmt.Errorf("--network container:%s: %w", owner.Name, err)
	}
	return JoinNetNS(m.spec, m.c.Name, owner.Name, st)
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
				_ = m.log.Write(stream, buf[:n])
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
		m.state.Status, m.state.ExitCode, m.state.FinishedAt = container.StateExited, code, time.Now().UTC()
		st := m.state
		m.mu.Unlock()
		_ = m.saveState(&st)
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
	_, err := os.Stat(filepath.Join(m.cfg.Dir, container.StopMarker))
	return err == nil
}

func (m *monitor) shouldRestart(code int) bool {
	if m.stopped() {
		return false
	}
	return restartPolicyApplies(m.c.Restart, code, m.state.RestartCount)
}

// restartPolicyApplies says whether policy p restarts a container that
// exited with code after restarts restarts.
func restartPolicyApplies(p container.RestartPolicy, code, restarts int) bool {
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// finish tells attached clients the status, releases the root filesystem
// and removes a --rm container.
func (m *monitor) finish(startErr error) {
	if startErr != nil {
		m.mu.Lock()
		m.state.Status, m.state.FinishedAt, m.state.Error = container.StateExited, time.Now().UTC(), startErr.Error()
		m.state.ExitCode = 125
		switch {
		case errors.Is(startErr, run.ErrCommandNotFound):
			m.state.ExitCode = 127
		case errors.Is(startErr, run.ErrCannotExecute):
			m.state.ExitCode = 126
		}
		st := m.state
		m.mu.Unlock()
		_ = m.saveState(&st)
	}
	status := make([]byte, 4)
	binary.BigEndian.PutUint32(status, uint32(int32(m.state.ExitCode)))
	m.attach.broadcast(container.FrameExit, status)
	m.attach.close()
	m.log.Close()
	m.removeCgroup()
	op := HelperUnmount
	if m.c.Remove {
		op = HelperRemove
	}
	if err := runHelper(&m.cfg, HelperRequest{Op: op}); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
	}
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
func (m *monitor) watchNetwork(h *Network, exited <-chan struct{}) {
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
	_ = m.saveState(&st)
}

// serveCopy hands a copy client (ctr cp to or from the running
// container) to the ctr binary, which does the copy chrooted into the
// root filesystem with storage's archiver, in this mount namespace.
func (m *monitor) serveCopy(conn net.Conn, typ byte, payload []byte) {
	if typ != container.FrameCopyIn && typ != container.FrameCopyOut {
		return
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return
	}
	f, err := uc.File()
	if err != nil {
		_ = container.WriteFrame(conn, container.FrameError, []byte(err.Error()))
		return
	}
	defer f.Close()
	err = runHelper(&m.cfg, HelperRequest{Op: HelperCopy, Rootfs: m.cfg.Rootfs, Frame: typ, Payload: payload}, f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			// It never ran, so it could not answer.
			_ = container.WriteFrame(conn, container.FrameError, []byte(err.Error()))
		}
	}
}

// Environ returns the environment to start a monitor with, given the
// starting ctr's: the same, with the Go runtime told not to back its heap
// with transparent huge pages (GODEBUG=disablethp=1, go.dev/issue/64332).
// Where THP is "always", a common kernel default, the first touch of each
// 2 MiB of heap faults in a whole huge page, so an idle monitor with well
// under 1 MiB of live heap would hold 4-6 MiB. A disablethp the user set
// comes later in GODEBUG and wins. The container does not inherit it: its
// init and exec'd processes get environments of their own.
func Environ(environ []string) []string {
	const setting = "disablethp=1"
	out := make([]string, 0, len(environ)+1)
	found := false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			found = true
			if v != "" {
				kv = "GODEBUG=" + setting + "," + v
			} else {
				kv = "GODEBUG=" + setting
			}
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GODEBUG="+setting)
	}
	return out
}
