package netns

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Network modes.
const (
	ModeSlirp4netns = "slirp4netns"
	ModePasta       = "pasta"
	ModeNone        = "none"
	ModeHost        = "host"
	ModeContainer   = "container" // container:NAME shares another container's
)

// Port handlers for slirp4netns.
const (
	PortHandlerRootlesskit = "rootlesskit" // in-process proxy (default)
	PortHandlerSlirp       = "slirp4netns" // slirp4netns's own hostfwd
)

// ErrInvalidNetwork is matched by errors.Is for a bad --network value.
var ErrInvalidNetwork = errors.New("invalid network")

// Config is a parsed --network value.
type Config struct {
	Mode string `json:"mode"`
	// Container names the container whose network namespace is shared
	// (ModeContainer).
	Container string `json:"container,omitempty"`
	// slirp4netns options.
	MTU               int    `json:"mtu,omitempty"`
	CIDR              string `json:"cidr,omitempty"`
	AllowHostLoopback bool   `json:"allowHostLoopback,omitempty"`
	EnableIPv6        bool   `json:"enableIPv6,omitempty"`
	PortHandler       string `json:"portHandler,omitempty"`
	// PastaArgs are extra pasta options.
	PastaArgs []string `json:"pastaArgs,omitempty"`
}

// DefaultMode is the network of a rootless container unless told otherwise:
// slirp4netns, because it runs from inside the container's user namespace
// (so the container's monitor can start it again on every restart) and exits
// by itself with the container. Debian 12's pasta must be started from the
// host side and stopped explicitly (see docs/networking.md).
const DefaultMode = ModeSlirp4netns

// ParseNetwork parses --network: none, host, container:NAME,
// slirp4netns[:mtu=N,cidr=CIDR,allow_host_loopback=BOOL,enable_ipv6=BOOL,port_handler=rootlesskit|slirp4netns]
// or pasta[:ARG,ARG...].
func ParseNetwork(s string) (Config, error) {
	if s == "" {
		s = DefaultMode
	}
	mode, opts, hasOpts := strings.Cut(s, ":")
	bad := func(why string) (Config, error) {
		return Config{}, fmt.Errorf("%w %q: %s", ErrInvalidNetwork, s, why)
	}
	c := Config{Mode: mode}
	switch mode {
	case ModeNone, ModeHost:
		if hasOpts {
			return bad(mode + " takes no options")
		}
	case "private":
		// podman's name for the default. It must get the default's
		// options too: a zero MTU makes slirp4netns refuse to start.
		if hasOpts {
			return bad("private takes no options")
		}
		return ParseNetwork(DefaultMode)
	case ModeContainer:
		if opts == "" {
			return bad("want container:NAME")
		}
		c.Container = opts
	case ModePasta:
		if hasOpts {
			c.PastaArgs = strings.Split(opts, ",")
			if slices.Contains(c.PastaArgs, "") {
				// pasta would get an empty argument and fail obscurely.
				return bad("empty pasta option: want pasta:ARG[,ARG...]")
			}
		}
	case ModeSlirp4netns:
		c.MTU, c.PortHandler = 65520, PortHandlerRootlesskit
		if !hasOpts {
			break
		}
		for _, o := range strings.Split(opts, ",") {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return bad(fmt.Sprintf("option %q: want KEY=VALUE", o))
			}
			switch k {
			case "mtu":
				n, err := strconv.Atoi(v)
				if err != nil || n < 68 || n > 65521 {
					return bad("mtu must be 68-65521")
				}
				c.MTU = n
			case "cidr":
				ip, ipnet, err := net.ParseCIDR(v)
				if err != nil || ip.To4() == nil {
					return bad(fmt.Sprintf("cidr %q is not an IPv4 network", v))
				}
				if ones, _ := ipnet.Mask.Size(); ones > 25 {
					return bad("cidr must be /25 or larger (slirp4netns uses .2, .3 and .100)")
				}
				c.CIDR = ipnet.String()
			case "allow_host_loopback", "enable_ipv6":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return bad(fmt.Sprintf("%s must be true or false", k))
				}
				if k == "enable_ipv6" {
					c.EnableIPv6 = b
				} else {
					c.AllowHostLoopback = b
				}
			case "port_handler":
				if v != PortHandlerRootlesskit && v != PortHandlerSlirp {
					return bad("port_handler must be rootlesskit or slirp4netns")
				}
				c.PortHandler = v
			default:
				return bad(fmt.Sprintf("unknown slirp4netns option %q", k))
			}
		}
	default:
		return bad("want none, host, container:NAME, slirp4netns[:options] or pasta[:options]")
	}
	return c, nil
}

// HasOwnNetwork reports whether the mode gives the container a new
// network namespace (with a user-mode network attached).
func (c Config) HasOwnNetwork() bool { return c.Mode == ModeSlirp4netns || c.Mode == ModePasta }

// slirpAddrs returns the container's, the gateway's and the DNS
// forwarder's addresses for slirp4netns's network (10.0.2.0/24: .100, .2, .3).
func slirpAddrs(cidr string) (ip, gw, dns net.IP) {
	if cidr == "" {
		cidr = "10.0.2.0/24"
	}
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, nil, nil
	}
	base := n.IP.To4()
	at := func(last byte) net.IP { return net.IPv4(base[0], base[1], base[2], base[3]+last) }
	return at(100), at(2), at(3)
}

// Addresses returns the container's IP, gateway and DNS server in a
// slirp4netns network, for /etc/hosts and resolv.conf.
func (c Config) Addresses() (ip, gw, dns string) {
	if c.Mode != ModeSlirp4netns {
		return "", "", ""
	}
	a, g, d := slirpAddrs(c.CIDR)
	return a.String(), g.String(), d.String()
}
