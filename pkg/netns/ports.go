package netns

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalidPort is matched by errors.Is for a malformed -p spec.
var ErrInvalidPort = errors.New("invalid port mapping")

// PortMapping publishes one container port on the host.
type PortMapping struct {
	// HostIP is the address to listen on; "" means all addresses.
	HostIP string `json:"hostIP,omitempty"`
	// HostPort is the port on the host; 0 until a random one is chosen.
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Protocol      string `json:"protocol"` // tcp or udp
}

// String formats a mapping as `ctr port` shows it: "80/tcp -> 0.0.0.0:8080".
func (p PortMapping) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Protocol, net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort))))
}

// ParsePort parses a -p spec: [IP:][HOSTPORT:]CPORT[/tcp|/udp], where the
// ports may be equal-length ranges (8000-8010:80-90). A missing host port
// means a random one (HostPort 0); an IPv6 address goes in brackets.
func ParsePort(spec string) ([]PortMapping, error) {
	bad := func(why string) ([]PortMapping, error) {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalidPort, spec, why)
	}
	rest, proto := spec, "tcp"
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		rest, proto = spec[:i], strings.ToLower(spec[i+1:])
		if proto != "tcp" && proto != "udp" {
			return bad(fmt.Sprintf("protocol %q is not supported (want tcp or udp)", proto))
		}
	}
	var hostIP, hostPart, ctrPart string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || len(rest) < end+2 || rest[end+1] != ':' {
			return bad("want [IPv6]:HOSTPORT:CONTAINERPORT")
		}
		hostIP, rest = rest[1:end], rest[end+2:]
		if ip := net.ParseIP(hostIP); ip == nil || ip.To4() != nil {
			return bad(fmt.Sprintf("%q is not an IPv6 address", hostIP))
		}
		var ok bool
		if hostPart, ctrPart, ok = strings.Cut(rest, ":"); !ok {
			return bad("want [IPv6]:HOSTPORT:CONTAINERPORT")
		}
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			hostIP, hostPart, ctrPart = parts[0], parts[1], parts[2]
			if net.ParseIP(hostIP) == nil {
				return bad(fmt.Sprintf("%q is not an IP address", hostIP))
			}
		default:
			return bad("want [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]")
		}
	}
	cLo, cHi, err := parseRange(ctrPart)
	if err != nil {
		return bad("container port: " + err.Error())
	}
	hLo, hHi := uint16(0), uint16(0)
	if hostPart != "" {
		if hLo, hHi, err = parseRange(hostPart); err != nil {
			return bad("host port: " + err.Error())
		}
		if hHi-hLo != cHi-cLo {
			return bad(fmt.Sprintf("the host range has %d ports and the container range %d", hHi-hLo+1, cHi-cLo+1))
		}
	}
	var out []PortMapping
	for i := 0; i <= int(cHi-cLo); i++ {
		m := PortMapping{HostIP: hostIP, ContainerPort: cLo + uint16(i), Protocol: proto}
		if hostPart != "" {
			m.HostPort = hLo + uint16(i)
		}
		out = append(out, m)
	}
	return out, nil
}

// parseRange parses "N" or "N-M" with ports in 1..65535.
func parseRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	parse := func(p string) (uint16, error) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", p)
		}
		if n < 1 || n > 65535 {
			return 0, fmt.Errorf("%d is out of range 1-65535", n)
		}
		return uint16(n), nil
	}
	if lo, err = parse(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = parse(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s is backwards", s)
		}
	}
	return lo, hi, nil
}

// ExposedPorts turns an image's ExposedPorts ("80/tcp") into mappings with
// random host ports, for -P. A key that names a host port or address
// ("8080:80/tcp") is rejected: the image does not choose where the host
// listens.
func ExposedPorts(exposed map[string]struct{}) ([]PortMapping, error) {
	var keys []string
	for k := range exposed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []PortMapping
	for _, k := range keys {
		if strings.Contains(k, ":") {
			return nil, fmt.Errorf("image exposes %w %q: want PORT[/PROTOCOL]", ErrInvalidPort, k)
		}
		ms, err := ParsePort(k)
		if err != nil {
			return nil, fmt.Errorf("image exposes %w", err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// CheckConflicts rejects two mappings of the same host port and protocol
// whose host addresses overlap: the same address, or a wildcard ("",
// 0.0.0.0, ::) and any other. Linux refuses to bind an address on a port
// that a wildcard socket of the same protocol holds, and the other way
// round, so the second mapping would fail at start as ErrPortInUse,
// blaming some other program. Host port 0 (random) never conflicts.
func CheckConflicts(ports []PortMapping) error {
	type key struct {
		port  uint16
		proto string
	}
	seen := map[key][]net.IP{}
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		k := key{p.HostPort, p.Protocol}
		ip := net.IPv4zero
		if p.HostIP != "" {
			ip = net.ParseIP(p.HostIP)
		}
		for _, other := range seen[k] {
			if ip.IsUnspecified() || other.IsUnspecified() || ip.Equal(other) {
				return fmt.Errorf("%w: host port %d/%s is given twice", ErrInvalidPort, p.HostPort, p.Protocol)
			}
		}
		seen[k] = append(seen[k], ip)
	}
	return nil
}
