package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctr-project/ctr/pkg/container"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ErrDetached is returned by Attach when the user typed the detach keys.
var ErrDetached = errors.New("detached")

// DefaultDetachKeys are podman's: ctrl-p, ctrl-q.
var DefaultDetachKeys = []byte{0x10, 0x11}

// AttachOptions configure Attach.
type AttachOptions struct {
	// Stdin is forwarded to the container when not nil.
	Stdin          *os.File
	Stdout, Stderr io.Writer
	// DetachKeys end the attachment without stopping the container
	// (only read from a terminal); nil means DefaultDetachKeys.
	DetachKeys []byte
}

// dialAttach connects to the monitor's attach socket.
func (e *Engine) dialAttach(id string) (net.Conn, error) {
	runDir, err := e.store.ContainerRunDir(id)
	if err != nil {
		return nil, err
	}
	path, done, err := container.SocketPath(runDir, container.AttachSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return conn, nil
}

// attachStreams connects as an attach client.
func (e *Engine) attachStreams(id string) (net.Conn, error) {
	conn, err := e.dialAttach(id)
	if err != nil {
		return nil, err
	}
	if err := container.WriteFrame(conn, container.FrameAttach, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Attach connects the caller's streams to a running container and returns
// its exit status when it exits. Signals the caller receives are forwarded
// to the container (podman's sig-proxy).
func (e *Engine) Attach(ctx context.Context, nameOrID string, o AttachOptions) (int, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return -1, err
	}
	if !c.Running() {
		return -1, fmt.Errorf("%w: %s", container.ErrNotRunning, c.Name)
	}
	conn, err := e.attachStreams(c.ID)
	if err != nil {
		return -1, err
	}
	return e.attachConn(ctx, c, conn, o)
}

// attachConn runs an attach session on an open connection.
func (e *Engine) attachConn(ctx context.Context, c *Container, conn net.Conn, o AttachOptions) (int, error) {
	defer conn.Close()
	tty := c.Terminal && o.Stdin != nil && term.IsTerminal(int(o.Stdin.Fd()))
	if tty {
		if st, err := term.MakeRaw(int(o.Stdin.Fd())); err == nil {
			defer term.Restore(int(o.Stdin.Fd()), st)
		}
		sendSize(conn, o.Stdin)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGWINCH {
				if tty {
					sendSize(conn, o.Stdin)
				}
				continue
			}
			_, _ = e.Kill(c.ID, s.(syscall.Signal))
		}
	}()

	detached := make(chan struct{})
	if o.Stdin != nil && c.Interactive {
		keys := o.DetachKeys
		if keys == nil {
			keys = DefaultDetachKeys
		}
		if !tty {
			keys = nil // detach keys are typed, not piped
		}
		go copyInput(conn, o.Stdin, keys, detached)
	}
	frames := make(chan error, 1)
	var status int
	go func() {
		for {
			typ, payload, err := container.ReadFrame(conn)
			if err != nil {
				frames <- err
				return
			}
			switch typ {
			case container.FrameStdout:
				_, _ = o.Stdout.Write(payload)
			case container.FrameStderr:
				_, _ = o.Stderr.Write(payload)
			case container.FrameExit:
				if len(payload) == 4 {
					status = int(int32(binary.BigEndian.Uint32(payload)))
				}
				frames <- nil
				return
			}
		}
	}()
	select {
	case err := <-frames:
		if err != nil {
			// The monitor went away without a status (killed): read what
			// it recorded.
			if cur, cerr := e.Container(c.ID); cerr == nil {
				return cur.State.ExitCode, nil
			}
			return -1, fmt.Errorf("attach: %w", err)
		}
		return status, nil
	case <-detached:
		return -1, ErrDetached
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// copyInput sends stdin to the monitor, watching for the detach keys.
func copyInput(conn net.Conn, in *os.File, detachKeys []byte, detached chan<- struct{}) {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := in.Read(buf)
		var data []byte
		for _, b := range buf[:n] {
			if len(detachKeys) > 0 && b == detachKeys[matched] {
				matched++
				if matched == len(detachKeys) {
					close(detached)
					return
				}
				continue
			}
			// A partial match that broke off was real input.
			data = append(data, detachKeys[:matched]...)
			matched = 0
			if len(detachKeys) > 0 && b == detachKeys[0] {
				matched = 1
				continue
			}
			data = append(data, b)
		}
		if len(data) > 0 {
			if err := container.WriteFrame(conn, container.FrameStdin, data); err != nil {
				return
			}
		}
		if err != nil {
			_ = container.WriteFrame(conn, container.FrameEOF, nil)
			return
		}
	}
}

func sendSize(conn net.Conn, tty *os.File) {
	ws, err := unix.IoctlGetWinsize(int(tty.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	p := make([]byte, 4)
	binary.BigEndian.PutUint16(p, ws.Row)
	binary.BigEndian.PutUint16(p[2:], ws.Col)
	_ = container.WriteFrame(conn, container.FrameResize, p)
}
