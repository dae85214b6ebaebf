package engine

import (
	"context"
	"strings"
	"time"
)

// healthLogSize is how many results Health.Log keeps (podman keeps 5).
const healthLogSize = 5

// startHealthchecks runs the container's healthcheck every interval, from
// the monitor, until the returned function is called. Results go to the
// state: "starting" until the first success (failures during the start
// period do not count), "healthy", or "unhealthy" after Retries
// consecutive failures.
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

func (m *monitor) healthcheck(ctx context.Context, h *HealthConfig) {
	m.mu.Lock()
	pid, started, running := m.state.Pid, m.state.StartedAt, m.state.Status == StateRunning
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
	hs.Log = append(hs.Log, HealthLog{Start: start, End: time.Now().UTC(), ExitCode: code, Output: strings.TrimSpace(out)})
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
	_ = m.e.saveState(m.c.ID, &st)
}
