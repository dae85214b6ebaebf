package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/rootless"
	"golang.org/x/sys/unix"
)

// Kill sends sig to a running container's init. It is sent by the
// host-side ctr process (rootless.SignalFromHost): a sibling user namespace
// may not signal a container process that runs as a non-root user.
func (r *Reader) Kill(nameOrID string, sig syscall.Signal) (*Container, error) {
	c, err := r.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return c, fmt.Errorf("%w: %s", container.ErrNotRunning, c.Name)
	}
	if err := rootless.SignalFromHost(c.State.Pid, c.State.PidStart, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return c, fmt.Errorf("kill %s: %w", c.Name, err)
	}
	return c, nil
}

// Stop stops a running container: its stop signal, then SIGKILL after
// timeout (nil: the container's stop timeout). PID 1 ignores signals it has
// no handler for, so SIGKILL is often what ends it. A stopped container is
// not restarted by its restart policy.
func (r *Reader) Stop(ctx context.Context, nameOrID string, timeout *time.Duration) (*Container, error) {
	c, err := r.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if err := c.markStopped(); err != nil {
		return nil, err
	}
	if !c.Running() {
		return c, nil
	}
	sig, err := ParseSignal(c.StopSignal)
	if err != nil {
		sig = syscall.SIGTERM
	}
	wait := time.Duration(c.StopTimeout) * time.Second
	if timeout != nil {
		wait = *timeout
	}
	if err := rootless.SignalFromHost(c.State.Pid, c.State.PidStart, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return c, fmt.Errorf("stop %s: %w", c.Name, err)
	}
	if r.waitExit(ctx, c, wait) {
		return r.Container(c.ID)
	}
	if err := rootless.SignalFromHost(c.State.Pid, c.State.PidStart, syscall.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return c, fmt.Errorf("stop %s: %w", c.Name, err)
	}
	r.waitExit(ctx, c, 30*time.Second)
	return r.Container(c.ID)
}

// markStopped leaves the marker that tells c's monitor not to restart it.
func (c *Container) markStopped() error {
	f, err := os.OpenFile(filepath.Join(c.dir, container.StopMarker), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// waitExit waits until the container's process has exited and its
// monitor recorded it, or timeout; it reports whether it did.
func (r *Reader) waitExit(ctx context.Context, c *Container, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		cur, err := r.Container(c.ID)
		if err != nil || !cur.Running() || cur.State.Pid != c.State.Pid {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Wait blocks until the container is not running (and not about to be
// restarted) and returns its exit status.
func (r *Reader) Wait(ctx context.Context, nameOrID string) (int, error) {
	c, err := r.Container(nameOrID)
	if err != nil {
		return 0, err
	}
	for {
		cur, err := r.Container(c.ID)
		if err != nil {
			// Removed (--rm) after it exited: the last status we saw.
			if c.State.Status == container.StateExited {
				return c.State.ExitCode, nil
			}
			return -1, err
		}
		c = cur
		// With a restart policy the monitor lives on between runs.
		if c.State.Status != container.StateRunning && !container.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			return c.State.ExitCode, nil
		}
		if c.State.Status == container.StateCreated {
			return 0, fmt.Errorf("%w: %s was never started", container.ErrNotRunning, c.Name)
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Restart stops a container (if running) and starts it again.
func (e *Engine) Restart(ctx context.Context, nameOrID string, timeout *time.Duration) (*Container, error) {
	c, err := e.Stop(ctx, nameOrID, timeout)
	if err != nil {
		return nil, err
	}
	// The monitor of the stopped run must be gone before a new one starts.
	waitGone(c.State.MonitorPid, c.State.MonitorStart, 30*time.Second)
	c, _, err = e.Start(c.ID, StartOptions{})
	return c, err
}

// Rename changes a container's name.
func (e *Engine) Rename(nameOrID, newName string) error {
	c, err := e.Container(nameOrID)
	if err != nil {
		return err
	}
	if err := e.store.RenameContainer(c.ID, newName); err != nil {
		return err
	}
	c.Config.Name = newName
	return e.saveConfig(&c.Config)
}

// Prune removes every container that is not running and returns their IDs.
func (e *Engine) Prune() ([]string, error) {
	cs, err := e.Containers()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range cs {
		if c.Running() {
			continue
		}
		if err := e.store.DeleteContainer(c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}

// ErrNoCgroup is returned by Pause and Unpause for a container that has no
// cgroup of its own: the user has no delegated cgroup v2 subtree.
var ErrNoCgroup = errors.New("container has no cgroup")

// ErrWrongState is podman's "container state improper": pausing a paused
// container, unpausing a running one.
var ErrWrongState = errors.New("container state improper")

// Pause freezes every process of a running container with the cgroup v2
// freezer (pause true) or thaws them (false). It needs the container's own
// cgroup, which the monitor creates only under a delegated subtree.
func (e *Engine) Pause(nameOrID string, pause bool) (*Container, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return c, fmt.Errorf("%w: %s", container.ErrNotRunning, c.Name)
	}
	if c.State.CgroupDir == "" {
		why := c.State.CgroupError
		if why == "" {
			why = "it was started in the foreground"
		}
		return c, fmt.Errorf("%s: %w for the cgroup v2 freezer (%s); to fix: %s", c.Name, ErrNoCgroup, why, cgroups.Fix)
	}
	if paused := c.Paused(); paused == pause {
		state := "paused"
		if !pause {
			state = "not paused"
		}
		return c, fmt.Errorf("%w: %s is %s", ErrWrongState, c.Name, state)
	}
	if err := cgroups.SetFrozen(c.State.CgroupDir, pause); err != nil {
		return c, err
	}
	return c, nil
}
