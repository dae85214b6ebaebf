package monitor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// healthLogSize is how many results Health.Log keeps (podman keeps 5).
const healthLogSize = 5

// startHealthchecks runs the container's healthcheck every interval
// until the returned function is called. Results go to the state:
// "starting" until the first success (failures during the start period
// do not count), "healthy", or "unhealthy" after Retries consecutive
// failures.
func (m *monitor) startHealthchecks() (stop func()) {
	h := m.c.Health
	if h == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(h.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			m.healthcheck(ctx, h)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func (m *monitor) healthcheck(ctx context.Context, h *container.HealthConfig) {
	m.mu.Lock()
	pid, started, running := m.state.Pid, m.state.StartedAt, m.state.Status == container.StateRunning
	m.mu.Unlock()
	if !running {
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now().UTC()
	code, out, err := execForHealth(cctx, m.spec, pid, h.Test)
	if ctx.Err() != nil {
		return // stopping
	}
	if err != nil {
		code, out = 1, err.Error()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state.Pid != pid || m.state.Health == nil {
		return // restarted meanwhile
	}
	hs := m.state.Health
	hs.Log = append(hs.Log, container.HealthLog{Start: start, End: time.Now().UTC(), ExitCode: code, Output: strings.TrimSpace(out)})
	if len(hs.Log) > healthLogSize {
		hs.Log = hs.Log[len(hs.Log)-healthLogSize:]
	}
	switch {
	case code == 0:
		hs.Status, hs.FailingStreak = "healthy", 0
	case time.Since(started) < h.StartPeriod:
		// Failures while the service starts do not count.
	default:
		hs.FailingStreak++
		if hs.FailingStreak >= h.Retries {
			hs.Status = "unhealthy"
		}
	}
	st := m.state
	_ = m.saveState(&st)
}

// execForHealth runs a healthcheck command in the container (the monitor
// shares its user namespace, so it may join it) as the container's own
// process would run, and returns its status and output.
func execForHealth(ctx context.Context, spec *specs.Spec, pid int, args []string) (int, string, error) {
	if len(args) == 0 {
		return -1, "", errors.New("healthcheck has no command")
	}
	p := *spec.Process
	p.Args, p.Terminal, p.Env = args, false, slices.Clone(spec.Process.Env)
	r, w, err := os.Pipe()
	if err != nil {
		return -1, "", err
	}
	defer r.Close()
	eo := run.ExecOptions{Pid: pid, Process: &p, Stdout: w, Stderr: w}
	if spec.Linux != nil {
		eo.Seccomp = spec.Linux.Seccomp
	}
	proc, err := run.Exec(eo)
	w.Close()
	if err != nil {
		return -1, "", err
	}
	out := make(chan string, 1)
	go func() {
		// Keep the first 4 KiB; read the rest so the command never blocks.
		var buf bytes.Buffer
		_, _ = io.Copy(&capped{w: &buf, left: 4096}, r)
		out <- buf.String()
	}()
	exited := make(chan int, 1)
	go func() {
		code, _ := proc.Wait()
		exited <- code
	}()
	select {
	case code := <-exited:
		return code, <-out, nil
	case <-ctx.Done():
		_ = proc.Signal(syscall.SIGKILL)
		<-exited
		return -1, "", errors.New("healthcheck timed out")
	}
}

// capped writes at most left bytes to w and swallows the rest.
type capped struct {
	w    io.Writer
	left int
}

func (c *capped) Write(b []byte) (int, error) {
	n := len(b)
	if c.left > 0 {
		k := min(c.left, len(b))
		_, _ = c.w.Write(b[:k])
		c.left -= k
	}
	return n, nil
}
