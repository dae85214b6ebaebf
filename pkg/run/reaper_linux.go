package run

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctr-project/ctr/pkg/run/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// reap is --init: this process stays PID 1, runs the command as its child,
// forwards every signal to it, reaps orphans re-parented to it, and exits
// with the command's status. It drops to the container's user,
// capabilities and seccomp filter itself first, on the locked thread the
// child is forked from, so the child inherits exactly those.
func reap(spec *specs.Spec, filter *seccomp.Filter) error {
	path, err := finalize(spec.Process, filter)
	if err != nil {
		return err
	}
	if err := rearmParentDeath(); err != nil {
		return err
	}
	// Catch everything before the child exists, so nothing is lost.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(path, spec.Process.Args, &syscall.ProcAttr{
		Env:   spec.Process.Env,
		Files: []uintptr{0, 1, 2},
		// The child becomes its own session leader on the terminal we
		// hold, so job control and ^C work as without --init.
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: spec.Process.Terminal, Ctty: 0},
	})
	if err != nil {
		return execError(spec.Process.Args[0], err)
	}
	// The command runs: close the status socket so the parent knows.
	unix.Close(statusFd)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			if status, done := reapChildren(pid); done {
				os.Exit(status)
			}
			continue
		}
		_ = syscall.Kill(pid, s.(syscall.Signal))
	}
	return errors.New("signal channel closed")
}

// reapChildren collects every exited child; done reports that pid, the
// command, has exited, with its status.
func reapChildren(pid int) (status int, done bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return status, done
		}
		if got == pid {
			done = true
			status = ws.ExitStatus()
			if ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
		}
	}
}
