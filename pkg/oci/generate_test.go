package oci

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGenerateGolden compares whole specs with testdata/NAME.json.
// Regenerate with: go test ./pkg/oci -run TestGenerateGolden -update
func TestGenerateGolden(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Options)
	}{
		{"busybox-sh", nil},
		{"tty-nonroot-user", func(o *Options) {
			o.Terminal = true
			o.User = "alice"
			o.WorkingDir = "/home/alice"
			o.CapAdd = []string{"net_raw"}
			o.Env = []string{"FOO=bar", "PATH=/opt/bin:/usr/bin"}
			o.NoNewPrivileges = true
		}},
		{"readonly-host-network", func(o *Options) {
			o.ReadOnly = true
			o.Network = NetworkHost
			o.Mounts = []Mount{
				{Type: "bind", Source: "/home/u/data", Destination: "/data/sub", Options: []string{"rbind", "ro", "rprivate"}},
				{Type: "bind", Source: "/home/u/hosts", Destination: "/etc/hosts", Options: []string{"rbind", "rprivate"}},
				{Type: "tmpfs", Source: "tmpfs", Destination: "/data", Options: []string{"rw", "noexec", "nosuid", "nodev"}},
			}
			o.Ulimits = []Ulimit{{Name: "nproc", Soft: 512, Hard: 1024}, {Name: "core", Soft: 0, Hard: RLimInfinity}}
		}},
		{"entrypoint-image", func(o *Options) {
			o.Image = ocispec.ImageConfig{
				User:       "www-data",
				Entrypoint: []string{"/docker-entrypoint.sh"},
				Cmd:        []string{"nginx", "-g", "daemon off;"},
				WorkingDir: "app",
				Env:        []string{"NGINX_VERSION=1.27"},
			}
			o.Network = NetworkNone
		}},
		{"single-id-mode", func(o *Options) {
			o.MappedUIDs, o.MappedGIDs = 1, 1
			o.Group = []byte("root:x:0:root\nbin:x:1:root,bin,daemon\nwheel:x:10:root\n")
			o.CapDrop = []string{"ALL"}
			o.CapAdd = []string{"CAP_KILL"}
			o.EtcFiles = nil
			o.HostRlimits = nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := mustGenerate(t, tc.edit)
			got, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/oci -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Generate() differs from %s (go test ./pkg/oci -update rewrites it):\n%s", file, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return "(no line differs)"
}

func TestGenerateDeterministic(t *testing.T) {
	edit := func(o *Options) {
		o.Seccomp = SeccompDefault
		o.EtcFiles["/run/.containerenv"] = "/run/user/1000/ctr/c0ffee/containerenv"
	}
	first := mustGenerate(t, edit)
	for range 20 {
		if again := mustGenerate(t, edit); !reflect.DeepEqual(first, again) {
			t.Fatal("Generate() returned different specs for the same options")
		}
	}
}

func TestGenerateBasics(t *testing.T) {
	s := mustGenerate(t, nil)
	if s.Version != specs.Version {
		t.Errorf("Version = %q, want %q", s.Version, specs.Version)
	}
	if s.Root == nil || s.Root.Path != RootPath || s.Root.Readonly {
		t.Errorf("Root = %+v, want {Path: %q, Readonly: false}", s.Root, RootPath)
	}
	if s.Hostname != "c0ffee" {
		t.Errorf("Hostname = %q, want c0ffee", s.Hostname)
	}
	if s.Process.OOMScoreAdj != nil {
		t.Errorf("OOMScoreAdj = %d, want unset", *s.Process.OOMScoreAdj)
	}
	if s.Process.NoNewPrivileges || s.Process.Terminal {
		t.Errorf("NoNewPrivileges, Terminal = %v, %v, want false, false", s.Process.NoNewPrivileges, s.Process.Terminal)
	}
	if s.Process.User.Umask == nil || *s.Process.User.Umask != 0o022 {
		t.Errorf("Umask = %v, want 0022", s.Process.User.Umask)
	}
	if !reflect.DeepEqual(s.Linux.MaskedPaths, maskedPaths) || !reflect.DeepEqual(s.Linux.ReadonlyPaths, readonlyPaths) {
		t.Errorf("MaskedPaths, ReadonlyPaths = %v, %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.UIDMappings != nil || s.Linux.GIDMappings != nil {
		t.Error("spec has ID mappings, want none: ctr already runs in its user namespace")
	}
	s = mustGenerate(t, func(o *Options) { o.ReadOnly = true; o.Terminal = true; o.NoNewPrivileges = true })
	if !s.Root.Readonly || !s.Process.Terminal || !s.Process.NoNewPrivileges {
		t.Errorf("Readonly, Terminal, NoNewPrivileges = %v, %v, %v, want all true", s.Root.Readonly, s.Process.Terminal, s.Process.NoNewPrivileges)
	}
}

func TestNamespaces(t *testing.T) {
	for _, tc := range []struct {
		network string
		want    []specs.LinuxNamespaceType
	}{
		{NetworkPrivate, []specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}},
		{"", []specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}},
		{NetworkNone, []specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}},
		{NetworkHost, []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "cgroup"}},
	} {
		t.Run("network "+tc.network, func(t *testing.T) {
			s := mustGenerate(t, func(o *Options) { o.Network = tc.network })
			var got []specs.LinuxNamespaceType
			for _, ns := range s.Linux.Namespaces {
				if ns.Path != "" {
					t.Errorf("namespace %s has path %q, want a new one", ns.Type, ns.Path)
				}
				got = append(got, ns.Type)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("namespaces = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("network join", func(t *testing.T) {
		s := mustGenerate(t, func(o *Options) { o.Network, o.NetNSPath = NetworkJoin, "/proc/42/ns/net" })
		var got []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				got = append(got, ns)
			}
		}
		want := []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/42/ns/net"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("network namespaces = %v, want %v", got, want)
		}
		// Its own sysfs: the joined namespace belongs to the same user
		// namespace, so it may mount one (unlike host).
		for _, m := range s.Mounts {
			if m.Destination == "/sys" && m.Type != "sysfs" {
				t.Errorf("/sys is a %s mount, want sysfs", m.Type)
			}
		}
	})
}

func TestOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"unknown network", func(o *Options) { o.Network = "bridge" }},
		{"join without a path", func(o *Options) { o.Network = NetworkJoin }},
		{"join a relative path", func(o *Options) { o.Network, o.NetNSPath = NetworkJoin, "ns/net" }},
		{"no uid count", func(o *Options) { o.MappedUIDs = 0 }},
		{"no gid count", func(o *Options) { o.MappedGIDs = 0 }},
		{"long hostname", func(o *Options) { o.Hostname = strings.Repeat("h", 65) }},
		{"hostname with NUL", func(o *Options) { o.Hostname = "a\x00b" }},
		{"unknown seccomp mode", func(o *Options) { o.Seccomp = 7 }},
		{"bad kernel release", func(o *Options) { o.Seccomp = SeccompDefault; o.KernelRelease = "linux" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate(t, tc.edit)
			checkErr(t, "Generate()", err, ErrInvalidOptions)
		})
	}
}
