package rootless

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Every ctr invocation gets a fresh user namespace, a sibling of the one a
// running container lives in. From a sibling, kill(2) of a container
// process that runs as a non-root container user is EPERM: only the
// namespace's owner in the parent namespace holds capabilities over it.
// That owner is the host-side ctr process that re-executed us, which waits
// for the child anyway. So the child opens a pidfd for the target (which
// pins the process: no PID reuse race), passes it to the parent over a
// socket, and the parent sends the signal with pidfd_send_signal.

// envHostAgent names the child's fd for the host agent socket.
const envHostAgent = "_CTR_HOST_AGENT_FD"

// hostAgentFd is the child's end of the agent socket (after the sync pipe).
const hostAgentFd = 4

// serveHostAgent answers signal requests from the child until the socket
// closes. Each request is 4 bytes of signal number with a pidfd attached;
// each reply is 4 bytes of errno (0 for success).
func serveHostAgent(sock *os.File) {
	defer sock.Close()
	buf := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || n == 0 {
			return
		}
		errno := serveSignal(buf[:n], oob[:oobn])
		reply := make([]byte, 4)
		binary.LittleEndian.PutUint32(reply, uint32(errno))
		if _, err := sock.Write(reply); err != nil {
			return
		}
	}
}

func serveSignal(req, oob []byte) syscall.Errno {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return unix.EINVAL
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return unix.EINVAL
	}
	defer unix.Close(fds[0])
	if len(req) != 4 {
		return unix.EINVAL
	}
	sig := syscall.Signal(binary.LittleEndian.Uint32(req))
	if err := unix.PidfdSendSignal(fds[0], sig, nil, 0); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return unix.EIO
	}
	return 0
}

// ErrNoHostAgent is returned by SignalFromHost outside a re-executed child.
var ErrNoHostAgent = errors.New("no host agent: not running inside ctr's user namespace")

// SignalFromHost sends sig to the process pid through the host-side parent.
// If startTime is not zero, the process must have that start time
// (/proc/PID/stat field 22), so a recycled PID is never signalled.
func SignalFromHost(pid int, startTime uint64, sig syscall.Signal) error {
	if os.Getenv(envHostAgent) == "" {
		return ErrNoHostAgent
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("open pid %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	// Checked after the pidfd pins the process.
	if startTime != 0 {
		if st, err := ProcessStartTime(pid); err != nil || st != startTime {
			return fmt.Errorf("signal pid %d: %w", pid, unix.ESRCH)
		}
	}
	req := make([]byte, 4)
	binary.LittleEndian.PutUint32(req, uint32(sig))
	if err := unix.Sendmsg(hostAgentFd, req, unix.UnixRights(pidfd), nil, 0); err != nil {
		return fmt.Errorf("host agent: %w", err)
	}
	reply := make([]byte, 4)
	if n, err := unix.Read(hostAgentFd, reply); err != nil || n != 4 {
		return fmt.Errorf("host agent: no reply (%v)", err)
	}
	if errno := syscall.Errno(binary.LittleEndian.Uint32(reply)); errno != 0 {
		return fmt.Errorf("signal pid %d: %w", pid, errno)
	}
	return nil
}

// ProcessStartTime returns a process's start time in clock ticks since
// boot, which with the PID identifies it across PID reuse.
func ProcessStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces and parentheses; fields after
	// the last ')' are fixed. starttime is field 22, the 20th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}
