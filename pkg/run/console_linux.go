package run

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setupConsole makes the process a session leader and, when a terminal is
// asked for, creates a pty in the container's own devpts, gives the master
// to the parent over the status socket and makes the slave the controlling
// terminal and stdio.
//
// setsid happens in every case: a process left in the caller's session
// could open /dev/tty, reach the user's terminal and inject input into it
// with TIOCSTI.
//
// With takeCtty false (--init) the pty is not made this process's
// controlling terminal: the command, in its own session, takes it.
func setupConsole(terminal, takeCtty bool) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if !terminal {
		return nil
	}
	pty, err := openPty()
	if err != nil {
		return err
	}
	defer pty.close()
	// /dev/console is the pty too, as in runc and podman.
	if fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Close(fd)
		_ = unix.Mount(pty.slavePath, "/dev/console", "", unix.MS_BIND, "")
	}
	return pty.attach(takeCtty)
}

// setupExecConsole is setupConsole for a process exec'd into a running
// container: the same session and pty, but /dev/console stays the
// container's (a process joining the container must not change its mounts).
func setupExecConsole(terminal bool) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if !terminal {
		return nil
	}
	pty, err := openPty()
	if err != nil {
		return err
	}
	defer pty.close()
	return pty.attach(true)
}

type pty struct {
	master, slave int
	slavePath     string
}

// openPty opens a new pty through /dev/ptmx, which in the container is its
// own devpts instance (newinstance): the pty belongs to the container.
func openPty() (*pty, error) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(master)
		return nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		unix.Close(master)
		return nil, fmt.Errorf("pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		unix.Close(master)
		return nil, &os.PathError{Op: "open", Path: slavePath, Err: err}
	}
	return &pty{master: master, slave: slave, slavePath: slavePath}, nil
}

// attach sends the master to the parent and makes the slave stdio (and,
// with takeCtty, the controlling terminal).
func (p *pty) attach(takeCtty bool) error {
	if err := sendStatus(statusFd, statusMessage{Kind: "console"}, p.master); err != nil {
		return fmt.Errorf("send console to the parent: %w", err)
	}
	if takeCtty {
		if err := unix.IoctlSetInt(p.slave, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("set controlling terminal: %w", err)
		}
	}
	for fd := range 3 {
		if err := unix.Dup3(p.slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	return nil
}

// close drops this process's extra handles: the parent has the master, and
// stdio the slave.
func (p *pty) close() {
	unix.Close(p.master)
	if p.slave > 2 {
		unix.Close(p.slave)
	}
}
