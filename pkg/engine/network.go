package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/rootless"
	"golang.org/x/sys/unix"
)

// NetworkOptions are the network flags of run and create.
type NetworkOptions struct {
	Config netns.Config
	// Ports are -p mappings (host port 0: random), plus -P's.
	Ports    []netns.PortMapping
	DNS      netns.DNSOptions
	AddHosts []string
	// NoHosts leaves the image's /etc/hosts alone.
	NoHosts bool
}

// ociNetwork maps a network mode to the spec generator's.
func ociNetwork(c netns.Config) string {
	switch c.Mode {
	case netns.ModeNone:
		return oci.NetworkNone
	case netns.ModeHost:
		return oci.NetworkHost
	case netns.ModeContainer:
		return oci.NetworkJoin
	}
	return oci.NetworkPrivate
}

// checkNetworkOptions rejects combinations that cannot work.
func checkNetworkOptions(n NetworkOptions, restart RestartPolicy) error {
	if len(n.Ports) > 0 && !n.Config.HasOwnNetwork() {
		return fmt.Errorf("%w: publishing ports needs --network slirp4netns or pasta, not %s", netns.ErrInvalidNetwork, n.Config.Mode)
	}
	if n.Config.Mode == netns.ModePasta && restart.Name != "no" {
		return fmt.Errorf("%w: pasta cannot be combined with --restart: it must be started from the host side, and a restart happens without one (use slirp4netns)", netns.ErrInvalidNetwork)
	}
	if err := netns.CheckConflicts(n.Ports); err != nil {
		return err
	}
	for _, h := range n.AddHosts {
		if err := netns.ParseAddHost(h); err != nil {
			return err
		}
	}
	return nil
}

// netHandle is a container's attached network.
type netHandle struct {
	log   io.Closer
	slirp *netns.Slirp
	pub   *netns.Publisher
	pasta int // pidfd of pasta, -1 for none
	ports []netns.PortMapping
}

// attachNetwork gives the network namespace of pid its user-mode network
// and publishes the ports. It runs between the container's creation and
// its command (run.Options.BeforeExec).
func attachNetwork(c *Config, pid int, runDir string) (_ *netHandle, retErr error) {
	log := openNetworkLog(runDir)
	h := &netHandle{log: log, pasta: -1}
	defer func() {
		if retErr != nil {
			h.Close()
		}
	}()
	switch c.Net.Mode {
	case netns.ModeSlirp4netns:
		s, err := netns.StartSlirp(pid, c.Net, runDir, log)
		if err != nil {
			return nil, err
		}
		h.slirp = s
		if c.Net.PortHandler == netns.PortHandlerSlirp {
			ip, _, _ := c.Net.Addresses()
			for _, p := range c.Ports {
				if p.HostPort == 0 {
					if p.HostPort, err = pickPort(p); err != nil {
						return nil, err
					}
				}
				if err := s.AddHostForward(p, ip); err != nil {
					return nil, err
				}
				h.ports = append(h.ports, p)
			}
			return h, nil
		}
		if len(c.Ports) > 0 {
			pub, ports, err := netns.Publish(pid, c.Ports, runDir, log)
			if err != nil {
				return nil, err
			}
			h.pub, h.ports = pub, ports
		}
	case netns.ModePasta:
		if err := netns.CheckTun(); err != nil {
			return nil, err
		}
		ports := append([]netns.PortMapping(nil), c.Ports...)
		for i := range ports {
			if ports[i].HostPort == 0 {
				p, err := pickPort(ports[i])
				if err != nil {
					return nil, err
				}
				ports[i].HostPort = p
			}
		}
		pidFile := filepath.Join(runDir, "pasta.pid")
		_ = os.Remove(pidFile)
		args := append([]string{"pasta"}, netns.PastaArgs(pid, c.Net, ports, pidFile)...)
		if _, err := rootless.RunOnHost(args...); err != nil {
			if errors.Is(err, rootless.ErrNoHostAgent) {
				return nil, fmt.Errorf("pasta must be started from the host side, and this start has none (a restart by the monitor?): %w", err)
			}
			return nil, err
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return nil, fmt.Errorf("pasta pid file: %w", err)
		}
		pastaPid, err := netns.ReadPidFile(b)
		if err != nil {
			return nil, err
		}
		// A pidfd, so that stopping it later cannot hit a reused pid.
		if h.pasta, err = unix.PidfdOpen(pastaPid, 0); err != nil {
			return nil, fmt.Errorf("pasta (pid %d) is gone: %w", pastaPid, err)
		}
		h.ports = ports
	}
	return h, nil
}

// pickPort finds a free host port for a mapping without one.
func pickPort(p netns.PortMapping) (uint16, error) {
	addr := net.JoinHostPort(p.HostIP, "0")
	if p.Protocol == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// published returns the published ports (nil for a nil handle).
func (h *netHandle) published() []netns.PortMapping {
	if h == nil {
		return nil
	}
	return h.ports
}

// helperDied is closed when the network helper exits (nil: never).
func (h *netHandle) helperDied() <-chan struct{} {
	if h == nil || h.slirp == nil {
		return nil
	}
	return h.slirp.Done()
}

// Close detaches the network: slirp4netns exits by itself when its exit
// fd closes; pasta is stopped (it runs as the user, so a signal from here
// is allowed), and waited for so that its ports are free when Close
// returns.
func (h *netHandle) Close() {
	if h == nil {
		return
	}
	if h.pub != nil {
		h.pub.Close()
	}
	if h.slirp != nil {
		h.slirp.Close()
	}
	if h.pasta >= 0 {
		stopPidfd(h.pasta, time.Second)
		unix.Close(h.pasta)
		h.pasta = -1
	}
	h.log.Close()
}

// Port returns a container's published ports.
func (e *Engine) Port(nameOrID string) ([]netns.PortMapping, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, nil
	}
	return c.State.Ports, nil
}

// portsString is the PORTS column of ps.
func portsString(ports []netns.PortMapping) string {
	s := ""
	for i, p := range ports {
		if i > 0 {
			s += ", "
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		s += net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort))) + "->" + strconv.Itoa(int(p.ContainerPort)) + "/" + p.Protocol
	}
	return s
}

// PortsString formats published ports as podman's PORTS column.
func (c *Container) PortsString() string {
	if !c.Running() {
		return ""
	}
	return portsString(c.State.Ports)
}

// openNetworkLog opens where the network helpers' chatter goes: the
// container's run directory, not the user's terminal.
func openNetworkLog(runDir string) io.WriteCloser {
	f, err := os.OpenFile(filepath.Join(runDir, "network.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nopCloser{io.Discard}
	}
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// stopPidfd sends SIGTERM to the process, then SIGKILL if it has not
// exited within grace. A pidfd becomes readable when its process exits.
func stopPidfd(fd int, grace time.Duration) {
	exited := func(d time.Duration) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(d.Milliseconds()))
		return err == nil && n > 0
	}
	if unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0) != nil {
		return // gone already
	}
	if !exited(grace) {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		exited(grace)
	}
}
