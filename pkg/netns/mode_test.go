package netns

import (
	"errors"
	"net"
	"reflect"
	"testing"
)

func TestParseNetwork(t *testing.T) {
	slirpDefault := Config{Mode: ModeSlirp4netns, MTU: 65520, PortHandler: PortHandlerRootlesskit}
	tests := []struct {
		name string
		s    string
		want Config
	}{
		{"empty is the default, slirp4netns", "", slirpDefault},
		{"slirp4netns without options gets the default MTU and port handler", "slirp4netns", slirpDefault},
		// podman's name for the default network.
		{"private is the default with its options", "private", slirpDefault},
		{"none", "none", Config{Mode: ModeNone}},
		{"host", "host", Config{Mode: ModeHost}},
		{"container:NAME", "container:web", Config{Mode: ModeContainer, Container: "web"}},
		{"container:ID", "container:0123456789ab", Config{Mode: ModeContainer, Container: "0123456789ab"}},
		{"pasta without options", "pasta", Config{Mode: ModePasta}},
		{"pasta options are split on commas", "pasta:-4,--mtu,1500", Config{Mode: ModePasta, PastaArgs: []string{"-4", "--mtu", "1500"}}},
		{"slirp4netns mtu", "slirp4netns:mtu=1500",
			Config{Mode: ModeSlirp4netns, MTU: 1500, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns smallest mtu", "slirp4netns:mtu=68",
			Config{Mode: ModeSlirp4netns, MTU: 68, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns largest mtu", "slirp4netns:mtu=65521",
			Config{Mode: ModeSlirp4netns, MTU: 65521, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns cidr", "slirp4netns:cidr=10.99.0.0/16",
			Config{Mode: ModeSlirp4netns, MTU: 65520, CIDR: "10.99.0.0/16", PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns cidr is reduced to its network", "slirp4netns:cidr=10.0.3.7/24",
			Config{Mode: ModeSlirp4netns, MTU: 65520, CIDR: "10.0.3.0/24", PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns cidr of the smallest size", "slirp4netns:cidr=192.168.7.128/25",
			Config{Mode: ModeSlirp4netns, MTU: 65520, CIDR: "192.168.7.128/25", PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns allow_host_loopback", "slirp4netns:allow_host_loopback=true",
			Config{Mode: ModeSlirp4netns, MTU: 65520, AllowHostLoopback: true, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns allow_host_loopback=false", "slirp4netns:allow_host_loopback=false",
			Config{Mode: ModeSlirp4netns, MTU: 65520, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns enable_ipv6", "slirp4netns:enable_ipv6=true",
			Config{Mode: ModeSlirp4netns, MTU: 65520, EnableIPv6: true, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns booleans take strconv forms", "slirp4netns:enable_ipv6=1,allow_host_loopback=T",
			Config{Mode: ModeSlirp4netns, MTU: 65520, EnableIPv6: true, AllowHostLoopback: true, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns port_handler=slirp4netns", "slirp4netns:port_handler=slirp4netns",
			Config{Mode: ModeSlirp4netns, MTU: 65520, PortHandler: PortHandlerSlirp}},
		{"slirp4netns port_handler=rootlesskit", "slirp4netns:port_handler=rootlesskit",
			Config{Mode: ModeSlirp4netns, MTU: 65520, PortHandler: PortHandlerRootlesskit}},
		{"slirp4netns with every option", "slirp4netns:mtu=9000,cidr=10.5.0.0/24,allow_host_loopback=true,enable_ipv6=true,port_handler=slirp4netns",
			Config{Mode: ModeSlirp4netns, MTU: 9000, CIDR: "10.5.0.0/24", AllowHostLoopback: true, EnableIPv6: true, PortHandler: PortHandlerSlirp}},
		{"slirp4netns: the last of a repeated option wins", "slirp4netns:mtu=1500,mtu=9000",
			Config{Mode: ModeSlirp4netns, MTU: 9000, PortHandler: PortHandlerRootlesskit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetwork(tt.s)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseNetwork(%q) = %+v, %v, want %+v", tt.s, got, err, tt.want)
			}
		})
	}
}

func TestParseNetworkRejects(t *testing.T) {
	tests := []struct{ name, s string }{
		{"unknown mode", "bridge"},
		{"mode names are case-sensitive", "Host"},
		{"none with options", "none:x"},
		{"host with options", "host:x"},
		{"private with options", "private:mtu=1500"},
		{"container without a colon", "container"},
		{"container without a name", "container:"},
		{"slirp4netns with an empty option list", "slirp4netns:"},
		{"slirp4netns option without a value", "slirp4netns:mtu"},
		{"slirp4netns unknown option", "slirp4netns:outbound_addr=10.0.0.1"},
		{"slirp4netns mtu below 68", "slirp4netns:mtu=67"},
		{"slirp4netns mtu above 65521", "slirp4netns:mtu=65522"},
		{"slirp4netns mtu not a number", "slirp4netns:mtu=big"},
		{"slirp4netns cidr not a network", "slirp4netns:cidr=10.0.2.0"},
		{"slirp4netns cidr garbage", "slirp4netns:cidr=nope"},
		{"slirp4netns IPv6 cidr", "slirp4netns:cidr=fd00::/64"},
		{"slirp4netns cidr smaller than /25", "slirp4netns:cidr=10.0.2.0/26"},
		{"slirp4netns allow_host_loopback not a boolean", "slirp4netns:allow_host_loopback=yes"},
		{"slirp4netns enable_ipv6 not a boolean", "slirp4netns:enable_ipv6=maybe"},
		{"slirp4netns unknown port_handler", "slirp4netns:port_handler=pasta"},
		{"slirp4netns a bad option after a good one", "slirp4netns:mtu=1500,cidr=x"},
		{"pasta with an empty option list", "pasta:"},
		{"pasta with an empty option", "pasta:-4,,--mtu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetwork(tt.s)
			if !errors.Is(err, ErrInvalidNetwork) {
				t.Errorf("ParseNetwork(%q) = %+v, %v, want ErrInvalidNetwork", tt.s, got, err)
			}
		})
	}
}

func TestHasOwnNetwork(t *testing.T) {
	for mode, want := range map[string]bool{
		ModeSlirp4netns: true,
		ModePasta:       true,
		ModeNone:        false,
		ModeHost:        false,
		ModeContainer:   false,
	} {
		if got := (Config{Mode: mode}).HasOwnNetwork(); got != want {
			t.Errorf("Config{Mode: %q}.HasOwnNetwork() = %v, want %v", mode, got, want)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name        string
		c           Config
		ip, gw, dns string
	}{
		{"slirp4netns default network", Config{Mode: ModeSlirp4netns}, "10.0.2.100", "10.0.2.2", "10.0.2.3"},
		{"slirp4netns custom /16", Config{Mode: ModeSlirp4netns, CIDR: "10.99.0.0/16"}, "10.99.0.100", "10.99.0.2", "10.99.0.3"},
		{"slirp4netns upper half of a /24", Config{Mode: ModeSlirp4netns, CIDR: "192.168.7.128/25"}, "192.168.7.228", "192.168.7.130", "192.168.7.131"},
		{"pasta has no fixed addresses", Config{Mode: ModePasta}, "", "", ""},
		{"none", Config{Mode: ModeNone}, "", "", ""},
		{"host", Config{Mode: ModeHost}, "", "", ""},
		{"container", Config{Mode: ModeContainer, Container: "web"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, gw, dns := tt.c.Addresses()
			if ip != tt.ip || gw != tt.gw || dns != tt.dns {
				t.Errorf("%+v.Addresses() = %q, %q, %q, want %q, %q, %q", tt.c, ip, gw, dns, tt.ip, tt.gw, tt.dns)
			}
		})
	}
}

// Every CIDR that ParseNetwork accepts must give addresses inside it.
func TestAddressesOfParsedCIDRAreInside(t *testing.T) {
	for _, cidr := range []string{"10.0.2.0/24", "10.0.0.0/8", "172.16.5.0/25", "172.16.5.128/25", "192.168.255.128/25"} {
		c, err := ParseNetwork("slirp4netns:cidr=" + cidr)
		if err != nil {
			t.Fatalf("ParseNetwork(cidr=%s) error = %v", cidr, err)
		}
		_, n, err := net.ParseCIDR(c.CIDR)
		if err != nil {
			t.Fatalf("ParseNetwork(cidr=%s) kept CIDR %q: %v", cidr, c.CIDR, err)
		}
		ip, gw, dns := c.Addresses()
		for _, a := range []string{ip, gw, dns} {
			if !n.Contains(net.ParseIP(a)) {
				t.Errorf("ParseNetwork(cidr=%s).Addresses() gave %s, outside %s", cidr, a, c.CIDR)
			}
		}
	}
}
