package storage

import (
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestImageNames(t *testing.T) {
	d1 := digest.Digest(testDigest)
	d2 := digest.Digest("sha256:" + strings.Repeat("b", 64))
	tests := []struct {
		name        string
		img         Image
		wantTags    []string
		wantDigests []string
		dangling    bool
	}{
		{
			name:     "no names",
			img:      Image{ID: "abc", Digests: []digest.Digest{d1}},
			dangling: true,
		},
		{
			name: "tag and digest names",
			img: Image{
				Names:   []string{"docker.io/library/busybox:latest", "docker.io/library/busybox@" + testDigest, "localhost/my:1"},
				Digests: []digest.Digest{d1, d2},
			},
			wantTags: []string{"docker.io/library/busybox:latest", "localhost/my:1"},
			wantDigests: []string{
				"docker.io/library/busybox@" + d1.String(), "docker.io/library/busybox@" + d2.String(),
				"localhost/my@" + d1.String(), "localhost/my@" + d2.String(),
			},
		},
		{
			name:     "unparsable names are left out of repo digests",
			img:      Image{Names: []string{"NOT VALID", "quay.io/x:1"}, Digests: []digest.Digest{d1}},
			wantTags: []string{"NOT VALID", "quay.io/x:1"},
			wantDigests: []string{
				"quay.io/x@" + d1.String(),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.img.RepoTags(); !reflect.DeepEqual(got, tt.wantTags) {
				t.Errorf("Image{Names: %q}.RepoTags() = %q, want %q", tt.img.Names, got, tt.wantTags)
			}
			if got := tt.img.RepoDigests(); !reflect.DeepEqual(got, tt.wantDigests) {
				t.Errorf("Image{Names: %q}.RepoDigests() = %q, want %q", tt.img.Names, got, tt.wantDigests)
			}
			if got := tt.img.Dangling(); got != tt.dangling {
				t.Errorf("Image{Names: %q}.Dangling() = %v, want %v", tt.img.Names, got, tt.dangling)
			}
		})
	}
}

func TestIsHexPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"0123456789abcdef", true},
		{strings.Repeat("f", 64), true},
		{strings.Repeat("f", 65), false},
		{"", false},
		{"ABC", false},
		{"xyz", false},
		{"busybox", false},
	}
	for _, tt := range tests {
		if got := isHexPrefix(tt.in); got != tt.want {
			t.Errorf("isHexPrefix(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestShortIDs(t *testing.T) {
	in := []string{strings.Repeat("a", 64), "short"}
	want := []string{strings.Repeat("a", 12), "short"}
	if got := shortIDs(in); !reflect.DeepEqual(got, want) {
		t.Errorf("shortIDs(%q) = %q, want %q", in, got, want)
	}
}
