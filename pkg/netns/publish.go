package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v2/pkg/port"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin"
)

// ErrPortInUse is matched by errors.Is when a host port cannot be bound
// because something else listens there.
var ErrPortInUse = errors.New("host port is already in use")

// Publisher forwards host ports into a container's network namespace with
// rootlesskit's builtin port driver, run as a library in this process: the
// "parent" side listens on the host, the "child" side dials inside the
// container's namespace (it joins it on a locked thread for each
// connection) and passes the connected socket back. No tun device is
// involved and the container sees connections from 127.0.0.1. It must run
// in the container's user namespace and lives as long as the container.
type Publisher struct {
	parent port.ParentDriver
	quit   chan struct{}
	dir    string
	dirFd  *os.File
}

// Publish starts forwarding ports to the network namespace of pid. Host
// port 0 is replaced by a free port, in the returned mappings.
func Publish(pid int, ports []PortMapping, stateDir string, log io.Writer) (_ *Publisher, _ []PortMapping, retErr error) {
	// The driver keeps a socket and a fifo in a directory. sun_path is 108
	// bytes and the state directory may be deep, so the driver gets the
	// directory as /proc/self/fd/N: both drivers run in this process.
	dir := filepath.Join(stateDir, "ports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	dirFd, err := os.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	parent, err := builtin.NewParentDriver(log, fmt.Sprintf("/proc/self/fd/%d", dirFd.Fd()))
	if err != nil {
		dirFd.Close()
		return nil, nil, err
	}
	p := &Publisher{parent: parent, quit: make(chan struct{}), dir: dir, dirFd: dirFd}
	defer func() {
		if retErr != nil {
			p.Close()
		}
	}()
	netns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, nil, fmt.Errorf("port forwarder: %w", err)
	}
	childErr := make(chan error, 1)
	go func() { childErr <- runPortChild(parent.OpaqueForChild(), p.quit, netns) }()
	initDone := make(chan struct{}, 1)
	parentErr := make(chan error, 1)
	go func() { parentErr <- parent.RunParentDriver(initDone, p.quit, nil) }()
	select {
	case <-initDone:
	case err := <-childErr:
		return nil, nil, fmt.Errorf("port forwarder: %w", err)
	case err := <-parentErr:
		return nil, nil, fmt.Errorf("port forwarder: %w", err)
	}
	var out []PortMapping
	for _, m := range ports {
		if m.HostPort == 0 {
			if m.HostPort, err = FreePort(m); err != nil {
				return nil, nil, err
			}
		}
		spec := port.Spec{Proto: m.Protocol, ParentIP: m.HostIP, ParentPort: int(m.HostPort), ChildPort: int(m.ContainerPort)}
		if _, err := parent.AddPort(context.Background(), spec); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, nil, fmt.Errorf("%w: %s: pick another with -p HOSTPORT:%d", ErrPortInUse, m, m.ContainerPort)
			}
			return nil, nil, fmt.Errorf("publish %s: %w", m, err)
		}
		out = append(out, m)
	}
	return p, out, nil
}

// FreePort asks the kernel for a free host port of the mapping's protocol
// and address.
func FreePort(m PortMapping) (uint16, error) {
	host := net.JoinHostPort(m.HostIP, "0")
	if m.Protocol == "udp" {
		c, err := net.ListenPacket("udp", host)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp", host)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// Close stops forwarding.
func (p *Publisher) Close() error {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	ports, _ := p.parent.ListPorts(context.Background())
	for _, st := range ports {
		_ = p.parent.RemovePort(context.Background(), st.ID)
	}
	p.dirFd.Close()
	return os.RemoveAll(p.dir)
}
