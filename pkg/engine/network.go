package engine

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/oci"
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
func checkNetworkOptions(n NetworkOptions, restart container.RestartPolicy) error {
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
		if strings.HasSuffix(h, ":"+netns.HostGatewayName) {
			if _, err := netns.HostGateway(n.Config); err != nil {
				return err
			}
		}
	}
	return nil
}

// Port returns a container's published ports.
func (r *Reader) Port(nameOrID string) ([]netns.PortMapping, error) {
	c, err := r.Container(nameOrID)
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
