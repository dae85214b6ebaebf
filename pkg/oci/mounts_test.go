package oci

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDefaultMounts(t *testing.T) {
	s := mustGenerate(t, func(o *Options) { o.EtcFiles = nil })
	want := []string{
		"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
	}
	if got := destinations(s.Mounts); !reflect.DeepEqual(got, want) {
		t.Fatalf("mount destinations = %q, want %q", got, want)
	}
	for _, d := range devBinds {
		m, _ := findMount(s.Mounts, d)
		if m.Type != "bind" || m.Source != d || slices.Contains(m.Options, "nodev") || !slices.Contains(m.Options, "bind") {
			t.Errorf("device mount %+v: want a bind of %s without nodev", m, d)
		}
	}
	if m, _ := findMount(s.Mounts, "/sys"); m.Type != "sysfs" || !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys = %+v, want read-only sysfs", m)
	}
	if m, _ := findMount(s.Mounts, "/sys/fs/cgroup"); m.Type != "cgroup" || !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys/fs/cgroup = %+v, want read-only cgroup", m)
	}
}

func TestDevptsGID(t *testing.T) {
	for _, tc := range []struct {
		gids uint32
		want bool
	}{{65537, true}, {6, true}, {5, false}, {1, false}} {
		s := mustGenerate(t, func(o *Options) { o.MappedGIDs = tc.gids })
		m, _ := findMount(s.Mounts, "/dev/pts")
		if got := slices.Contains(m.Options, "gid=5"); got != tc.want {
			t.Errorf("MappedGIDs %d: /dev/pts options %v, gid=5 present = %v, want %v", tc.gids, m.Options, got, tc.want)
		}
	}
}

func TestHostNetworkSys(t *testing.T) {
	s := mustGenerate(t, func(o *Options) { o.Network = NetworkHost })
	m, _ := findMount(s.Mounts, "/sys")
	want := []string{"rbind", "nosuid", "noexec", "nodev", "ro"}
	if m.Type != "bind" || m.Source != "/sys" || !reflect.DeepEqual(m.Options, want) {
		t.Errorf("/sys with host network = %+v, want a bind of /sys with %v", m, want)
	}
}

