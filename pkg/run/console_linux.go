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
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: slavePath, Err: err}
	}
	// /dev/console is the pty too, as in runc and podman.
	if fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Close(fd)
		_ = unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, "")
	}
	if err := sendStatus(statusFd, statusMessage{Kind: "console"}, master); err != nil {
		return fmt.Errorf("send console to the parent: %w", err)
	}
	if takeCtty {
		if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("set controlling terminal: %w", err)
		}
	}
	for fd := range 3 {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	return nil
}
