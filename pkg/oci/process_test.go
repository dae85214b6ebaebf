package oci

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCommand is docker's ENTRYPOINT/CMD table ("Understand how CMD and
// ENTRYPOINT interact") plus the --entrypoint and argument cases.
func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name       string
		entrypoint []string
		cmd        []string
		flagEP     *string
		args       []string
		want       []string
		wantErr    error
	}{
		{name: "no entrypoint, no cmd", wantErr: ErrNoCommand},
		{name: "cmd only", cmd: []string{"sh"}, want: []string{"sh"}},
		{name: "entrypoint only", entrypoint: []string{"/ep"}, want: []string{"/ep"}},
		{name: "entrypoint and cmd", entrypoint: []string{"/ep", "-x"}, cmd: []string{"c1", "c2"}, want: []string{"/ep", "-x", "c1", "c2"}},
		{name: "args replace cmd", cmd: []string{"sh"}, args: []string{"echo", "hi"}, want: []string{"echo", "hi"}},
		{name: "args follow the entrypoint", entrypoint: []string{"/ep"}, cmd: []string{"c"}, args: []string{"a"}, want: []string{"/ep", "a"}},
		{name: "--entrypoint drops the image cmd", entrypoint: []string{"/ep"}, cmd: []string{"c"}, flagEP: ptr("/new"), want: []string{"/new"}},
		{name: "--entrypoint with args", entrypoint: []string{"/ep"}, cmd: []string{"c"}, flagEP: ptr("/new"), args: []string{"a", "b"}, want: []string{"/new", "a", "b"}},
		{name: "--entrypoint on an image without one", cmd: []string{"sh"}, flagEP: ptr("/bin/env"), want: []string{"/bin/env"}},
		{name: "empty --entrypoint and no args", entrypoint: []string{"/ep"}, cmd: []string{"c"}, flagEP: ptr(""), wantErr: ErrNoCommand},
		{name: "empty --entrypoint with args", entrypoint: []string{"/ep"}, cmd: []string{"c"}, flagEP: ptr(""), args: []string{"ls", "/"}, want: []string{"ls", "/"}},
		{name: "JSON --entrypoint", cmd: []string{"sh"}, flagEP: ptr(`["/bin/sh","-c"]`), args: []string{"echo hi"}, want: []string{"/bin/sh", "-c", "echo hi"}},
		{name: "JSON --entrypoint with spaces", flagEP: ptr(` [ "a" , "b" ] `), want: []string{"a", "b"}},
		{name: "empty JSON --entrypoint", entrypoint: []string{"/ep"}, flagEP: ptr(`[]`), args: []string{"x"}, want: []string{"x"}},
		{name: "invalid JSON --entrypoint is one program", flagEP: ptr(`[not json`), want: []string{"[not json"}},
		{name: "--entrypoint is not split on spaces", flagEP: ptr("/bin/echo hi"), want: []string{"/bin/echo hi"}},
		{name: "empty program name", args: []string{"", "x"}, wantErr: ErrInvalidCommand},
		{name: "NUL in an argument", args: []string{"echo", "a\x00b"}, wantErr: ErrInvalidCommand},
		{name: "NUL in the image cmd", cmd: []string{"sh\x00"}, wantErr: ErrInvalidCommand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) {
				o.Image.Entrypoint, o.Image.Cmd = tc.entrypoint, tc.cmd
				o.Entrypoint, o.Args = tc.flagEP, tc.args
			})
			checkErr(t, "Generate()", err, tc.wantErr)
			if err == nil && !reflect.DeepEqual(s.Process.Args, tc.want) {
				t.Errorf("Args = %q, want %q", s.Process.Args, tc.want)
			}
		})
	}
}

func TestCommandDoesNotAliasImage(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: make([]string, 1, 8), Cmd: []string{"c"}}
	img.Entrypoint[0] = "/ep"
	if _, err := command(img, nil, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got := img.Entrypoint[:2]; got[1] != "" {
		t.Errorf("command() wrote into the image's Entrypoint array: %q", got)
	}
}