func TestUserMounts(t *testing.T) {
	bind := func(src, dst string) Mount {
		return Mount{Type: "bind", Source: src, Destination: dst, Options: []string{"rbind", "rprivate"}}
	}
	tmpfs := func(dst string) Mount {
		return Mount{Type: "tmpfs", Source: "tmpfs", Destination: dst, Options: []string{"rw", "noexec", "nosuid", "nodev"}}
	}
	for _, tc := range []struct {
		name      string
		mounts    []Mount
		readOnly  bool
		etc       map[string]string
		wantTail  []string // destinations after the 13 defaults
		check     func(*testing.T, []Mount)
		wantErr   error
		errSubstr []string
	}{
		{
			name:     "after the defaults and EtcFiles",
			mounts:   []Mount{bind("/h/a", "/a"), tmpfs("/scratch")},
			wantTail: []string{"/a", "/scratch", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
		},
		{
			name:     "no EtcFiles",
			etc:      map[string]string{},
			mounts:   []Mount{bind("/h/a", "/a")},
			wantTail: []string{"/a"},
		},
		{
			name:     "parents before children",
			etc:      map[string]string{},
			mounts:   []Mount{bind("/h/y", "/x/y/z"), bind("/h/x", "/x"), bind("/h/b", "/x/b"), bind("/h/c", "/c")},
			wantTail: []string{"/x", "/c", "/x/b", "/x/y/z"},
		},
		{
			name:     "--read-only tmpfs",
			etc:      map[string]string{},
			readOnly: true,
			wantTail: []string{"/tmp", "/run", "/var/tmp"},
		},
		{
			name:     "--read-only tmpfs before mounts under them",
			etc:      map[string]string{},
			readOnly: true,
			mounts:   []Mount{bind("/h/sock", "/run/app/sock")},
			wantTail: []string{"/tmp", "/run", "/var/tmp", "/run/app/sock"},
		},
		{
			name:     "a user mount replaces a --read-only tmpfs",
			etc:      map[string]string{},
			readOnly: true,
			mounts:   []Mount{bind("/h/tmp", "/tmp")},
			wantTail: []string{"/tmp", "/run", "/var/tmp"},
			check: func(t *testing.T, ms []Mount) {
				if m := ms[0]; m.Type != "bind" || m.Source != "/h/tmp" {
					t.Errorf("/tmp = %+v, want the user's bind", m)
				}
			},
		},
		{
			name:     "-v over /etc/hosts replaces the generated file",
			mounts:   []Mount{bind("/h/hosts", "/etc/hosts")},
			wantTail: []string{"/etc/hostname", "/etc/resolv.conf", "/etc/hosts"},
			check: func(t *testing.T, ms []Mount) {
				if m := ms[2]; m.Source != "/h/hosts" {
					t.Errorf("/etc/hosts = %+v, want the user's bind", m)
				}
			},
		},
		{
			name:     "a user mount replaces a default under /dev",
			etc:      map[string]string{},
			mounts:   []Mount{{Type: "tmpfs", Destination: "/dev/shm", Options: []string{"size=1g"}}},
			wantTail: []string{"/dev/shm"},
			check: func(t *testing.T, ms []Mount) {
				if m := ms[0]; m.Source != "tmpfs" || !reflect.DeepEqual(m.Options, []string{"size=1g"}) {
					t.Errorf("/dev/shm = %+v, want the user's tmpfs with source tmpfs", m)
				}
			},
		},
		{name: "relative destination", mounts: []Mount{bind("/h", "data")}, wantErr: ErrInvalidMount},
		{name: "empty destination", mounts: []Mount{bind("/h", "")}, wantErr: ErrInvalidMount},
		{name: "unclean destination", mounts: []Mount{bind("/h", "/a/../b")}, wantErr: ErrInvalidMount, errSubstr: []string{"clean"}},
		{name: "trailing slash", mounts: []Mount{bind("/h", "/a/")}, wantErr: ErrInvalidMount},
		{name: "over /", mounts: []Mount{bind("/h", "/")}, wantErr: ErrInvalidMount},
		{name: "on /proc", mounts: []Mount{bind("/h", "/proc")}, wantErr: ErrInvalidMount, errSubstr: []string{"/proc"}},
		{name: "under /proc", mounts: []Mount{bind("/h", "/proc/self/attr")}, wantErr: ErrInvalidMount},
		{name: "on /sys", mounts: []Mount{tmpfs("/sys")}, wantErr: ErrInvalidMount},
		{name: "under /sys", mounts: []Mount{bind("/h", "/sys/fs/cgroup")}, wantErr: ErrInvalidMount},
		{name: "on /dev", mounts: []Mount{tmpfs("/dev")}, wantErr: ErrInvalidMount},
		{name: "/procfs is not /proc", mounts: []Mount{bind("/h", "/procfs")}, wantTail: []string{"/procfs", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}},
		{
			name:    "duplicate destination",
			mounts:  []Mount{bind("/h/a", "/data"), tmpfs("/data")},
			wantErr: ErrDuplicateMountDestination, errSubstr: []string{"/data: duplicate mount destination"},
		},
		{name: "relative bind source", mounts: []Mount{bind("h", "/a")}, wantErr: ErrInvalidMount},
		{name: "empty bind source", mounts: []Mount{bind("", "/a")}, wantErr: ErrInvalidMount},
		{name: "unknown type", mounts: []Mount{{Type: "overlay", Source: "/h", Destination: "/a"}}, wantErr: ErrInvalidMount},
		{name: "empty option", mounts: []Mount{{Type: "bind", Source: "/h", Destination: "/a", Options: []string{""}}}, wantErr: ErrInvalidMount},
		{name: "EtcFiles with a relative source", etc: map[string]string{"/etc/hosts": "hosts"}, wantErr: ErrInvalidMount},
		{name: "EtcFiles on /proc", etc: map[string]string{"/proc/x": "/h"}, wantErr: ErrInvalidMount},
		{name: "EtcFiles on a default mount", etc: map[string]string{"/dev/null": "/h"}, wantErr: ErrInvalidMount},
		{name: "EtcFiles relative destination", etc: map[string]string{"etc/hosts": "/h"}, wantErr: ErrInvalidMount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) {
				o.Mounts, o.ReadOnly = tc.mounts, tc.readOnly
				if tc.etc != nil {
					o.EtcFiles = tc.etc
				}
			})
			checkErr(t, "Generate()", err, tc.wantErr, tc.errSubstr...)
			if err != nil {
				return
			}
			var tail []Mount
			for _, m := range s.Mounts {
				if !slices.ContainsFunc(tc.wantTail, func(d string) bool { return d == m.Destination }) {
					continue
				}
				tail = append(tail, Mount{Type: m.Type, Source: m.Source, Destination: m.Destination, Options: m.Options})
			}
			var got []string
			for _, m := range tail {
				got = append(got, m.Destination)
			}
			if !reflect.DeepEqual(got, tc.wantTail) {
				t.Fatalf("destinations = %q, want %q in that order (all: %q)", got, tc.wantTail, destinations(s.Mounts))
			}
			seen := map[string]bool{}
			for _, d := range destinations(s.Mounts) {
				if seen[d] {
					t.Errorf("destination %s is mounted twice: %q", d, destinations(s.Mounts))
				}
				seen[d] = true
			}
			if tc.check != nil {
				tc.check(t, tail)
			}
		})
	}
}

