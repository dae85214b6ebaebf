package monitor

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/ctr-project/ctr/pkg/container"
)

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
	// other serves connections whose first frame is not FrameAttach.
	other func(conn net.Conn, typ byte, payload []byte)
}

func listenAttach(dir string) (*attachServer, error) {
	path, done, err := container.SocketPath(dir, container.AttachSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	_ = os.Remove(filepath.Join(dir, container.AttachSocket))
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
	typ, payload, err := container.ReadFrame(conn)
	if err != nil {
		conn.Close()
		return
	}
	if typ != container.FrameAttach {
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
		typ, payload, err := container.ReadFrame(conn)
		if err != nil {
			return
		}
		s.mu.Lock()
		input, closeIn, resize := s.input, s.closeIn, s.resize
		s.mu.Unlock()
		switch typ {
		case container.FrameStdin:
			if input != nil {
				_ = input(payload)
			}
		case container.FrameEOF:
			if closeIn != nil {
				closeIn()
			}
		case container.FrameResize:
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
