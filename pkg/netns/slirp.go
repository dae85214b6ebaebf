package netns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ErrHelperMissing is matched by errors.Is when slirp4netns or pasta is not
// installed.
var ErrHelperMissing = errors.New("network helper not found")

// ErrTunUnusable is matched by errors.Is when /dev/net/tun cannot be opened.
var ErrTunUnusable = errors.New("/dev/net/tun is not usable")

// CheckTun checks that the tun device the helpers need can be opened.
func CheckTun() error {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w (%v): run `sudo chmod 0666 /dev/net/tun` (the mode distributions ship), or use --network none or host",
			ErrTunUnusable, errors.Unwrap(err))
	}
	return f.Close()
}

// Slirp is a slirp4netns process serving one container's network
// namespace. It must be started from the container's user namespace (the
// caller is root there), so it needs no helper on the host side.
type Slirp struct {
	cmd    *exec.Cmd
	exitW  *os.File // closing it makes slirp4netns exit (--exit-fd)
	api    string   // API socket path, for port_handler=slirp4netns
	done   chan struct{}
	mu     sync.Mutex
	exited error
}

// StartSlirp attaches a slirp4netns network to the network namespace of
// pid and returns once it is configured (--ready-fd, no sleeping).
func StartSlirp(pid int, c Config, runDir string, log io.Writer) (_ *Slirp, retErr error) {
	if err := CheckTun(); err != nil {
		return nil, err
	}
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		return nil, fmt.Errorf("%w: slirp4netns (sudo apt-get install slirp4netns), or use --network pasta, none or host", ErrHelperMissing)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	s := &Slirp{exitW: exitW, done: make(chan struct{})}
	if c.PortHandler == PortHandlerSlirp {
		// sun_path is 108 bytes: the socket lives in a short private
		// directory rather than the (possibly deep) run directory.
		dir, err := os.MkdirTemp(shortTempBase(), "ctr-slirp-")
		if err != nil {
			return nil, err
		}
		s.api = filepath.Join(dir, "api.sock")
	}
	s.cmd = exec.Command(path, slirpArgs(pid, c, s.api)...)
	s.cmd.ExtraFiles = []*os.File{readyW, exitR}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	err = s.cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	go func() {
		err := s.cmd.Wait()
		s.mu.Lock()
		s.exited = err
		s.mu.Unlock()
		if s.api != "" {
			os.RemoveAll(filepath.Dir(s.api))
		}
		close(s.done)
	}()
	defer func() {
		if retErr != nil {
			s.Close()
		}
	}()
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, fmt.Errorf("slirp4netns exited before the network was ready (see the container's monitor log): %w", err)
		}
	case <-s.done:
		return nil, fmt.Errorf("slirp4netns exited before the network was ready: %v", s.exited)
	case <-time.After(30 * time.Second):
		return nil, errors.New("slirp4netns did not report ready within 30s")
	}
	return s, nil
}

// slirpArgs returns slirp4netns's arguments for the network namespace of
// pid, with the ready pipe as fd 3 and the exit pipe as fd 4, and an API
// socket at api unless it is "".
func slirpArgs(pid int, c Config, api string) []string {
	args := []string{
		"--configure", "--mtu=" + strconv.Itoa(c.MTU),
		// The sandbox (own mount namespace, capabilities dropped) and
		// the seccomp filter confine slirp4netns, which parses packets
		// from the container.
		"--enable-sandbox", "--enable-seccomp",
		"--ready-fd=3", "--exit-fd=4",
	}
	if !c.AllowHostLoopback {
		// Otherwise the gateway address reaches every service on the
		// host's loopback (CVE-2020-15257 class of exposure).
		args = append(args, "--disable-host-loopback")
	}
	if c.CIDR != "" {
		args = append(args, "--cidr="+c.CIDR)
	}
	if c.EnableIPv6 {
		args = append(args, "--enable-ipv6")
	}
	if api != "" {
		args = append(args, "--api-socket="+api)
	}
	return append(args, strconv.Itoa(pid), "tap0")
}

// Done is closed when slirp4netns has exited.
func (s *Slirp) Done() <-chan struct{} { return s.done }

// Close makes slirp4netns exit. It does not wait: its exit costs tens of
// milliseconds and nothing depends on it.
func (s *Slirp) Close() error {
	return s.exitW.Close()
}

// AddHostForward publishes a port with slirp4netns's own forwarding
// (port_handler=slirp4netns).
func (s *Slirp) AddHostForward(p PortMapping, containerIP string) error {
	if s.api == "" {
		return errors.New("slirp4netns was started without an API socket")
	}
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req := map[string]any{
		"execute": "add_hostfwd",
		"arguments": map[string]any{
			"proto": p.Protocol, "host_addr": hostIP, "host_port": p.HostPort,
			"guest_addr": containerIP, "guest_port": p.ContainerPort,
		},
	}
	conn, err := net.Dial("unix", s.api)
	if err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return err
	}
	_ = conn.(*net.UnixConn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil {
		return err
	}
	var r struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(reply), &r); err == nil && r.Error != nil {
		return fmt.Errorf("publish %s: %s", p, r.Error.Desc)
	}
	return nil
}

// shortTempBase is a base directory for unix sockets whose path must fit
// in 108 bytes: $XDG_RUNTIME_DIR when it is short, else /tmp (the
// directory made under it is private, 0700).
func shortTempBase() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && len(d) < 60 {
		return d
	}
	return "/tmp"
}
