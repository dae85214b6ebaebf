package rootless

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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

// agentRequest is one request to the host agent. A "signal" request
// carries a pidfd as SCM_RIGHTS.
type agentRequest struct {
	Op     string   `json:"op"` // "signal", "run", "result" or "rejoin"
	Signal int      `json:"signal,omitempty"`
	Args   []string `json:"args,omitempty"` // "run": argv; argv[0] must be an allowed helper
	Result []byte   `json:"result,omitempty"`
}

type agentReply struct {
	Errno  int    `json:"errno,omitempty"`
	Error  string `json:"error,omitempty"`
	Output string `json:"output,omitempty"`
}

// hostHelpers are the programs the host agent runs on request: pasta must
// be started from the host side (see package netns).
var hostHelpers = map[string]bool{"pasta": true}

// agentState is what the child hands the host agent for Reexec: a result
// (ReturnToHost), a request to run again elsewhere (RerunInUserNSOf).
type agentState struct {
	result atomic.Pointer[[]byte]
	rejoin atomic.Int64 // a pidfd + 1; 0 for none
}

// serveHostAgent answers requests from the child until the socket closes.
// "result" and "rejoin" requests are kept in st for Reexec.
func serveHostAgent(sock *os.File, st *agentState, done chan<- struct{}) {
	defer close(done)
	defer sock.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || n == 0 {
			return
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
			fds, _ = unix.ParseUnixRights(&msgs[0])
		}
		var reply agentReply
		var req agentRequest
		if json.Unmarshal(buf[:n], &req) == nil && req.Op == "result" {
			st.result.Store(&req.Result)
		} else if req.Op == "rejoin" && len(fds) == 1 {
			// Keep the pidfd (the loop below closes what it got).
			if fd, err := unix.FcntlInt(uintptr(fds[0]), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				if old := st.rejoin.Swap(int64(fd) + 1); old != 0 {
					unix.Close(int(old - 1))
				}
			} else {
				reply = agentReply{Errno: int(unix.EMFILE), Error: err.Error()}
			}
		} else {
			reply = serveRequest(buf[:n], fds)
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		b, _ := json.Marshal(reply)
		if _, err := sock.Write(b); err != nil {
			return
		}
	}
}

func serveRequest(b []byte, fds []int) agentReply {
	var req agentRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return agentReply{Errno: int(unix.EINVAL), Error: err.Error()}
	}
	switch req.Op {
	case "signal":
		if len(fds) != 1 {
			return agentReply{Errno: int(unix.EINVAL), Error: "signal needs one pidfd"}
		}
		if err := unix.PidfdSendSignal(fds[0], syscall.Signal(req.Signal), nil, 0); err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return agentReply{Errno: int(errno), Error: err.Error()}
			}
			return agentReply{Errno: int(unix.EIO), Error: err.Error()}
		}
		return agentReply{}
	case "run":
		if len(req.Args) == 0 || !hostHelpers[req.Args[0]] {
			return agentReply{Errno: int(unix.EPERM), Error: "the host agent runs only " + fmt.Sprint(hostHelperNames())}
		}
		path, err := exec.LookPath(req.Args[0])
		if err != nil {
			return agentReply{Errno: int(unix.ENOENT), Error: err.Error()}
		}
		out, err := exec.Command(path, req.Args[1:]...).CombinedOutput()
		if err != nil {
			return agentReply{Errno: int(unix.EIO), Error: err.Error(), Output: string(out)}
		}
		return agentReply{Output: string(out)}
	}
	return agentReply{Errno: int(unix.EINVAL), Error: "unknown request " + req.Op}
}

func hostHelperNames() []string {
	var n []string
	for k := range hostHelpers {
		n = append(n, k)
	}
	return n
}

// ErrNoHostAgent is returned outside a re-executed child whose host-side
// parent still runs.
var ErrNoHostAgent = errors.New("no host agent: not running inside ctr's user namespace, or the host-side ctr has exited")

