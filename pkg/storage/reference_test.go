package storage

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const testDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in         string
		want       string
		repository string
		domain     string
		tag        string
		digest     digest.Digest
		short      bool
	}{
		{
			in: "busybox", want: "docker.io/library/busybox:latest",
			repository: "docker.io/library/busybox", domain: "docker.io", tag: "latest", short: true,
		},
		{
			in: "busybox:1.36", want: "docker.io/library/busybox:1.36",
			repository: "docker.io/library/busybox", domain: "docker.io", tag: "1.36", short: true,
		},
		{
			in: "user/app", want: "docker.io/user/app:latest",
			repository: "docker.io/user/app", domain: "docker.io", tag: "latest", short: true,
		},
		{
			in: "docker.io/busybox", want: "docker.io/library/busybox:latest",
			repository: "docker.io/library/busybox", domain: "docker.io", tag: "latest",
		},
		{
			in: "docker.io/library/busybox:latest", want: "docker.io/library/busybox:latest",
			repository: "docker.io/library/busybox", domain: "docker.io", tag: "latest",
		},
		{
			in: "localhost/x", want: "localhost/x:latest",
			repository: "localhost/x", domain: "localhost", tag: "latest",
		},
		{
			in: "localhost:5000/x:v1", want: "localhost:5000/x:v1",
			repository: "localhost:5000/x", domain: "localhost:5000", tag: "v1",
		},
		{
			in: "host:5000/a/b:tag", want: "host:5000/a/b:tag",
			repository: "host:5000/a/b", domain: "host:5000", tag: "tag",
		},
		{
			in: "quay.io/a/b/c", want: "quay.io/a/b/c:latest",
			repository: "quay.io/a/b/c", domain: "quay.io", tag: "latest",
		},
		{
			in: "host:1/x", want: "host:1/x:latest",
			repository: "host:1/x", domain: "host:1", tag: "latest",
		},
		{
			in: "host:65535/x", want: "host:65535/x:latest",
			repository: "host:65535/x", domain: "host:65535", tag: "latest",
		},
		{
			in: "[::1]:5000/x", want: "[::1]:5000/x:latest",
			repository: "[::1]:5000/x", domain: "[::1]:5000", tag: "latest",
		},
		{
			in: "busybox@" + testDigest, want: "docker.io/library/busybox@" + testDigest,
			repository: "docker.io/library/busybox", domain: "docker.io", digest: testDigest, short: true,
		},
		{
			in: "busybox:1.36@" + testDigest, want: "docker.io/library/busybox:1.36@" + testDigest,
			repository: "docker.io/library/busybox", domain: "docker.io", tag: "1.36", digest: testDigest, short: true,
		},
		{
			in: "quay.io/x/y@" + testDigest, want: "quay.io/x/y@" + testDigest,
			repository: "quay.io/x/y", domain: "quay.io", digest: testDigest,
		},
		{
			in: "a-b_c__d/e.f:Tag_1.0-rc", want: "docker.io/a-b_c__d/e.f:Tag_1.0-rc",
			repository: "docker.io/a-b_c__d/e.f", domain: "docker.io", tag: "Tag_1.0-rc", short: true,
		},
		{
			in: "my-registry.example.com:443/a/b", want: "my-registry.example.com:443/a/b:latest",
			repository: "my-registry.example.com:443/a/b", domain: "my-registry.example.com:443", tag: "latest",
		},
		{
			in: strings.Repeat("a", 245), want: "docker.io/library/" + strings.Repeat("a", 245) + ":latest",
			repository: "docker.io/library/" + strings.Repeat("a", 245), domain: "docker.io", tag: "latest", short: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference(%q) error = %v, want nil", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("ParseReference(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			if got := r.Repository(); got != tt.repository {
				t.Errorf("ParseReference(%q).Repository() = %q, want %q", tt.in, got, tt.repository)
			}
			if got := r.Domain(); got != tt.domain {
				t.Errorf("ParseReference(%q).Domain() = %q, want %q", tt.in, got, tt.domain)
			}
			if got := r.Tag(); got != tt.tag {
				t.Errorf("ParseReference(%q).Tag() = %q, want %q", tt.in, got, tt.tag)
			}
			if got := r.Digest(); got != tt.digest {
				t.Errorf("ParseReference(%q).Digest() = %q, want %q", tt.in, got, tt.digest)
			}
			if r.Short != tt.short {
				t.Errorf("ParseReference(%q).Short = %v, want %v", tt.in, r.Short, tt.short)
			}
		})
	}
}

func TestParseReferenceInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		hint string // substring of the error
	}{
		{"path traversal", "foo/../../x", "want [REGISTRY[:PORT]/]NAME"},
		{"dot component", "foo/./x", ""},
		{"empty component", "a//b", ""},
		{"trailing slash", "a/", ""},
		{"leading slash", "/a", ""},
		{"leading dash", "-x", "must not start with '-'"},
		{"flag-like", "--help", "must not start with '-'"},
		{"upper-case repository", "UPPER/case", "lowercase"},
		{"upper-case name", "Busybox", "lowercase"},
		{"upper-case path under a registry", "docker.io/UPPER/x", "lowercase"},
		{"upper-case registry", "Quay.IO/x", "lowercase"},
		{"port too large", "host:99999/x", "port 99999 is out of range"},
		{"port zero", "host:0/x", "port 0 is out of range"},
		{"empty", "", "empty"},
		{"bare digest", "sha256:abc", "bare digest"},
		{"bare full digest", testDigest, "bare digest"},
		{"300-character name", strings.Repeat("a", 300), "longer than 255"},
		{"two colons", "a:b:c", ""},
		{"short digest", "busybox@sha256:abc", ""},
		{"unknown digest algorithm", "busybox@md5:d41d8cd98f00b204e9800998ecf8427e", ""},
		{"empty tag", "busybox:", ""},
		{"tag with a slash", "busybox:a/b", ""},
		{"space", "busy box", ""},
		{"tag too long", "busybox:" + strings.Repeat("t", 129), ""},
		{"component ends with separator", "foo-/bar", ""},
		{"registry with an underscore", "my_registry.example.com/x", "registry"},
		{"registry with an underscore and a port", "a_b:5000/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []struct {
				name string
				fn   func(string) (Reference, error)
			}{{"ParseReference", ParseReference}, {"ParseLocalReference", ParseLocalReference}} {
				r, err := parse.fn(tt.in)
				if !errors.Is(err, ErrInvalidReference) {
					t.Fatalf("%s(%q) = %v, %v, want %v", parse.name, tt.in, r, err, ErrInvalidReference)
				}
				if !strings.Contains(err.Error(), tt.hint) {
					t.Errorf("%s(%q) error = %q, want it to contain %q", parse.name, tt.in, err, tt.hint)
				}
			}
		})
	}
}

func TestParseLocalReference(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		short bool
	}{
		{"busybox", "localhost/busybox:latest", true},
		{"myimage:1.0", "localhost/myimage:1.0", true},
		{"user/app", "localhost/user/app:latest", true},
		{"user/app@" + testDigest, "localhost/user/app@" + testDigest, true},
		{"localhost/x", "localhost/x:latest", false},
		{"docker.io/busybox", "docker.io/library/busybox:latest", false},
		{"host:5000/a/b:tag", "host:5000/a/b:tag", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseLocalReference(tt.in)
			if err != nil {
				t.Fatalf("ParseLocalReference(%q) error = %v, want nil", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("ParseLocalReference(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if r.Short != tt.short {
				t.Errorf("ParseLocalReference(%q).Short = %v, want %v", tt.in, r.Short, tt.short)
			}
		})
	}
}

func TestReferenceCandidates(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (Reference, error)
		in    string
		want  []string
	}{
		{
			name: "short name tries localhost first", parse: ParseReference, in: "busybox",
			want: []string{"localhost/busybox:latest", "docker.io/library/busybox:latest"},
		},
		{
			name: "short name with tag", parse: ParseReference, in: "busybox:1.36",
			want: []string{"localhost/busybox:1.36", "docker.io/library/busybox:1.36"},
		},
		{
			name: "short two-component name", parse: ParseReference, in: "user/app:v2",
			want: []string{"localhost/user/app:v2", "docker.io/user/app:v2"},
		},
		{
			name: "short name with digest", parse: ParseReference, in: "busybox@" + testDigest,
			want: []string{"localhost/busybox@" + testDigest, "docker.io/library/busybox@" + testDigest},
		},
		{
			name: "long name", parse: ParseReference, in: "quay.io/x/y:1",
			want: []string{"quay.io/x/y:1"},
		},
		{
			name: "long name with digest", parse: ParseReference, in: "quay.io/x/y@" + testDigest,
			want: []string{"quay.io/x/y@" + testDigest},
		},
		{
			name: "explicit docker.io is not short", parse: ParseReference, in: "docker.io/library/busybox",
			want: []string{"docker.io/library/busybox:latest"},
		},
		{
			name: "explicit localhost is not short", parse: ParseReference, in: "localhost/busybox",
			want: []string{"localhost/busybox:latest"},
		},
		{
			name: "local short name has one candidate", parse: ParseLocalReference, in: "busybox",
			want: []string{"localhost/busybox:latest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.candidates(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReference(%q).candidates() = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
