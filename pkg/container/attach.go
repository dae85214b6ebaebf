package container

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The monitor serves attach and copy clients on a unix socket in the
// container's run directory (AttachSocket). Frames are
// [type byte][length uint32 big endian][payload]. A connection's first
// frame says what it is: FrameAttach, FrameCopyOut or FrameCopyIn.
const (
	FrameStdin  = 0 // client -> monitor: input for the container; copy in: data
	FrameStdout = 1 // monitor -> client; copy out: data
	FrameStderr = 2 // monitor -> client
	FrameExit   = 3 // monitor -> client: 4-byte exit status, last frame
	FrameEOF    = 4 // client -> monitor: no more input
	FrameResize = 5 // client -> monitor: rows, cols as two uint16

	FrameCopyOut  = 6  // client -> monitor: a copy request; the reply is FrameCopyInfo, data, FrameExit
	FrameCopyIn   = 7  // client -> monitor: a copy request, then data frames and FrameEOF
	FrameAttach   = 8  // client -> monitor: attach to the container's streams
	FrameError    = 9  // monitor -> client: the operation failed, with why
	FrameCopyInfo = 10 // monitor -> client: what a copy out sends
)

// MaxFrame bounds a frame's payload.
const MaxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	frame := make([]byte, 5+len(payload))
	frame[0] = typ
	binary.BigEndian.PutUint32(frame[1:], uint32(len(payload)))
	copy(frame[5:], payload)
	_, err := w.Write(frame)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes is too large", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// SocketPath returns a path to name in dir that fits in sun_path (108
// bytes) however deep dir is: the directory is opened and reached through
// /proc/self/fd. The returned closer must be called after bind/connect.
func SocketPath(dir, name string) (string, func(), error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, name), func() { unix.Close(fd) }, nil
}
