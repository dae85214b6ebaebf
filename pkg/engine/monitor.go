package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// monitorLog, in the container's run directory, receives the monitor's
// own diagnostics and those of the helpers it runs.
const monitorLog = "monitor.log"

// StartOptions configure Start.
type StartOptions struct {
	// Attach returns a connection attached before the process starts.
	Attach bool
}

// Start starts a created or exited container under a new monitor and
// returns once its process runs. With o.Attach it also returns an attach
// connection for AttachTo.
//
// This process mounts the container's root filesystem and starts the
// monitor (package monitor), which shares its mount namespace and so keeps
// the mount after this process exits; from then on the monitor owns it and
// has it unmounted when the container ends.
func (e *Engine) Start(nameOrID string, o StartOptions) (_ *Container, _ net.Conn, retErr error) {
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
	cfg := monitor.Config{ID: c.ID, WaitAttach: o.Attach}
	if cfg.Dir, err = e.store.ContainerDir(c.ID); err != nil {
		return nil, nil, err
	}
	if cfg.RunDir, err = e.store.ContainerRunDir(c.ID); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, nil, err
	}
	// A pasta left by a monitor that was killed would hold the ports.
	if err := monitor.StopStalePasta(cfg.RunDir); err != nil {
		return nil, nil, err
	}
	if c.Net.Mode == netns.ModeContainer {
		owner, err := e.networkOwner(c.Net)
		if err != nil {
			return nil, nil, err
		}
		if cfg.NetOwnerDir, err = e.store.ContainerDir(owner.ID); err != nil {
			return nil, nil, err
		}
	}
	if cfg.HelperStore, err = json.Marshal(e.store.Options()); err != nil {
		return nil, nil, err
	}
	// The ctr binary, for the monitor to run as monitor.HelperName. An
	// O_PATH handle suffices for execve, and reads nothing.
	self, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/proc/self/exe", Err: err}
	}
	helper := os.NewFile(uintptr(self), "ctr")
	defer helper.Close()

	if cfg.Rootfs, err = e.store.MountContainer(c.ID); err != nil {
		return nil, nil, err
	}
	monitorStarted := false
	defer func() {
		if retErr != nil && !monitorStarted {
			_ = e.store.UnmountContainer(c.ID)
		}
	}()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	parent, child := os.NewFile(uintptr(sp[0]), "monitor"), os.NewFile(uintptr(sp[1]), "monitor-child")
	defer parent.Close()
	diag, err := os.OpenFile(filepath.Join(cfg.RunDir, monitorLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		child.Close()
		return nil, nil, err
	}
	defer diag.Close()
	extra := []*os.File{child} // monitor.ControlFd
	// While this ctr runs, the monitor may reach the host side too (to
	// start pasta); it gets the host agent as fd 4.
	if agent := rootless.HostAgentFile(); agent != nil {
		defer agent.Close()
		extra = append(extra, agent)
	}
	extra = append(extra, helper)
	cfg.HelperFd = monitor.ControlFd + len(extra) - 1
	path, args := monitorCommand(c.ID)
	cmd := &exec.Cmd{
		Path:       path,
		Args:       args,
		Env:        monitor.Environ(os.Environ()),
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
	if err := json.NewEncoder(parent).Encode(cfg); err != nil {
		return nil, nil, fmt.Errorf("configure monitor: %w", err)
	}
	// The monitor has its configuration: it releases the root filesystem
	// however it ends.
	monitorStarted = true
	dec := json.NewDecoder(parent)
	failed := func() error {
		return fmt.Errorf("monitor of %s exited before starting it (see %s)", c.Name, filepath.Join(cfg.RunDir, monitorLog))
	}
	var conn net.Conn
	var reply monitor.Reply
	if err := dec.Decode(&reply); err != nil {
		return nil, nil, failed()
	}
	if reply.Listening {
		if conn, err = e.attachStreams(c.ID); err != nil {
			return nil, nil, err
		}
		reply = monitor.Reply{}
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
		case monitor.ReplyNotFound:
			return nil, nil, &run.ExecError{Err: run.ErrCommandNotFound, Msg: reply.Error}
		case monitor.ReplyCannotExec:
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

// monitorCommand returns the program and arguments of a container's
// monitor: the small ctr-monitor binary installed next to this one, or,
// when there is none (`go build ./cmd/ctr` alone), this binary re-executed
// as the monitor, which works the same at several times the memory.
func monitorCommand(id string) (string, []string) {
	args := []string{monitor.Name, id}
	path, err := monitorBinary()
	if err == nil {
		return path, args
	}
	logrus.Debugf("%s: %v; the container's monitor is ctr itself", monitor.Name, err)
	return "/proc/self/exe", args
}

// monitorBinary returns the path of the ctr-monitor binary next to this
// one, if there is an executable one.
func monitorBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), monitor.Name)
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", &os.PathError{Op: "exec", Path: path, Err: fs.ErrPermission}
	}
	return path, nil
}

// runtimeExecutable is the binary a container's init and an exec's
// joining process run from: ctr-monitor when installed, which links the
// runtime and little else, so it starts in about half the time of ctr;
// else ctr itself ("").
func runtimeExecutable() string {
	path, err := monitorBinary()
	if err != nil {
		return ""
	}
	return path
}

// AttachTo runs an attach session on a connection from Start.
func (e *Engine) AttachTo(ctx context.Context, c *Container, conn net.Conn, o AttachOptions) (int, error) {
	return e.attachConn(ctx, c, conn, o)
}

// StartError is a failure to start a container, with the exit status ctr
// reports for it (podman: 126 when a published port cannot be bound).
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }
