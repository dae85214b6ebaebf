package oci

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// busybox's /etc/passwd and /etc/group, plus a user alice with
// supplementary groups, and a crafted entry whose name looks numeric.
var (
	testPasswd = []byte(`root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
www-data:x:33:33:www-data:/var/www:/bin/false
alice:x:1001:1001:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
`)
	testGroup = []byte(`root:x:0:
daemon:x:1:
bin:x:2:
adm:x:4:alice
tty:x:5:
wheel:x:10:root
users:x:100:
alice:x:1001:
dev:x:2000:alice,bob
docker:x:2001:bob, alice
nogroup:x:65533:
nobody:x:65534:
`)
)

// baseOptions is `ctr run busybox sh` as the CLI would fill it in, with
// seccomp off so golden files stay readable and independent of GOARCH
// (seccomp has its own tests).
func baseOptions() Options {
	return Options{
		Image: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh"},
		},
		Passwd:     testPasswd,
		Group:      testGroup,
		MappedUIDs: 65537,
		MappedGIDs: 65537,
		Hostname:   "c0ffee",
		Network:    NetworkPrivate,
		EtcFiles: map[string]string{
			"/etc/resolv.conf": "/run/user/1000/ctr/c0ffee/resolv.conf",
			"/etc/hosts":       "/run/user/1000/ctr/c0ffee/hosts",
			"/etc/hostname":    "/run/user/1000/ctr/c0ffee/hostname",
		},
		Seccomp:     SeccompUnconfined,
		HostRlimits: map[string]Ulimit{"nofile": {Name: "nofile", Soft: 1024, Hard: 524288}},
	}
}

// generate runs Generate on baseOptions changed by edit.
func generate(t *testing.T, edit func(*Options)) (*specs.Spec, error) {
	t.Helper()
	o := baseOptions()
	if edit != nil {
		edit(&o)
	}
	return Generate(o)
}

// mustGenerate is generate that fails the test on an error.
func mustGenerate(t *testing.T, edit func(*Options)) *specs.Spec {
	t.Helper()
	s, err := generate(t, edit)
	if err != nil {
		t.Fatalf("Generate() = %v, want nil", err)
	}
	return s
}

// checkErr fails unless err wraps want (nil: no error) and, when want is
// not nil, its message contains every string in contains.
func checkErr(t *testing.T, call string, err, want error, contains ...string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s = %v, want nil", call, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s = %v, want an error wrapping %q", call, err, want)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("%s = %q, want it to mention %q", call, err, c)
		}
	}
}

func destinations(ms []specs.Mount) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Destination
	}
	return out
}

func findMount(ms []specs.Mount, dst string) (specs.Mount, bool) {
	i := slices.IndexFunc(ms, func(m specs.Mount) bool { return m.Destination == dst })
	if i < 0 {
		return specs.Mount{}, false
	}
	return ms[i], true
}

func ptr[T any](v T) *T { return &v }
