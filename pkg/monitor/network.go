package monitor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Network is a container's attached user-mode network. A foreground
// `ctr run` attaches one the same way as the monitor.
type Network struct {
	log    io.Closer
	slirp  *netns.Slirp
	pub    *netns.Publisher
	pasta  int // pidfd of pasta, -1 for none
	runDir string
	ports  []netns.PortMapping
}

// AttachNetwork gives the network namespace of pid the user-mode network
// that c asks for and publishes its ports; helpers write to network.log
// in runDir. It runs between the container's creation and its command
// (run.Options.BeforeExec). The caller closes the result (nil when c
// needs no network).
func AttachNetwork(c *container.Config, pid int, runDir string) (_ *Network, retErr error) {
	log := openNetworkLog(runDir)
	h := &Network{log: log, pasta: -1, runDir: runDir}
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
					if p.HostPort, err = netns.FreePort(p); err != nil {
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
				p, err := netns.FreePort(ports[i])
				if err != nil {
					return nil, err
				}
				ports[i].HostPort = p
			}
		}
		pidFile := filepath.Join(runDir, pastaPidFile)
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

// Ports returns the published ports, with the host ports chosen (nil for
// a nil Network).
func (h *Network) Ports() []netns.PortMapping {
	if h == nil {
		return nil
	}
	return h.ports
}

// helperDied is closed when the network helper exits (nil: never).
func (h *Network) helperDied() <-chan struct{} {
	if h == nil || h.slirp == nil {
		return nil
	}
	return h.slirp.Done()
}

// Close detaches the network: slirp4netns exits by itself when its exit
// fd closes; pasta is stopped (it runs as the user, so a signal from here
// is allowed), and waited for so that its ports are free when Close
// returns. A nil Network is a no-op.
func (h *Network) Close() {
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
		_ = os.Remove(filepath.Join(h.runDir, pastaPidFile))
	}
	h.log.Close()
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

// pastaPidFile is where pasta writes its pid, in the run directory.
const pastaPidFile = "pasta.pid"

// StopStalePasta stops the pasta of a container whose monitor died without
// stopping it (killed with SIGKILL): pasta runs outside the container's
// namespaces and is nobody's child, so it would keep the published ports
// open for good. It acts only on a process whose command line names this
// run directory's pid file, never on an unrelated process with a recycled
// pid. No pid file, or no such process, is not an error.
func StopStalePasta(runDir string) error {
	pidFile := filepath.Join(runDir, pastaPidFile)
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := netns.ReadPidFile(b)
	if err != nil {
		return nil // a half-written file: pasta never got going
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // gone
	}
	defer unix.Close(fd)
	// Checked once the pidfd pins the process.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil && bytes.Contains(cmdline, []byte("\x00"+pidFile+"\x00")) {
		stopPidfd(fd, time.Second)
	}
	return os.Remove(pidFile)
}

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

// JoinNetNS points spec's network namespace at the one of the running
// container owner (named ownerName), which the container name shares
// (--network container:NAME), for one start. The returned file is the
// namespace, held by this process: nothing can swap it between the check
// here and the init's setns. The caller closes it after run.Start.
func JoinNetNS(spec *specs.Spec, name, ownerName string, owner *container.State) (*os.File, error) {
	if !owner.Running() {
		return nil, fmt.Errorf("%w: %s, whose network namespace %s shares", container.ErrNotRunning, ownerName, name)
	}
	pid := owner.Pid
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", ownerName, err)
	}
	// Checked after the open: the namespace is of the process the state
	// names, not of a process that got its PID since.
	if st, err := rootless.ProcessStartTime(pid); err != nil || st != owner.PidStart {
		f.Close()
		return nil, fmt.Errorf("%w: %s (its process exited)", container.ErrNotRunning, ownerName)
	}
	if spec.Linux != nil {
		for i, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
				return f, nil
			}
		}
	}
	f.Close()
	return nil, fmt.Errorf("container %s: its spec has no network namespace to share", name)
}