func askHost(req agentRequest, fd int) (agentReply, error) {
	if os.Getenv(envHostAgent) == "" {
		return agentReply{}, ErrNoHostAgent
	}
	b, err := json.Marshal(req)
	if err != nil {
		return agentReply{}, err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(hostAgentFd, b, oob, nil, 0); err != nil {
		return agentReply{}, fmt.Errorf("host agent: %w", err)
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Read(hostAgentFd, buf)
	if err != nil || n == 0 {
		return agentReply{}, fmt.Errorf("host agent: no reply (%v): %w", err, ErrNoHostAgent)
	}
	var reply agentReply
	if err := json.Unmarshal(buf[:n], &reply); err != nil {
		return agentReply{}, fmt.Errorf("host agent: %w", err)
	}
	return reply, nil
}

// SignalFromHost sends sig to the process pid through the host-side parent,
// or itself when it has none: it is that host side (commands that run on
// the host, such as `ctr exec`), or real root, which needs no namespace.
// If startTime is not zero, the process must have that start time
// (/proc/PID/stat field 22), so a recycled PID is never signalled.
func SignalFromHost(pid int, startTime uint64, sig syscall.Signal) error {
	pidfd, err := openPidfd(pid, startTime)
	if err != nil {
		return fmt.Errorf("signal %w", err)
	}
	defer unix.Close(pidfd)
	if os.Getenv(envHostAgent) == "" {
		if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
			return fmt.Errorf("signal pid %d: %w", pid, err)
		}
		return nil
	}
	reply, err := askHost(agentRequest{Op: "signal", Signal: int(sig)}, pidfd)
	if err != nil {
		return err
	}
	if reply.Errno != 0 {
		return fmt.Errorf("signal pid %d: %w", pid, syscall.Errno(reply.Errno))
	}
	return nil
}

// openPidfd opens a pidfd for pid. If startTime is not zero, the process
// must have that start time (/proc/PID/stat field 22): it is checked once
// the pidfd pins the process, so a recycled PID is never acted on.
func openPidfd(pid int, startTime uint64) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pid %d: %w", pid, err)
	}
	if startTime != 0 {
		if st, err := ProcessStartTime(pid); err != nil || st != startTime {
			unix.Close(pidfd)
			return -1, fmt.Errorf("pid %d: %w", pid, unix.ESRCH)
		}
	}
	return pidfd, nil
}

// RunOnHost runs an allowed helper program (pasta) on the host side,
// outside every user namespace, and returns its output.
func RunOnHost(args ...string) (string, error) {
	reply, err := askHost(agentRequest{Op: "run", Args: args}, -1)
	if err != nil {
		return "", err
	}
	if reply.Errno != 0 {
		msg := reply.Error
		if out := strings.TrimSpace(reply.Output); out != "" {
			msg += ": " + out
		}
		return reply.Output, fmt.Errorf("%s on the host: %s", args[0], msg)
	}
	return reply.Output, nil
}

// ReturnToHost hands data to the host-side ctr, which gets it from Reexec
// after this process exits: a command can resolve what it needs inside the
// namespace and finish on the host side (exec joins a container from
// there).
func ReturnToHost(data []byte) error {
	reply, err := askHost(agentRequest{Op: "result", Result: data}, -1)
	if err != nil {
		return err
	}
	if reply.Errno != 0 {
		return errors.New(reply.Error)
	}
	return nil
}

// ErrRerun is returned by RerunInUserNSOf once the host side has agreed to
// run the command again: the caller must exit at once, with no output and
// no side effect, and the host-side ctr runs the whole command again in
// the other user namespace.
var ErrRerun = errors.New("the command runs again in another user namespace")

// RerunInUserNSOf asks the host-side ctr to run this command again in the
// user namespace of process pid (with that start time, when not zero)
// instead of a new one. A container that shares another's network
// namespace must start in the user namespace that owns it: a sibling
// namespace, like the one each ctr invocation creates, may not join it.
func RerunInUserNSOf(pid int, startTime uint64) error {
	pidfd, err := openPidfd(pid, startTime)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if os.Getenv(envJoined) != "" {
		return errors.New("already re-run in another user namespace once, and asked again (did the process exit and its PID get reused?)")
	}
	reply, err := askHost(agentRequest{Op: "rejoin"}, pidfd)
	if err != nil {
		return err
	}
	if reply.Errno != 0 {
		return fmt.Errorf("host agent: %s", reply.Error)
	}
	return ErrRerun
}

// SameUserNS reports whether process pid is in this process's user
// namespace.
func SameUserNS(pid int) (bool, error) {
	var own, other unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/user", &other); err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			// Denied: in our own namespace we would hold
			// CAP_SYS_PTRACE over it.
			return false, nil
		}
		return false, err
	}
	return own.Ino == other.Ino && own.Dev == other.Dev, nil
}

// WithoutHostAgent returns env without the variable that names the host
// agent's fd, for a program that does not get the fd.
func WithoutHostAgent(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, envHostAgent+"=") })
}

// HostAgentFile returns a duplicate of the agent socket for a child that
// should reach the host agent too (a container's monitor, while the ctr
// that starts it runs); the child must get it as fd 4. It returns nil when
// there is no agent. The caller closes it.
func HostAgentFile() *os.File {
	if os.Getenv(envHostAgent) == "" {
		return nil
	}
	fd, err := unix.FcntlInt(hostAgentFd, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "host-agent")
}

// ErrZombie is returned by ProcessStartTime for a process that has exited
// but was not reaped yet: it is dead for every purpose of ctr's.
var ErrZombie = errors.New("process has exited (zombie)")

// ProcessStartTime returns a process's start time in clock ticks since
// boot, which with the PID identifies it across PID reuse. An exited
// process that was not reaped yet (whose new parent may be slow to reap
// it) returns ErrZombie.
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
	if string(fields[0]) == "Z" || string(fields[0]) == "X" {
		return 0, ErrZombie
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}
