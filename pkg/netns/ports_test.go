package netns

import (
	"errors"
	"reflect"
	"testing"
)

func TestParsePort(t *testing.T) {
	tcp := func(ip string, host, ctr uint16) PortMapping {
		return PortMapping{HostIP: ip, HostPort: host, ContainerPort: ctr, Protocol: "tcp"}
	}
	udp := func(ip string, host, ctr uint16) PortMapping {
		return PortMapping{HostIP: ip, HostPort: host, ContainerPort: ctr, Protocol: "udp"}
	}
	tests := []struct {
		name string
		spec string
		want []PortMapping
	}{
		{"container port alone gets a random host port", "80", []PortMapping{tcp("", 0, 80)}},
		{"host and container port", "8080:80", []PortMapping{tcp("", 8080, 80)}},
		{"empty host port means a random one", ":80", []PortMapping{tcp("", 0, 80)}},
		{"IPv4 address, host and container port", "127.0.0.1:8080:80", []PortMapping{tcp("127.0.0.1", 8080, 80)}},
		{"IPv4 address with a random host port", "127.0.0.1::80", []PortMapping{tcp("127.0.0.1", 0, 80)}},
		{"wildcard IPv4 address is kept as given", "0.0.0.0:8080:80", []PortMapping{tcp("0.0.0.0", 8080, 80)}},
		{"bracketed IPv6 address", "[::1]:8080:80", []PortMapping{tcp("::1", 8080, 80)}},
		{"bracketed IPv6 address with a random host port", "[fd00::1]::80", []PortMapping{tcp("fd00::1", 0, 80)}},
		{"explicit tcp", "8080:80/tcp", []PortMapping{tcp("", 8080, 80)}},
		{"udp", "5353:53/udp", []PortMapping{udp("", 5353, 53)}},
		{"protocol is case-insensitive", "53/UDP", []PortMapping{udp("", 0, 53)}},
		{"IPv6 address and udp", "[::1]:5353:53/udp", []PortMapping{udp("::1", 5353, 53)}},
		{"lowest and highest ports", "1:65535", []PortMapping{tcp("", 1, 65535)}},
		{"single-port range", "80-80", []PortMapping{tcp("", 0, 80)}},
		{"equal ranges map port by port", "8000-8002:80-82", []PortMapping{
			tcp("", 8000, 80), tcp("", 8001, 81), tcp("", 8002, 82),
		}},
		{"container range alone gets random host ports", "80-81/udp", []PortMapping{udp("", 0, 80), udp("", 0, 81)}},
		{"ranges with an address and a protocol", "127.0.0.1:9000-9001:90-91/udp", []PortMapping{
			udp("127.0.0.1", 9000, 90), udp("127.0.0.1", 9001, 91),
		}},
		{"ranges with an IPv6 address", "[::1]:9000-9001:90-91", []PortMapping{
			tcp("::1", 9000, 90), tcp("::1", 9001, 91),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePort(tt.spec)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePort(%q) = %+v, %v, want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
}

func TestParsePortWidestRange(t *testing.T) {
	got, err := ParsePort("1-65535:1-65535")
	if err != nil {
		t.Fatalf("ParsePort(1-65535:1-65535) error = %v", err)
	}
	if len(got) != 65535 {
		t.Fatalf("ParsePort(1-65535:1-65535) gave %d mappings, want 65535", len(got))
	}
	// The counters are uint16: the last mapping must not have wrapped.
	if first, last := got[0], got[len(got)-1]; first.HostPort != 1 || first.ContainerPort != 1 ||
		last.HostPort != 65535 || last.ContainerPort != 65535 {
		t.Errorf("ParsePort(1-65535:1-65535) runs from %+v to %+v, want 1:1 to 65535:65535", first, last)
	}
}

func TestParsePortRejects(t *testing.T) {
	tests := []struct{ name, spec string }{
		{"empty spec", ""},
		{"garbage", "http"},
		{"protocol alone", "/tcp"},
		{"empty protocol", "80/"},
		{"sctp", "80/sctp"},
		{"two protocols", "80/tcp/udp"},
		{"host port 0", "0:80"},
		{"container port 0", "8080:0"},
		{"host port above 65535", "70000:80"},
		{"container port above 65535", "80:70000"},
		{"negative port", "-80"},
		{"empty container port", "8080:"},
		{"address where the host port goes", "127.0.0.1:80"},
		{"host name instead of an address", "localhost:8080:80"},
		{"empty address", ":8080:80"},
		{"too many fields", "1.2.3.4:80:80:80"},
		{"unbracketed IPv6 address", "::1:8080:80"},
		{"IPv4 address in brackets", "[127.0.0.1]:8080:80"},
		{"bracketed garbage", "[nope]:8080:80"},
		{"unclosed bracket", "[::1:8080:80"},
		{"bracketed address without ports", "[::1]"},
		{"bracketed address with only one port", "[::1]:80"},
		{"bracketed address not followed by a colon", "[::1]8080:80"},
		{"unequal ranges", "1-3:4-5"},
		{"host range for a single container port", "8000-8010:80"},
		{"single host port for a container range", "8000:80-90"},
		{"backwards range", "90-80"},
		{"open-ended range", "80-"},
		{"range running past 65535", "65530-65540"},
		{"three-part range", "80-90-100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePort(tt.spec)
			if !errors.Is(err, ErrInvalidPort) {
				t.Errorf("ParsePort(%q) = %+v, %v, want ErrInvalidPort", tt.spec, got, err)
			}
		})
	}
}

func TestPortMappingString(t *testing.T) {
	tests := []struct {
		name string
		m    PortMapping
		want string
	}{
		{"all addresses show as 0.0.0.0", PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "80/tcp -> 0.0.0.0:8080"},
		{"IPv4 address", PortMapping{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "80/tcp -> 127.0.0.1:8080"},
		{"IPv6 address is bracketed", PortMapping{HostIP: "::1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"}, "53/udp -> [::1]:5353"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
}

func TestExposedPorts(t *testing.T) {
	tests := []struct {
		name    string
		exposed map[string]struct{}
		want    []PortMapping
	}{
		{"nothing exposed", nil, nil},
		{"sorted by key, with random host ports", map[string]struct{}{"80/tcp": {}, "53/udp": {}, "443/tcp": {}}, []PortMapping{
			{ContainerPort: 443, Protocol: "tcp"},
			{ContainerPort: 53, Protocol: "udp"},
			{ContainerPort: 80, Protocol: "tcp"},
		}},
		{"a key without a protocol is tcp", map[string]struct{}{"8080": {}}, []PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}},
		{"a range is expanded", map[string]struct{}{"7000-7001/udp": {}}, []PortMapping{
			{ContainerPort: 7000, Protocol: "udp"},
			{ContainerPort: 7001, Protocol: "udp"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExposedPorts(tt.exposed)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExposedPorts(%v) = %+v, %v, want %+v", tt.exposed, got, err, tt.want)
			}
		})
	}
}

func TestExposedPortsRejects(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"unsupported protocol", "132/sctp"},
		{"not a port", "http"},
		// -P publishes on random host ports: an image must not pick
		// the host port or address.
		{"a host port", "8080:80/tcp"},
		{"a host address", "0.0.0.0:8080:80"},
		{"a host address with a random port", "127.0.0.1::80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exposed := map[string]struct{}{"80/tcp": {}, tt.key: {}}
			got, err := ExposedPorts(exposed)
			if !errors.Is(err, ErrInvalidPort) {
				t.Errorf("ExposedPorts(%v) = %+v, %v, want ErrInvalidPort", exposed, got, err)
			}
		})
	}
}

func TestCheckConflicts(t *testing.T) {
	m := func(ip string, host uint16, proto string) PortMapping {
		return PortMapping{HostIP: ip, HostPort: host, ContainerPort: 80, Protocol: proto}
	}
	tests := []struct {
		name     string
		ports    []PortMapping
		conflict bool
	}{
		{"no ports", nil, false},
		{"different host ports", []PortMapping{m("", 8080, "tcp"), m("", 8081, "tcp")}, false},
		{"same host port, tcp and udp", []PortMapping{m("", 53, "tcp"), m("", 53, "udp")}, false},
		{"random host ports never conflict", []PortMapping{m("", 0, "tcp"), m("", 0, "tcp")}, false},
		{"same port on two specific addresses", []PortMapping{m("127.0.0.1", 8080, "tcp"), m("127.0.0.2", 8080, "tcp")}, false},
		{"same port on IPv4 and IPv6 loopback", []PortMapping{m("127.0.0.1", 8080, "tcp"), m("::1", 8080, "tcp")}, false},
		{"same host port twice", []PortMapping{m("", 8080, "tcp"), m("", 8080, "tcp")}, true},
		{"same udp port twice", []PortMapping{m("", 53, "udp"), m("", 53, "udp")}, true},
		{"same address and port twice", []PortMapping{m("127.0.0.1", 8080, "tcp"), m("127.0.0.1", 8080, "tcp")}, true},
		{"the same IPv6 address spelt two ways", []PortMapping{m("::1", 8080, "tcp"), m("0:0::1", 8080, "tcp")}, true},
		// "" and 0.0.0.0 both mean every address, and a wildcard
		// socket keeps any other address of the port from binding.
		{"all addresses given as empty and as 0.0.0.0", []PortMapping{m("", 8080, "tcp"), m("0.0.0.0", 8080, "tcp")}, true},
		{"all addresses, then a specific one", []PortMapping{m("", 8080, "tcp"), m("127.0.0.1", 8080, "tcp")}, true},
		{"a specific address, then all IPv4 addresses", []PortMapping{m("127.0.0.1", 8080, "udp"), m("0.0.0.0", 8080, "udp")}, true},
		{"a specific address, then all IPv6 addresses", []PortMapping{m("::1", 8080, "tcp"), m("::", 8080, "tcp")}, true},
		{"a range overlapping a single port", append(mustParsePort(t, "8000-8010:80-90"), mustParsePort(t, "8005:443")...), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConflicts(tt.ports)
			if tt.conflict && !errors.Is(err, ErrInvalidPort) {
				t.Errorf("CheckConflicts(%+v) = %v, want ErrInvalidPort", tt.ports, err)
			}
			if !tt.conflict && err != nil {
				t.Errorf("CheckConflicts(%+v) = %v, want nil", tt.ports, err)
			}
		})
	}
}

func mustParsePort(t *testing.T, spec string) []PortMapping {
	t.Helper()
	ms, err := ParsePort(spec)
	if err != nil {
		t.Fatalf("ParsePort(%q) error = %v", spec, err)
	}
	return ms
}
