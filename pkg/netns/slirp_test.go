package netns

import (
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSlirpArgs(t *testing.T) {
	base := []string{"--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--ready-fd=3", "--exit-fd=4"}
	tests := []struct {
		name string
		c    Config
		api  string
		want []string
	}{
		{"default: host loopback is unreachable", Config{Mode: ModeSlirp4netns, MTU: 65520},
			"", slices.Concat(base, []string{"--disable-host-loopback", "42", "tap0"})},
		{"allow_host_loopback drops --disable-host-loopback", Config{Mode: ModeSlirp4netns, MTU: 65520, AllowHostLoopback: true},
			"", slices.Concat(base, []string{"42", "tap0"})},
		{"mtu, cidr and IPv6", Config{Mode: ModeSlirp4netns, MTU: 1500, CIDR: "10.99.0.0/16", EnableIPv6: true}, "",
			[]string{"--configure", "--mtu=1500", "--enable-sandbox", "--enable-seccomp", "--ready-fd=3", "--exit-fd=4",
				"--disable-host-loopback", "--cidr=10.99.0.0/16", "--enable-ipv6", "42", "tap0"}},
		{"API socket for port_handler=slirp4netns", Config{Mode: ModeSlirp4netns, MTU: 65520, PortHandler: PortHandlerSlirp},
			"/run/user/1000/ctr-slirp-1/api.sock",
			slices.Concat(base, []string{"--disable-host-loopback", "--api-socket=/run/user/1000/ctr-slirp-1/api.sock", "42", "tap0"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slirpArgs(42, tt.c, tt.api); !slices.Equal(got, tt.want) {
				t.Errorf("slirpArgs(42, %+v, %q) =\n%q\nwant\n%q", tt.c, tt.api, got, tt.want)
			}
		})
	}
}

// The parsed default must start slirp4netns with an MTU it accepts:
// slirp4netns refuses --mtu=0.
func TestSlirpArgsOfParsedDefaults(t *testing.T) {
	for _, s := range []string{"", "slirp4netns", "private"} {
		c, err := ParseNetwork(s)
		if err != nil {
			t.Fatalf("ParseNetwork(%q) error = %v", s, err)
		}
		if args := slirpArgs(1, c, ""); !slices.Contains(args, "--mtu=65520") || !slices.Contains(args, "--disable-host-loopback") {
			t.Errorf("slirpArgs of ParseNetwork(%q) = %q, want --mtu=65520 and --disable-host-loopback", s, args)
		}
	}
}

func TestShortTempBase(t *testing.T) {
	tests := []struct {
		name, xdg, want string
	}{
		{"short XDG_RUNTIME_DIR", "/run/user/1000", "/run/user/1000"},
		{"unset XDG_RUNTIME_DIR", "", "/tmp"},
		{"XDG_RUNTIME_DIR too long for a socket path", "/" + strings.Repeat("d", 59), "/tmp"},
		{"XDG_RUNTIME_DIR just short enough", "/" + strings.Repeat("d", 58), "/" + strings.Repeat("d", 58)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tt.xdg)
			if got := shortTempBase(); got != tt.want {
				t.Errorf("shortTempBase() with XDG_RUNTIME_DIR=%q = %q, want %q", tt.xdg, got, tt.want)
			}
		})
	}
}

// fakeSlirpAPI serves one request on a unix socket as slirp4netns's API
// does (read to EOF, answer, close), sending the request it got on the
// returned channel.
func fakeSlirpAPI(t *testing.T, path, reply string) <-chan map[string]any {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan map[string]any, 1)
	go func() {
		defer close(got)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err != nil {
			return
		}
		var req map[string]any
		if json.Unmarshal(b, &req) == nil {
			got <- req
		}
		_, _ = io.WriteString(c, reply)
	}()
	return got
}

func TestAddHostForward(t *testing.T) {
	// Short: sun_path is 108 bytes, and subtest names would lengthen it.
	dir := t.TempDir()
	t.Run("sends add_hostfwd with all addresses as 0.0.0.0", func(t *testing.T) {
		s := &Slirp{api: filepath.Join(dir, "a.sock")}
		reqs := fakeSlirpAPI(t, s.api, `{"return": {"id": 1}}`)
		if err := s.AddHostForward(PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "10.0.2.100"); err != nil {
			t.Fatalf("AddHostForward() = %v, want nil", err)
		}
		want := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
			"proto": "tcp", "host_addr": "0.0.0.0", "host_port": 8080.0, "guest_addr": "10.0.2.100", "guest_port": 80.0,
		}}
		if got := <-reqs; !reflect.DeepEqual(got, want) {
			t.Errorf("AddHostForward() sent %v, want %v", got, want)
		}
	})
	t.Run("keeps a given host address and protocol", func(t *testing.T) {
		s := &Slirp{api: filepath.Join(dir, "b.sock")}
		reqs := fakeSlirpAPI(t, s.api, `{"return": {"id": 2}}`)
		if err := s.AddHostForward(PortMapping{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"}, "10.0.2.100"); err != nil {
			t.Fatalf("AddHostForward() = %v, want nil", err)
		}
		args, _ := (<-reqs)["arguments"].(map[string]any)
		if args["host_addr"] != "127.0.0.1" || args["proto"] != "udp" {
			t.Errorf("AddHostForward() sent arguments %v, want host_addr 127.0.0.1 and proto udp", args)
		}
	})
	t.Run("an error reply is returned with its description", func(t *testing.T) {
		s := &Slirp{api: filepath.Join(dir, "c.sock")}
		fakeSlirpAPI(t, s.api, `{"error": {"desc": "bad request: add_hostfwd: slirp_add_hostfwd failed"}}`)
		err := s.AddHostForward(PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "10.0.2.100")
		if err == nil || !strings.Contains(err.Error(), "slirp_add_hostfwd failed") {
			t.Errorf("AddHostForward() = %v, want the API's error description", err)
		}
	})
	t.Run("no API socket", func(t *testing.T) {
		if err := (&Slirp{}).AddHostForward(PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "10.0.2.100"); err == nil {
			t.Error("AddHostForward() without an API socket = nil, want an error")
		}
	})
	t.Run("API socket gone", func(t *testing.T) {
		s := &Slirp{api: filepath.Join(dir, "missing.sock")}
		if err := s.AddHostForward(PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "10.0.2.100"); err == nil {
			t.Error("AddHostForward() with no listener = nil, want an error")
		}
	})
}

func TestFreePort(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		t.Run(proto+" on loopback", func(t *testing.T) {
			p, err := FreePort(PortMapping{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: proto})
			if err != nil || p == 0 {
				t.Errorf("FreePort(127.0.0.1 %s) = %d, %v, want a port", proto, p, err)
			}
		})
		t.Run(proto+" on an address this host lacks", func(t *testing.T) {
			// 192.0.2.0/24 is TEST-NET-1 (RFC 5737), assigned to nobody.
			if p, err := FreePort(PortMapping{HostIP: "192.0.2.1", ContainerPort: 80, Protocol: proto}); err == nil {
				t.Errorf("FreePort(192.0.2.1 %s) = %d, nil, want an error", proto, p)
			}
		})
	}
}