func TestParseVolume(t *testing.T) {
	const cwd = "/home/u/proj"
	for _, tc := range []struct {
		spec      string
		cwd       string // cwd when empty
		want      Mount
		wantErr   error
		errSubstr []string
	}{
		{spec: "/src:/dst", want: Mount{Type: "bind", Source: "/src", Destination: "/dst", Options: []string{"rbind", "rprivate"}}},
		{spec: "/src/../x/:/dst/./", want: Mount{Type: "bind", Source: "/x", Destination: "/dst", Options: []string{"rbind", "rprivate"}}},
		{spec: "./data:/data", want: Mount{Type: "bind", Source: "/home/u/proj/data", Destination: "/data", Options: []string{"rbind", "rprivate"}}},
		{spec: ".:/w", want: Mount{Type: "bind", Source: "/home/u/proj", Destination: "/w", Options: []string{"rbind", "rprivate"}}},
		{spec: "../up:/x", want: Mount{Type: "bind", Source: "/home/u/up", Destination: "/x", Options: []string{"rbind", "rprivate"}}},
		{spec: "../../../../../x:/x", want: Mount{Type: "bind", Source: "/x", Destination: "/x", Options: []string{"rbind", "rprivate"}}},
		{spec: ".hidden:/x", want: Mount{Type: "bind", Source: "/home/u/proj/.hidden", Destination: "/x", Options: []string{"rbind", "rprivate"}}},
		{spec: "rel/sub:/x", want: Mount{Type: "bind", Source: "/home/u/proj/rel/sub", Destination: "/x", Options: []string{"rbind", "rprivate"}}},
		{spec: "/a:/b:ro", want: Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"rbind", "ro", "rprivate"}}},
		{spec: "/a:/b:rw,z", want: Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"rbind", "rw", "rprivate"}}},
		{spec: "/a:/b:Z", want: Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"rbind", "rprivate"}}},
		{spec: "/a:/b:bind,shared,nosuid,nodev,noexec,ro", want: Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"bind", "shared", "nosuid", "nodev", "noexec", "ro"}}},
		{spec: "/a:/b:rslave,rbind", want: Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"rslave", "rbind"}}},
		{spec: "/:/host", want: Mount{Type: "bind", Source: "/", Destination: "/host", Options: []string{"rbind", "rprivate"}}},
		{spec: "/a:/dev/shm", want: Mount{Type: "bind", Source: "/a", Destination: "/dev/shm", Options: []string{"rbind", "rprivate"}}},
		// Names and anonymous volumes come later.
		{spec: "data:/data", wantErr: ErrNamedVolume, errSubstr: []string{"later"}},
		{spec: "my_vol.1-x:/data:ro", wantErr: ErrNamedVolume},
		{spec: "/data", wantErr: ErrNamedVolume},
		{spec: "a b:/x", wantErr: ErrInvalidMount},
		{spec: "@x:/x", wantErr: ErrInvalidMount},
		// Container path.
		{spec: "/x:relative", wantErr: ErrInvalidMount, errSubstr: []string{"absolute"}},
		{spec: "/tmp:/proc", wantErr: ErrInvalidMount},
		{spec: "/tmp:/proc/sys/kernel", wantErr: ErrInvalidMount},
		{spec: "/tmp:/sys", wantErr: ErrInvalidMount},
		{spec: "/tmp:/sys/../proc", wantErr: ErrInvalidMount},
		{spec: "/tmp:/dev", wantErr: ErrInvalidMount},
		{spec: "/tmp:/", wantErr: ErrInvalidMount},
		{spec: "/tmp:/..", wantErr: ErrInvalidMount},
		// Options.
		{spec: "/a:/b:ro,rw", wantErr: ErrInvalidMount, errSubstr: []string{"contradict"}},
		{spec: "/a:/b:ro,ro", wantErr: ErrInvalidMount, errSubstr: []string{"twice"}},
		{spec: "/a:/b:z,Z", wantErr: ErrInvalidMount},
		{spec: "/a:/b:bind,rbind", wantErr: ErrInvalidMount},
		{spec: "/a:/b:shared,private", wantErr: ErrInvalidMount},
		{spec: "/a:/b:suid,nosuid", wantErr: ErrInvalidMount},
		{spec: "/a:/b:foo", wantErr: ErrInvalidMount, errSubstr: []string{"unknown option"}},
		{spec: "/a:/b:U", wantErr: ErrInvalidMount, errSubstr: []string{"not supported"}},
		{spec: "/a:/b:O", wantErr: ErrInvalidMount},
		{spec: "/a:/b:idmap", wantErr: ErrInvalidMount},
		{spec: "/a:/b:RO", wantErr: ErrInvalidMount},
		{spec: "/a:/b:ro,", wantErr: ErrInvalidMount},
		{spec: "/a:/b:", wantErr: ErrInvalidMount},
		// Garbage.
		{spec: "", wantErr: ErrInvalidMount},
		{spec: ":", wantErr: ErrInvalidMount},
		{spec: "::", wantErr: ErrInvalidMount},
		{spec: ":::", wantErr: ErrInvalidMount},
		{spec: ":/x", wantErr: ErrInvalidMount},
		{spec: "/x:", wantErr: ErrInvalidMount},
		{spec: "/a:/b:ro:x", wantErr: ErrInvalidMount},
		{spec: "/a\x00:/b", wantErr: ErrInvalidMount},
		{spec: "./x:/y", cwd: "relative/cwd", wantErr: ErrInvalidMount},
		{spec: "./x:/y", cwd: "-", wantErr: ErrInvalidMount},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			dir := cwd
			if tc.cwd == "-" {
				dir = ""
			} else if tc.cwd != "" {
				dir = tc.cwd
			}
			got, err := ParseVolume(tc.spec, dir)
			checkErr(t, "ParseVolume("+tc.spec+")", err, tc.wantErr, tc.errSubstr...)
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseVolume(%q) = %+v, want %+v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestParseVolumeFeedsGenerate(t *testing.T) {
	var ms []Mount
	for _, v := range []string{"./src:/app/src:ro", "/var/cache/x:/app"} {
		m, err := ParseVolume(v, "/home/u")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	tm, err := ParseTmpfs("/app/tmp:size=16m")
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, tm)
	s := mustGenerate(t, func(o *Options) { o.Mounts = ms; o.EtcFiles = nil })
	got := destinations(s.Mounts)[13:]
	if want := []string{"/app", "/app/src", "/app/tmp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("user mount order = %q, want %q", got, want)
	}
	if _, err := generate(t, func(o *Options) { o.Mounts = append(ms, ms[0]) }); err == nil || !strings.Contains(err.Error(), "duplicate mount destination") {
		t.Errorf("Generate() with -v twice on /app/src = %v, want duplicate mount destination", err)
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    []string // options
		dst     string
		wantErr error
	}{
		{spec: "/tmp", dst: "/tmp", want: []string{"rw", "noexec", "nosuid", "nodev"}},
		{spec: "/run/", dst: "/run", want: []string{"rw", "noexec", "nosuid", "nodev"}},
		{spec: "/tmp:size=64m,mode=1777", dst: "/tmp", want: []string{"size=64m", "mode=1777", "rw", "noexec", "nosuid", "nodev"}},
		{spec: "/tmp:exec,ro", dst: "/tmp", want: []string{"exec", "ro", "nosuid", "nodev"}},
		{spec: "/tmp:suid,dev,rw,exec", dst: "/tmp", want: []string{"suid", "dev", "rw", "exec"}},
		{spec: "/tmp:size=50%,nr_inodes=1k,uid=1000,gid=0,noatime", dst: "/tmp", want: []string{"size=50%", "nr_inodes=1k", "uid=1000", "gid=0", "noatime", "rw", "noexec", "nosuid", "nodev"}},
		{spec: "/dev/shm:size=1g", dst: "/dev/shm", want: []string{"size=1g", "rw", "noexec", "nosuid", "nodev"}},
		{spec: "", wantErr: ErrInvalidMount},
		{spec: "tmp", wantErr: ErrInvalidMount},
		{spec: ":size=1m", wantErr: ErrInvalidMount},
		{spec: "/proc", wantErr: ErrInvalidMount},
		{spec: "/sys/kernel", wantErr: ErrInvalidMount},
		{spec: "/dev", wantErr: ErrInvalidMount},
		{spec: "/", wantErr: ErrInvalidMount},
		{spec: "/tmp:", wantErr: ErrInvalidMount},
		{spec: "/tmp:ro,rw", wantErr: ErrInvalidMount},
		{spec: "/tmp:noatime,relatime", wantErr: ErrInvalidMount},
		{spec: "/tmp:size=1m,size=2m", wantErr: ErrInvalidMount},
		{spec: "/tmp:size=abc", wantErr: ErrInvalidMount},
		{spec: "/tmp:size=", wantErr: ErrInvalidMount},
		{spec: "/tmp:size=1k%", wantErr: ErrInvalidMount},
		{spec: "/tmp:mode=999", wantErr: ErrInvalidMount},
		{spec: "/tmp:mode=17777", wantErr: ErrInvalidMount},
		{spec: "/tmp:uid=-1", wantErr: ErrInvalidMount},
		{spec: "/tmp:uid=4294967296", wantErr: ErrInvalidMount},
		{spec: "/tmp:gid=+1", wantErr: ErrInvalidMount},
		{spec: "/tmp:foo", wantErr: ErrInvalidMount},
		{spec: "/tmp:foo=bar", wantErr: ErrInvalidMount},
		{spec: "/tmp:tmpcopyup", wantErr: ErrInvalidMount},
		{spec: "/tmp:z", wantErr: ErrInvalidMount},
		{spec: "/tmp:bind", wantErr: ErrInvalidMount},
		{spec: "/t\x00mp", wantErr: ErrInvalidMount},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseTmpfs(tc.spec)
			checkErr(t, "ParseTmpfs("+tc.spec+")", err, tc.wantErr)
			if err != nil {
				return
			}
			want := Mount{Type: "tmpfs", Source: "tmpfs", Destination: tc.dst, Options: tc.want}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseTmpfs(%q) = %+v, want %+v", tc.spec, got, want)
			}
		})
	}
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a:/b", "./a:/b:ro", "a:/b", "::", "/a:/proc", "/a:/b:ro,rw", "x/y:/z:rbind,rslave,nodev", "/a:/b/../c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseVolume(spec, "/cwd")
		if err != nil {
			return
		}
		if err := checkDestination(m.Destination); err != nil {
			t.Fatalf("ParseVolume(%q) accepted destination %q: %v", spec, m.Destination, err)
		}
		if !strings.HasPrefix(m.Source, "/") || strings.Contains(m.Source, "\x00") {
			t.Fatalf("ParseVolume(%q) returned source %q, want an absolute path", spec, m.Source)
		}
		if _, err := checkUserMount(m); err != nil {
			t.Fatalf("ParseVolume(%q) = %+v, which Generate refuses: %v", spec, m, err)
		}
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/tmp", "/tmp:size=1m,mode=1777", "/proc", "/tmp:ro,rw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseTmpfs(spec)
		if err != nil {
			return
		}
		if _, err := checkUserMount(m); err != nil {
			t.Fatalf("ParseTmpfs(%q) = %+v, which Generate refuses: %v", spec, m, err)
		}
	})
}
