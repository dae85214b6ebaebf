package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
)

// DNSOptions are --dns, --dns-search and --dns-option.
type DNSOptions struct {
	Servers []string `json:"servers,omitempty"`
	Search  []string `json:"search,omitempty"`
	Options []string `json:"options,omitempty"`
}

// pastaDNS is the address pasta forwards to the host's resolver
// (--dns-forward), as podman uses it.
const pastaDNS = "169.254.1.1"

// ResolvConf returns the container's /etc/resolv.conf, derived from the
// host's. In a network namespace of its own a loopback nameserver (such as
// systemd-resolved's 127.0.0.53) is unreachable, so it is replaced by the
// helper's DNS forwarder (slirp4netns's 10.0.2.3, pasta's --dns-forward).
func ResolvConf(host []byte, c Config, o DNSOptions) []byte {
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if c.Mode != ModeHost {
		var kept []string
		hadLoopback := false
		for _, s := range servers {
			if ip := net.ParseIP(s); ip != nil && ip.IsLoopback() {
				hadLoopback = true
				continue
			}
			kept = append(kept, s)
		}
		servers = kept
		if hadLoopback || len(servers) == 0 {
			switch c.Mode {
			case ModeSlirp4netns:
				_, _, dns := c.Addresses()
				servers = []string{dns}
			case ModePasta:
				servers = []string{pastaDNS}
			}
		}
	}
	if len(o.Servers) > 0 {
		servers = o.Servers
	}
	if len(o.Search) > 0 {
		search = o.Search
		if len(search) == 1 && search[0] == "." {
			search = nil // --dns-search=. clears the list, as in docker
		}
	}
	if len(o.Options) > 0 {
		options = o.Options
	}
	var b bytes.Buffer
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

// HostsOptions describe the container's /etc/hosts.
type HostsOptions struct {
	Hostname string
	Name     string
	// ExtraHosts are --add-host NAME:IP entries.
	ExtraHosts []string
	// HostContent is the host's /etc/hosts, used with --network host.
	HostContent []byte
}

// Hosts returns the container's /etc/hosts. With slirp4netns and
// allow_host_loopback the host is reachable as host.containers.internal.
func Hosts(c Config, o HostsOptions) []byte {
	var b bytes.Buffer
	if c.Mode == ModeHost && len(o.HostContent) > 0 {
		b.Write(o.HostContent)
		if !bytes.HasSuffix(o.HostContent, []byte("\n")) {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost localhost.localdomain\n")
		b.WriteString("::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n")
	}
	for _, h := range o.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == HostGatewayName {
			// CheckHostGateway refused a network without one.
			ip, _ = HostGateway(c)
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	names := o.Hostname
	if o.Name != "" && o.Name != o.Hostname {
		names += " " + o.Name
	}
	ip, gw, _ := c.Addresses()
	if ip == "" {
		ip = "127.0.1.1"
	}
	fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	if c.Mode == ModeSlirp4netns && c.AllowHostLoopback {
		fmt.Fprintf(&b, "%s\thost.containers.internal host.docker.internal\n", gw)
	}
	return b.Bytes()
}

// HostGatewayName, as the address of --add-host NAME:host-gateway (docker's
// and podman's), stands for the address at which the container reaches the
// host.
const HostGatewayName = "host-gateway"

// ParseAddHost checks an --add-host NAME:IP; IP may be host-gateway.
func ParseAddHost(s string) error {
	name, ip, ok := strings.Cut(s, ":")
	if !ok || name == "" || (ip != HostGatewayName && net.ParseIP(ip) == nil) || strings.ContainsAny(name, " \t\n") {
		return fmt.Errorf("invalid --add-host %q: want NAME:IP or NAME:host-gateway", s)
	}
	return nil
}

// HostGateway returns the address at which a container on network c
// reaches the host: slirp4netns's gateway when allow_host_loopback lets it
// through (the address of host.containers.internal), the loopback address
// in the host's own network. Other modes have none: --network none has no
// route out, and pasta runs with --no-map-gw.
func HostGateway(c Config) (string, error) {
	switch {
	case c.Mode == ModeSlirp4netns && c.AllowHostLoopback:
		_, gw, _ := c.Addresses()
		return gw, nil
	case c.Mode == ModeHost:
		return "127.0.0.1", nil
	}
	return "", fmt.Errorf("%w: --add-host NAME:%s needs a network from which the host is reachable: --network slirp4netns:allow_host_loopback=true, or --network host", ErrInvalidNetwork, HostGatewayName)
}
