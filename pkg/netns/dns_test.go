package netns

import (
	"errors"
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	slirp := Config{Mode: ModeSlirp4netns}
	const resolved = "# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"
	tests := []struct {
		name string
		host string
		c    Config
		o    DNSOptions
		want string
	}{
		{"systemd-resolved's stub is replaced by slirp4netns's forwarder", resolved, slirp, DNSOptions{},
			"search lan\nnameserver 10.0.2.3\noptions edns0 trust-ad\n"},
		{"the forwarder follows a custom cidr", "nameserver 127.0.0.53\n", Config{Mode: ModeSlirp4netns, CIDR: "10.99.0.0/16"}, DNSOptions{},
			"nameserver 10.99.0.3\n"},
		{"a loopback resolver is replaced by pasta's forwarder", "nameserver 127.0.0.1\n", Config{Mode: ModePasta}, DNSOptions{},
			"nameserver " + pastaDNS + "\n"},
		{"IPv6 loopback is replaced too", "nameserver ::1\n", slirp, DNSOptions{}, "nameserver 10.0.2.3\n"},
		{"any 127/8 address is loopback", "nameserver 127.1.2.3\n", slirp, DNSOptions{}, "nameserver 10.0.2.3\n"},
		// The forwarder reaches the host's resolvers, the loopback one
		// included; the others are not worth keeping beside it.
		{"a loopback resolver among others leaves only the forwarder", "nameserver 127.0.0.53\nnameserver 192.0.2.53\n", slirp, DNSOptions{},
			"nameserver 10.0.2.3\n"},
		{"reachable resolvers are kept in order", "nameserver 192.0.2.53\nnameserver 2001:db8::53\n", slirp, DNSOptions{},
			"nameserver 192.0.2.53\nnameserver 2001:db8::53\n"},
		{"a host without resolvers gets slirp4netns's forwarder", "", slirp, DNSOptions{}, "nameserver 10.0.2.3\n"},
		{"a host without resolvers gets pasta's forwarder", "search lan\n", Config{Mode: ModePasta}, DNSOptions{},
			"search lan\nnameserver " + pastaDNS + "\n"},
		{"host network keeps the loopback resolver", resolved, Config{Mode: ModeHost}, DNSOptions{},
			"search lan\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"},
		{"no network drops an unreachable loopback resolver", "nameserver 127.0.0.53\n", Config{Mode: ModeNone}, DNSOptions{}, ""},
		{"comments, short lines and other keywords are ignored",
			"# nameserver 192.0.2.1\n; nameserver 192.0.2.2\nnameserver\n\n  nameserver   192.0.2.3  \ndomain example.com\nsortlist 130.155.160.0\n", slirp, DNSOptions{},
			"nameserver 192.0.2.3\n"},
		{"the last search line wins", "search a.example b.example\nsearch c.example\nnameserver 192.0.2.3\n", slirp, DNSOptions{},
			"search c.example\nnameserver 192.0.2.3\n"},
		{"options lines add up", "options ndots:2\noptions rotate timeout:1\nnameserver 192.0.2.3\n", slirp, DNSOptions{},
			"nameserver 192.0.2.3\noptions ndots:2 rotate timeout:1\n"},
		{"--dns replaces every resolver", resolved, slirp, DNSOptions{Servers: []string{"192.0.2.9", "2001:db8::9"}},
			"search lan\nnameserver 192.0.2.9\nnameserver 2001:db8::9\noptions edns0 trust-ad\n"},
		{"--dns may name a loopback resolver", resolved, slirp, DNSOptions{Servers: []string{"127.0.0.1"}},
			"search lan\nnameserver 127.0.0.1\noptions edns0 trust-ad\n"},
		{"--dns-search replaces the search list", resolved, slirp, DNSOptions{Search: []string{"corp.example", "example"}},
			"search corp.example example\nnameserver 10.0.2.3\noptions edns0 trust-ad\n"},
		{"--dns-search=. clears the search list", resolved, slirp, DNSOptions{Search: []string{"."}},
			"nameserver 10.0.2.3\noptions edns0 trust-ad\n"},
		{"--dns-option replaces the options", resolved, slirp, DNSOptions{Options: []string{"ndots:1"}},
			"search lan\nnameserver 10.0.2.3\noptions ndots:1\n"},
		{"every override at once", resolved, Config{Mode: ModePasta},
			DNSOptions{Servers: []string{"192.0.2.9"}, Search: []string{"example"}, Options: []string{"rotate"}},
			"search example\nnameserver 192.0.2.9\noptions rotate\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(ResolvConf([]byte(tt.host), tt.c, tt.o))
			if got != tt.want {
				t.Errorf("ResolvConf(%q, %+v, %+v) =\n%s\nwant\n%s", tt.host, tt.c, tt.o, got, tt.want)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	const localhost = "127.0.0.1\tlocalhost localhost.localdomain\n" +
		"::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n"
	tests := []struct {
		name string
		c    Config
		o    HostsOptions
		want string
	}{
		{"slirp4netns: localhost and the container's address with hostname and name",
			Config{Mode: ModeSlirp4netns}, HostsOptions{Hostname: "0123456789ab", Name: "web"},
			localhost + "10.0.2.100\t0123456789ab web\n"},
		{"a name equal to the hostname is written once",
			Config{Mode: ModeSlirp4netns}, HostsOptions{Hostname: "web", Name: "web"},
			localhost + "10.0.2.100\tweb\n"},
		{"slirp4netns custom cidr",
			Config{Mode: ModeSlirp4netns, CIDR: "10.99.0.0/16"}, HostsOptions{Hostname: "web"},
			localhost + "10.99.0.100\tweb\n"},
		{"allow_host_loopback names the gateway host.containers.internal",
			Config{Mode: ModeSlirp4netns, AllowHostLoopback: true}, HostsOptions{Hostname: "web"},
			localhost + "10.0.2.100\tweb\n10.0.2.2\thost.containers.internal host.docker.internal\n"},
		{"without allow_host_loopback there is no host.containers.internal",
			Config{Mode: ModeSlirp4netns}, HostsOptions{Hostname: "web"},
			localhost + "10.0.2.100\tweb\n"},
		// pasta runs with --no-map-gw: the host is not reachable.
		{"pasta has no host.containers.internal even with AllowHostLoopback",
			Config{Mode: ModePasta, AllowHostLoopback: true}, HostsOptions{Hostname: "web"},
			localhost + "127.0.1.1\tweb\n"},
		{"none uses 127.0.1.1 for the hostname",
			Config{Mode: ModeNone}, HostsOptions{Hostname: "box", Name: "quiet"},
			localhost + "127.0.1.1\tbox quiet\n"},
		{"--add-host entries come before the container's line",
			Config{Mode: ModeSlirp4netns}, HostsOptions{Hostname: "web", ExtraHosts: []string{"db:192.0.2.10", "v6db:2001:db8::10"}},
			localhost + "192.0.2.10\tdb\n2001:db8::10\tv6db\n10.0.2.100\tweb\n"},
		{"host network starts from the host's file",
			Config{Mode: ModeHost}, HostsOptions{Hostname: "laptop", HostContent: []byte("127.0.0.1\tlocalhost\n192.0.2.7\tnas\n")},
			"127.0.0.1\tlocalhost\n192.0.2.7\tnas\n127.0.1.1\tlaptop\n"},
		{"host network: a host file without a final newline gets one",
			Config{Mode: ModeHost}, HostsOptions{Hostname: "laptop", HostContent: []byte("192.0.2.7\tnas")},
			"192.0.2.7\tnas\n127.0.1.1\tlaptop\n"},
		{"host network with an empty host file gets localhost lines",
			Config{Mode: ModeHost}, HostsOptions{Hostname: "laptop"},
			localhost + "127.0.1.1\tlaptop\n"},
		{"host-gateway is slirp4netns's gateway with allow_host_loopback",
			Config{Mode: ModeSlirp4netns, AllowHostLoopback: true, CIDR: "10.99.0.0/16"}, HostsOptions{Hostname: "web", ExtraHosts: []string{"gw:host-gateway"}},
			localhost + "10.99.0.2\tgw\n10.99.0.100\tweb\n10.99.0.2\thost.containers.internal host.docker.internal\n"},
		{"host-gateway is the loopback address in the host's network",
			Config{Mode: ModeHost}, HostsOptions{Hostname: "laptop", ExtraHosts: []string{"gw:host-gateway"}},
			localhost + "127.0.0.1\tgw\n127.0.1.1\tlaptop\n"},
		{"the host's file is used only with host network",
			Config{Mode: ModeSlirp4netns}, HostsOptions{Hostname: "web", HostContent: []byte("192.0.2.7\tnas\n")},
			localhost + "10.0.2.100\tweb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Hosts(tt.c, tt.o))
			if got != tt.want {
				t.Errorf("Hosts(%+v, %+v) =\n%s\nwant\n%s", tt.c, tt.o, got, tt.want)
			}
		})
	}
}

func TestParseAddHost(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"db:192.0.2.10", true},
		{"db.example.com:192.0.2.10", true},
		{"v6db:2001:db8::10", true},
		{"loop:::1", true},
		{"gw:host-gateway", true},
		{"gw:host-gateways", false},
		{"db", false},
		{"db:", false},
		{":192.0.2.10", false},
		{"db:db.example.com", false},
		{"db:192.0.2.300", false},
		{"my db:192.0.2.10", false},
		{"db\t:192.0.2.10", false},
		{"db\n192.0.2.11 evil:192.0.2.10", false},
		{"", false},
	}
	for _, tt := range tests {
		err := ParseAddHost(tt.s)
		if tt.ok && err != nil {
			t.Errorf("ParseAddHost(%q) = %v, want nil", tt.s, err)
		}
		if !tt.ok && err == nil {
			t.Errorf("ParseAddHost(%q) = nil, want an error", tt.s)
		}
	}
}

func TestHostGateway(t *testing.T) {
	for _, c := range []Config{{Mode: ModeSlirp4netns}, {Mode: ModePasta, AllowHostLoopback: true}, {Mode: ModeNone}, {Mode: ModeContainer}} {
		if gw, err := HostGateway(c); !errors.Is(err, ErrInvalidNetwork) || !strings.Contains(err.Error(), "allow_host_loopback=true") {
			t.Errorf("HostGateway(%+v) = %q, %v; want ErrInvalidNetwork naming the fix", c, gw, err)
		}
	}
}
