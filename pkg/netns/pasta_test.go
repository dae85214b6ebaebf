package netns

import (
	"slices"
	"testing"
)

func TestPastaArgs(t *testing.T) {
	common := []string{"--config-net", "--quiet", "--pid", "/run/ctr/pasta.pid",
		"--no-map-gw", "--dns-forward", pastaDNS, "-T", "none", "-U", "none"}
	ns := []string{"--userns", "/proc/4242/ns/user", "--netns", "/proc/4242/ns/net"}
	args := func(middle ...string) []string {
		return slices.Concat(common, middle, ns)
	}
	tests := []struct {
		name  string
		c     Config
		ports []PortMapping
		want  []string
	}{
		{"no ports forwards nothing", Config{Mode: ModePasta}, nil,
			args("-t", "none", "-u", "none")},
		{"tcp port", Config{Mode: ModePasta}, []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			args("-t", "8080:80", "-u", "none")},
		{"udp port", Config{Mode: ModePasta}, []PortMapping{{HostPort: 5353, ContainerPort: 53, Protocol: "udp"}},
			args("-t", "none", "-u", "5353:53")},
		{"an empty protocol is tcp", Config{Mode: ModePasta}, []PortMapping{{HostPort: 8080, ContainerPort: 80}},
			args("-t", "8080:80", "-u", "none")},
		{"IPv4 address is ADDR/PORTS", Config{Mode: ModePasta}, []PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			args("-t", "127.0.0.1/8080:80", "-u", "none")},
		// pasta(1) parses ADDR with inet_pton: "[::1]/8080:80" is an
		// invalid port specifier.
		{"IPv6 address is bare, not bracketed", Config{Mode: ModePasta}, []PortMapping{{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			args("-t", "::1/8080:80", "-u", "none")},
		{"several ports of both protocols keep their order", Config{Mode: ModePasta}, []PortMapping{
			{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: 8443, ContainerPort: 443, Protocol: "tcp"},
			{HostPort: 5354, ContainerPort: 54, Protocol: "udp"},
		}, args("-t", "8080:80", "-t", "127.0.0.1/8443:443", "-u", "5353:53", "-u", "5354:54")},
		{"extra pasta options go before the namespaces", Config{Mode: ModePasta, PastaArgs: []string{"-4", "--mtu", "1500"}}, nil,
			args("-t", "none", "-u", "none", "-4", "--mtu", "1500")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PastaArgs(4242, tt.c, tt.ports, "/run/ctr/pasta.pid")
			if !slices.Equal(got, tt.want) {
				t.Errorf("PastaArgs(4242, %+v, %+v, ...) =\n%q\nwant\n%q", tt.c, tt.ports, got, tt.want)
			}
		})
	}
}

func TestPastaArgsFromParsedPorts(t *testing.T) {
	ports := mustParsePort(t, "[::1]:9000-9001:90-91/udp")
	got := PastaArgs(1, Config{Mode: ModePasta}, ports, "p")
	for _, want := range []string{"::1/9000:90", "::1/9001:91"} {
		i := slices.Index(got, want)
		if i < 1 || got[i-1] != "-u" {
			t.Errorf("PastaArgs(%+v) = %q, want -u %s", ports, got, want)
		}
	}
}

func TestReadPidFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int
		ok      bool
	}{
		{"pid and newline", "4242\n", 4242, true},
		{"surrounding whitespace", "  17 \n", 17, true},
		{"pid 1", "1", 1, true},
		{"empty", "", 0, false},
		{"only a newline", "\n", 0, false},
		{"zero", "0\n", 0, false},
		{"negative", "-5\n", 0, false},
		{"not a number", "pasta\n", 0, false},
		{"two numbers", "12 34\n", 0, false},
		{"too big for an int", "99999999999999999999\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPidFile([]byte(tt.content))
			if tt.ok && (err != nil || got != tt.want) {
				t.Errorf("ReadPidFile(%q) = %d, %v, want %d", tt.content, got, err, tt.want)
			}
			if !tt.ok && err == nil {
				t.Errorf("ReadPidFile(%q) = %d, nil, want an error", tt.content, got)
			}
		})
	}
}