func TestEnvironment(t *testing.T) {
	host := map[string]string{"EDITOR": "vi", "EMPTY": ""}
	hostEnv := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	for _, tc := range []struct {
		name     string
		edit     func(*Options)
		want     []string // exact environment
		contains []string // or: entries that must be present
		absent   []string // keys that must be absent
		wantErr  error
	}{
		{
			name: "busybox",
			want: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=c0ffee", "container=ctr", "HOME=/root"},
		},
		{
			name: "default PATH when the image sets none",
			edit: func(o *Options) { o.Image.Env = []string{"A=1"}; o.Hostname = "" },
			want: []string{"PATH=" + DefaultPath, "A=1", "container=ctr", "HOME=/root"},
		},
		{
			name: "image PATH replaces the default in place",
			edit: func(o *Options) { o.Image.Env = []string{"A=1", "PATH=/x"}; o.Hostname = "" },
			want: []string{"PATH=/x", "A=1", "container=ctr", "HOME=/root"},
		},
		{
			name: "user entries override image entries by key",
			edit: func(o *Options) {
				o.Image.Env = []string{"A=image", "B=image"}
				o.Env = []string{"B=user", "C=user", "A=", "C=last"}
				o.Hostname = ""
			},
			want: []string{"PATH=" + DefaultPath, "A=", "B=user", "container=ctr", "C=last", "HOME=/root"},
		},
		{
			name:     "values may contain =",
			edit:     func(o *Options) { o.Env = []string{"OPTS=a=b=c"} },
			contains: []string{"OPTS=a=b=c"},
		},
		{
			name:     "KEY alone takes the host value",
			edit:     func(o *Options) { o.Env = []string{"EDITOR", "EMPTY"}; o.HostEnv = hostEnv },
			contains: []string{"EDITOR=vi", "EMPTY="},
		},
		{
			name:   "KEY alone unset on the host is dropped",
			edit:   func(o *Options) { o.Env = []string{"NOPE"}; o.HostEnv = hostEnv },
			absent: []string{"NOPE"},
		},
		{
			name:   "KEY alone without HostEnv is dropped",
			edit:   func(o *Options) { o.Env = []string{"EDITOR"} },
			absent: []string{"EDITOR"},
		},
		{
			name:   "image KEY alone is dropped, never looked up",
			edit:   func(o *Options) { o.Image.Env = []string{"EDITOR"}; o.HostEnv = hostEnv },
			absent: []string{"EDITOR"},
		},
		{
			name:     "the image cannot override container=ctr, the user can",
			edit:     func(o *Options) { o.Image.Env = []string{"container=docker"} },
			contains: []string{"container=ctr"},
		},
		{
			name:     "user container=",
			edit:     func(o *Options) { o.Env = []string{"container=oci"} },
			contains: []string{"container=oci"},
		},
		{
			name:     "TERM only with a terminal",
			edit:     func(o *Options) { o.Terminal = true },
			contains: []string{"TERM=xterm"},
		},
		{
			name:   "no TERM without a terminal",
			absent: []string{"TERM"},
		},
		{
			name:     "image TERM wins over the default",
			edit:     func(o *Options) { o.Terminal = true; o.Image.Env = []string{"TERM=linux"} },
			contains: []string{"TERM=linux"},
		},
		{
			name:     "image HOSTNAME wins over the default",
			edit:     func(o *Options) { o.Image.Env = []string{"HOSTNAME=img"} },
			contains: []string{"HOSTNAME=img"},
		},
		{
			name:     "HOME from the passwd entry",
			edit:     func(o *Options) { o.User = "nobody" },
			contains: []string{"HOME=/home"},
		},
		{
			name:     "HOME / for a uid without entry",
			edit:     func(o *Options) { o.User = "1234" },
			contains: []string{"HOME=/"},
		},
		{
			name:     "HOME /root for root without passwd",
			edit:     func(o *Options) { o.Passwd = nil },
			contains: []string{"HOME=/root"},
		},
		{
			name:     "image HOME is kept",
			edit:     func(o *Options) { o.Image.Env = []string{"HOME=/srv"} },
			contains: []string{"HOME=/srv"},
		},
		{
			name:     "user HOME is kept",
			edit:     func(o *Options) { o.Env = []string{"HOME=/u"} },
			contains: []string{"HOME=/u"},
		},
		{name: "empty key", edit: func(o *Options) { o.Env = []string{"=x"} }, wantErr: ErrInvalidEnv},
		{name: "empty entry", edit: func(o *Options) { o.Env = []string{""} }, wantErr: ErrInvalidEnv},
		{name: "NUL in a value", edit: func(o *Options) { o.Env = []string{"A=b\x00c"} }, wantErr: ErrInvalidEnv},
		{name: "NUL in a key", edit: func(o *Options) { o.Env = []string{"A\x00=b"} }, wantErr: ErrInvalidEnv},
		{name: "NUL in an image entry", edit: func(o *Options) { o.Image.Env = []string{"A=\x00"} }, wantErr: ErrInvalidEnv},
		{name: "empty image key", edit: func(o *Options) { o.Image.Env = []string{"=1"} }, wantErr: ErrInvalidEnv},
		{
			name: "NUL in a host value",
			edit: func(o *Options) {
				o.Env = []string{"X"}
				o.HostEnv = func(string) (string, bool) { return "a\x00", true }
			},
			wantErr: ErrInvalidEnv,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, tc.edit)
			checkErr(t, "Generate()", err, tc.wantErr)
			if err != nil {
				return
			}
			env := s.Process.Env
			if tc.want != nil && !reflect.DeepEqual(env, tc.want) {
				t.Errorf("Env = %q, want %q", env, tc.want)
			}
			for _, c := range tc.contains {
				if !slices.Contains(env, c) {
					t.Errorf("Env = %q, want it to contain %q", env, c)
				}
			}
			for _, k := range tc.absent {
				if slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") || e == k }) {
					t.Errorf("Env = %q, want no %s", env, k)
				}
			}
			keys := map[string]bool{}
			for _, e := range env {
				k, _, _ := strings.Cut(e, "=")
				if keys[k] {
					t.Errorf("Env = %q: key %s twice", env, k)
				}
				keys[k] = true
			}
		})
	}
}

