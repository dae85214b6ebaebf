package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/rootless-containers/rootlesskit/v2/pkg/lowlevelmsgutil"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin/msg"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin/opaque"
	"golang.org/x/sys/unix"
)

// The child half of rootlesskit's builtin port driver, for a child that is
// not a process of its own in the container's network namespace but a part
// of ctr's process in the host's. For each connection the parent accepts,
// it asks the child (over a unix socket, protocol in package msg) for a
// socket connected to the container's port, and splices the two.
//
// rootlesskit's own child driver can serve a "detached" namespace, but
// then enters it for every connection: it opens the namespace file, locks
// a thread, switches it in and out with setns and dials from there through
// Go's poller, which hands the locked thread back and forth. That cost ctr
// ~0.2 ms per connection against podman's rootlessport child, which runs in
// the namespace: small requests through -p ran at 0.7x podman's rate. A
// socket belongs to the network namespace it was created in, whatever
// thread later uses it. So here one thread lives in the container's
// namespace and only creates sockets; connecting (a local address: the
// kernel answers at once) and handing the socket over happen on any thread.

// socketFactory creates sockets in a network namespace: its thread entered
// the namespace once and never leaves it (when the factory stops, the
// thread ends with its goroutine, as Go does with locked threads).
type socketFactory struct {
	reqs chan socketRequest
	done chan struct{}
}

type socketRequest struct {
	domain, typ int
	reply       chan socketReply
}

type socketReply struct {
	fd  int
	err error
}

func newSocketFactory(netns *os.File) (*socketFactory, error) {
	f := &socketFactory{reqs: make(chan socketRequest), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread must not run other goroutines once it
		// is in the container's namespace.
		runtime.LockOSThread()
		if err := unix.Setns(int(netns.Fd()), unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("enter the container's network namespace: %w", err)
			return
		}
		ready <- nil
		for {
			select {
			case r := <-f.reqs:
				fd, err := unix.Socket(r.domain, r.typ|unix.SOCK_CLOEXEC, 0)
				r.reply <- socketReply{fd, err}
			case <-f.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return f, nil
}

func (f *socketFactory) socket(domain, typ int) (int, error) {
	reply := make(chan socketReply, 1)
	select {
	case f.reqs <- socketRequest{domain: domain, typ: typ, reply: reply}:
	case <-f.done:
		return -1, errors.New("port forwarding stopped")
	}
	r := <-reply // a request taken is always answered
	return r.fd, r.err
}

// stop ends the thread; requests made afterwards fail.
func (f *socketFactory) stop() { close(f.done) }

// runPortChild serves the child protocol on the socket named in opaque
// until quit is closed, with sockets from the network namespace netns,
// which it closes.
func runPortChild(opq map[string]string, quit <-chan struct{}, netns *os.File) error {
	factory, err := newSocketFactory(netns)
	netns.Close()
	if err != nil {
		return err
	}
	socketPath, readyPath := opq[opaque.SocketPath], opq[opaque.ChildReadyPipePath]
	if socketPath == "" || readyPath == "" {
		factory.stop()
		return errors.New("port driver: no socket or ready pipe path")
	}
	defer factory.stop()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return err
	}
	ready, err := os.OpenFile(readyPath, os.O_WRONLY, os.ModeNamedPipe)
	if err != nil {
		ln.Close()
		return err
	}
	ready.Close() // the parent waits for the close, not for data
	stopped := make(chan struct{})
	go func() {
		<-quit
		close(stopped)
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-stopped:
				return nil
			default:
				return err
			}
		}
		go func() {
			defer c.Close()
			if err := servePortRequest(c, factory); err != nil {
				_, _ = lowlevelmsgutil.MarshalToWriter(c, &msg.Reply{Error: err.Error()})
			}
		}()
	}
}

// servePortRequest answers one request: "init" with an empty reply,
// "connect" with a socket connected to the container's port, passed as
// SCM_RIGHTS.
func servePortRequest(c *net.UnixConn, factory *socketFactory) error {
	var req msg.Request
	if _, err := lowlevelmsgutil.UnmarshalFromReader(c, &req); err != nil {
		return err
	}
	switch req.Type {
	case msg.RequestTypeInit:
		_, err := lowlevelmsgutil.MarshalToWriter(c, nil)
		return err
	case msg.RequestTypeConnect:
	default:
		return fmt.Errorf("unknown request type %q", req.Type)
	}
	fd, err := dialInNamespace(factory, req)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Write(func(s uintptr) bool {
		sendErr = unix.Sendmsg(int(s), []byte("fd"), unix.UnixRights(fd), nil, 0)
		return !errors.Is(sendErr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return sendErr
}

// dialInNamespace returns a socket of the container's namespace connected
// to the requested port: on the requested address, else on 127.0.0.1 (the
// container sees the connection come from its loopback).
func dialInNamespace(factory *socketFactory, req msg.Request) (int, error) {
	typ := unix.SOCK_STREAM
	switch req.Proto {
	case "tcp", "tcp4", "tcp6":
	case "udp", "udp4", "udp6":
		typ = unix.SOCK_DGRAM
	default:
		return -1, fmt.Errorf("unknown protocol %q", req.Proto)
	}
	ip := net.IPv4(127, 0, 0, 1)
	if req.IP != "" {
		if ip = net.ParseIP(req.IP); ip == nil {
			return -1, fmt.Errorf("invalid IP %q", req.IP)
		}
	}
	if req.Port <= 0 || req.Port > 65535 {
		return -1, fmt.Errorf("invalid port %d", req.Port)
	}
	var sa unix.Sockaddr
	domain := unix.AF_INET
	if ip4 := ip.To4(); ip4 != nil {
		sa = &unix.SockaddrInet4{Port: req.Port, Addr: [4]byte(ip4)}
	} else {
		domain = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: req.Port, Addr: [16]byte(ip.To16())}
	}
	fd, err := factory.socket(domain, typ)
	if err != nil {
		return -1, err
	}
	// Blocking, on a local address: the kernel accepts or refuses at once.
	for {
		err = unix.Connect(fd, sa)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect to %s in the container: %w", net.JoinHostPort(ip.String(), fmt.Sprint(req.Port)), err)
	}
	return fd, nil
}
