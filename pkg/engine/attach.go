package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The monitor serves attach clients on a unix socket in the container's run
// directory. Frames are [type byte][length uint32 big endian][payload].
const (
	frameStdin  = 0 // client -> monitor: input for the container
	frameStdout = 1 // monitor -> client
	frameStderr = 2 // monitor -> client
	frameExit   = 3 // monitor -> client: 4-byte exit status, last frame
	frameEOF    = 4 // client -> monitor: no more input
	frameResize = 5 // client -> monitor: rows, cols as two uint16
)

const attachSocket = "attach.sock"

// maxFrame bounds a frame's payload.
const maxFrame = 1 << 20

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	hdr := make([]byte, 5)
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(append(hdr, payload...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes is too large", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// socketPath returns a path to name in dir that fits in sun_path (108
// bytes) however deep dir is: the directory is opened and reached through
// /proc/self/fd. The returned closer must be called after bind/connect.
func socketPath(dir, name string) (string, func(), error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, name), func() { unix.Close(fd) }, nil
}

// attachServer fans the container's output out to attached clients and
// feeds their input to the container.
type attachServer struct {
	ln      net.Listener
	mu      sync.Mutex
	clients map[net.Conn]chan []byte
	input   func([]byte) error // nil when the container has no stdin
	closeIn func()
	resize  func(rows, cols uint16)
	// connected is closed when the first client connects.
	connected chan struct{}
	once      sync.Once
	// other serves connections whose first frame is not frameAttach.
	other func(conn net.Conn, typ byte, payload []byte)
}

func listenAttach(dir string) (*attachServer, error) {
	path, done, err := socketPath(dir, attachSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	_ = os.Remove(filepath.Join(dir, attachSocket))
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	return &attachServer{ln: ln, clients: map[net.Conn]chan []byte{}, connected: make(chan struct{})}, nil
}

func (s *attachServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handshake(conn)
	}
}

// handshake reads a connection's first frame: an attach client joins the
// broadcast, anything else (a copy) goes to s.other.
func (s *attachServer) handshake(conn net.Conn) {
	typ, payload, err := readFrame(conn)
	if err != nil {
		conn.Close()
		return
	}
	if typ != frameAttach {
		if s.other != nil {
			s.other(conn, typ, payload)
		}
		conn.Close()
		return
	}
	out := make(chan []byte, 256)
	s.mu.Lock()
	s.clients[conn] = out
	s.mu.Unlock()
	s.once.Do(func() { close(s.connected) })
	go func() {
		for frame := range out {
			if _, err := conn.Write(frame); err != nil {
				break
			}
		}
		conn.Close()
	}()
	s.readClient(conn)
}

func (s *attachServer) readClient(conn net.Conn) {
	defer s.drop(conn)
	for {
		typ, payload, err := readFrame(conn)
		if err != nil {
			return
		}
		s.mu.Lock()
		input, closeIn, resize := s.input, s.closeIn, s.resize
		s.mu.Unlock()
		switch typ {
		case frameStdin:
			if input != nil {
				_ = input(payload)
			}
		case frameEOF:
			if closeIn != nil {
				closeIn()
			}
		case frameResize:
			if resize != nil && len(payload) == 4 {
				resize(binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]))
			}
		}
	}
}

func (s *attachServer) drop(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if out, ok := s.clients[conn]; ok {
		close(out)
		delete(s.clients, conn)
	}
}

// broadcast sends a frame to every client; a client too slow to keep up
// is dropped rather than allowed to stall the container's output.
func (s *attachServer) broadcast(typ byte, payload []byte) {
	frame := make([]byte, 5+len(payload))
	frame[0] = typ
	binary.BigEndian.PutUint32(frame[1:], uint32(len(payload)))
	copy(frame[5:], payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	for conn, out := range s.clients {
		select {
		case out <- frame:
		default:
			close(out)
			delete(s.clients, conn)
		}
	}
}

func (s *attachServer) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for conn, out := range s.clients {
		close(out)
		delete(s.clients, conn)
	}
}

// ErrNotRunning is matched by errors.Is when an operation needs a running
// container.
var ErrNotRunning = errors.New("container is not running")
