package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Run creates a container, runs it in the foreground and returns its exit
// status. Signals this process receives are forwarded to the container.
// An error before the container's process ran leaves no container behind.
// The image must come from ResolveImage.
func (e *Engine) Run(ctx context.Context, img *storage.Image, o RunOptions) (int, error) {
	c, spec, rootfs, err := e.create(img, o)
	if err != nil {
		return 0, err
	}
	code, err := e.start(c, spec, rootfs, o)
	var execErr *run.ExecError
	if err != nil && !errors.As(err, &execErr) {
		// The process never ran (its network could not be set up, say):
		// leave nothing half-created behind.
		o.Remove = true
		err = &StartError{Code: monitor.StartFailureCode(err), Err: err}
	}
	if o.Remove {
		if rmErr := e.store.DeleteContainer(c.ID); rmErr != nil && err == nil {
			err = rmErr
		}
	} else if uerr := e.store.UnmountContainer(c.ID); uerr != nil && err == nil {
		err = uerr
	}
	return code, err
}

// start runs the container's process and waits for it.
func (e *Engine) start(c *container.Config, spec *specs.Spec, rootfs string, o RunOptions) (int, error) {
	runDir, err := e.store.ContainerRunDir(c.ID)
	if err != nil {
		return 0, err
	}
	ro := run.Options{Rootfs: rootfs, Spec: spec, Init: o.Init, Stdout: o.Stdout, Stderr: o.Stderr, Scratch: filepath.Join(runDir, "scratch"),
		Executable: runtimeExecutable()}
	if spec.Process.Terminal {
		ro.ConsoleSize = terminalSize(o.Stdin, o.Stdout)
	}
	if o.Interactive {
		ro.Stdin = o.Stdin
	}
	if c.Net.Mode == netns.ModeContainer {
		f, err := e.joinSharedNetNS(c, spec)
		if err != nil {
			return 125, err
		}
		defer f.Close()
	}
	// Catch signals before the container exists, so none is lost.
	sigs := make(chan os.Signal, 32)
	defer relaySignals(sigs)()

	started := time.Now().UTC()
	var network *monitor.Network
	ro.BeforeExec = func(pid int) (err error) {
		network, err = monitor.AttachNetwork(c, pid, runDir)
		return err
	}
	// A closure: network is set by BeforeExec, after this line.
	defer func() { network.Close() }()
	p, err := run.Start(ro)
	if err != nil {
		code := 125
		if errors.Is(err, run.ErrCommandNotFound) {
			code = 127
		} else if errors.Is(err, run.ErrCannotExecute) {
			code = 126
		}
		_ = e.saveState(c, &container.State{Status: container.StateExited, ExitCode: code, StartedAt: started, FinishedAt: time.Now().UTC()})
		return code, err
	}
	st := container.State{Status: container.StateRunning, Pid: p.Pid, MonitorPid: os.Getpid(), StartedAt: started}
	st.Ports = network.Ports()
	st.PidStart, _ = rootless.ProcessStartTime(p.Pid)
	st.MonitorStart, _ = rootless.ProcessStartTime(os.Getpid())
	if err := e.saveState(c, &st); err != nil {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
		return 0, err
	}

	var console *consoleIO
	if p.Console != nil {
		console = newConsoleIO(p.Console, o.Stdin, o.Stdout, o.Interactive)
		defer console.restore()
	}
	code, waitErr := waitForwarding(p, sigs, console)
	st.Status, st.ExitCode, st.FinishedAt = container.StateExited, code, time.Now().UTC()
	if err := e.saveState(c, &st); err != nil && waitErr == nil {
		waitErr = err
	}
	return code, waitErr
}

// forwardSignal is podman's sig-proxy: every signal ctr gets goes to the
// container, except those that concern ctr itself.
// waitForwarding waits for p while forwarding the signals that arrive on
// sigs to it (a window-size change resizes console instead), then drains
// console's last output. The foreground run and exec both end this way.
func waitForwarding(p *run.Process, sigs <-chan os.Signal, console *consoleIO) (int, error) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				forwardSignal(p, s, console)
			case <-done:
				return
			}
		}
	}()
	code, err := p.Wait()
	close(done)
	if console != nil {
		console.drain()
	}
	return code, err
}

func forwardSignal(p *run.Process, s os.Signal, console *consoleIO) {
	switch s {
	case syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG:
		return
	case syscall.SIGWINCH:
		if console != nil {
			console.resize()
		}
		return
	}
	_ = p.Signal(s)
}

// consoleIO copies between the user's terminal (or pipes) and the pty.
type consoleIO struct {
	master   *os.File
	stdin    *os.File
	oldState *term.State
	out      sync.WaitGroup
	once     sync.Once
}

func newConsoleIO(master, stdin *os.File, stdout io.Writer, interactive bool) *consoleIO {
	c := &consoleIO{master: master, stdin: stdin}
	if stdin != nil && term.IsTerminal(int(stdin.Fd())) {
		// Raw mode: keys, ^C included, go to the container's terminal.
		if st, err := term.MakeRaw(int(stdin.Fd())); err == nil {
			c.oldState = st
		}
	}
	c.resize()
	c.out.Go(func() {
		// EIO once every slave fd is closed: the container is gone.
		_, _ = io.Copy(stdout, master)
	})
	if interactive && stdin != nil {
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	return c
}

// terminalSize returns the size of the first file that is a terminal.
func terminalSize(files ...*os.File) *unix.Winsize {
	for _, f := range files {
		if f == nil {
			continue
		}
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			return ws
		}
	}
	return nil
}

// resize copies the user's terminal size to the pty.
func (c *consoleIO) resize() {
	for _, f := range []*os.File{c.stdin, os.Stdout} {
		if f == nil {
			continue
		}
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(c.master.Fd()), unix.TIOCSWINSZ, ws)
			return
		}
	}
}

// drain waits for the container's last output, bounded in case a
// process outside the container still holds the pty.
func (c *consoleIO) drain() {
	done := make(chan struct{})
	go func() { c.out.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// restore puts the user's terminal back as it was; safe to call twice.
func (c *consoleIO) restore() {
	c.once.Do(func() {
		if c.oldState != nil {
			_ = term.Restore(int(c.stdin.Fd()), c.oldState)
		}
		c.master.Close()
	})
}