func TestArgMax(t *testing.T) {
	big := strings.Repeat("x", 100<<10) // 100 KiB: under MAX_ARG_STRLEN
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "V" + string(rune('a'+i%26)) + strings.Repeat("y", i) + "=" + big
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		wantErr error
	}{
		{name: "1.5 MiB of environment fits", edit: func(o *Options) { o.Env = many(15) }},
		{name: "3 MiB of environment does not", edit: func(o *Options) { o.Env = many(30) }, wantErr: ErrArgsTooLong},
		{name: "3 MiB of arguments does not", edit: func(o *Options) { o.Args = append([]string{"echo"}, many(30)...) }, wantErr: ErrArgsTooLong},
		{name: "one string over 128 KiB", edit: func(o *Options) { o.Args = []string{"echo", strings.Repeat("x", 128<<10)} }, wantErr: ErrArgsTooLong},
		{name: "one string just under 128 KiB", edit: func(o *Options) { o.Args = []string{"echo", strings.Repeat("x", 128<<10-1)} }},
		{
			name:    "a small --ulimit stack lowers the limit",
			edit:    func(o *Options) { o.Env = many(5); o.Ulimits = []Ulimit{{Name: "stack", Soft: 1 << 20, Hard: 1 << 20}} },
			wantErr: ErrArgsTooLong,
		},
		{
			name: "a large host stack raises it up to 6 MiB",
			edit: func(o *Options) {
				o.Env = many(40)
				o.HostRlimits = map[string]Ulimit{"stack": {Soft: RLimInfinity, Hard: RLimInfinity}}
			},
		},
		{
			name: "no stack limit still caps at 6 MiB",
			edit: func(o *Options) {
				o.Env = many(70)
				o.HostRlimits = map[string]Ulimit{"stack": {Soft: RLimInfinity, Hard: RLimInfinity}}
			},
			wantErr: ErrArgsTooLong,
		},
		{
			name: "a tiny stack still allows 128 KiB",
			edit: func(o *Options) {
				o.Env = []string{"A=" + big}
				o.Ulimits = []Ulimit{{Name: "stack", Soft: 4096, Hard: 4096}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate(t, tc.edit)
			checkErr(t, "Generate()", err, tc.wantErr)
		})
	}
}

func TestWorkingDir(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flag     string
		image    string
		want     string
		wantErrs error
	}{
		{name: "default", want: "/"},
		{name: "image", image: "/srv/app", want: "/srv/app"},
		{name: "relative image WORKDIR", image: "app", want: "/app"},
		{name: "image WORKDIR cleaned", image: "/a/../b/./c/", want: "/b/c"},
		{name: "image WORKDIR cannot climb", image: "../../..", want: "/"},
		{name: "flag wins", flag: "/tmp", image: "/srv", want: "/tmp"},
		{name: "flag cleaned", flag: "/x/./y//", want: "/x/y"},
		{name: "relative flag", flag: "tmp", wantErrs: ErrInvalidWorkingDir},
		{name: "NUL in flag", flag: "/a\x00", wantErrs: ErrInvalidWorkingDir},
		{name: "NUL in image", image: "/a\x00", wantErrs: ErrInvalidWorkingDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) { o.WorkingDir = tc.flag; o.Image.WorkingDir = tc.image })
			checkErr(t, "Generate()", err, tc.wantErrs)
			if err == nil && s.Process.Cwd != tc.want {
				t.Errorf("Cwd = %q, want %q", s.Process.Cwd, tc.want)
			}
		})
	}
}
