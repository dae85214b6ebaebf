package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/opencontainers/go-digest"
)

const testDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestHumanSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1 kB"},
		{1234, "1.23 kB"},
		{1996800, "2 MB"},
		{4870000, "4.87 MB"},
		{77800000, "77.8 MB"},
		{123456789, "123 MB"},
		{1234567890, "1.23 GB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.in); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseImageFilters(t *testing.T) {
	busybox := &storage.Image{ID: "1", Names: []string{"docker.io/library/busybox:latest"}}
	local := &storage.Image{ID: "2", Names: []string{"localhost/myimage:1.0"}}
	dangling := &storage.Image{ID: "3"}
	images := []*storage.Image{busybox, local, dangling}

	tests := []struct {
		name    string
		filters []string
		want    []*storage.Image
	}{
		{"no filters", nil, images},
		{"reference by short name", []string{"reference=busybox"}, []*storage.Image{busybox}},
		{"reference glob", []string{"reference=my*"}, []*storage.Image{local}},
		{"dangling=true", []string{"dangling=true"}, []*storage.Image{dangling}},
		{"dangling=1", []string{"dangling=1"}, []*storage.Image{dangling}},
		{"dangling=false", []string{"dangling=false"}, []*storage.Image{busybox, local}},
		{"dangling=FALSE", []string{"dangling=FALSE"}, []*storage.Image{busybox, local}},
		{"dangling=0", []string{"dangling=0"}, []*storage.Image{busybox, local}},
		{"filters are ANDed", []string{"dangling=false", "reference=*box"}, []*storage.Image{busybox}},
		{"contradicting filters match nothing", []string{"dangling=true", "reference=*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filters, err := parseImageFilters(tt.filters)
			if err != nil {
				t.Fatalf("parseImageFilters(%q) error = %v", tt.filters, err)
			}
			var got []*storage.Image
			for _, img := range images {
				ok := true
				for _, f := range filters {
					ok = ok && f(img)
				}
				if ok {
					got = append(got, img)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseImageFilters(%q) selects %v, want %v", tt.filters, ids(got), ids(tt.want))
			}
		})
	}
}

func ids(images []*storage.Image) []string {
	var out []string
	for _, img := range images {
		out = append(out, img.ID)
	}
	return out
}

func TestParseImageFiltersInvalid(t *testing.T) {
	tests := []struct {
		filter string
		want   string
	}{
		{"dangling", "want KEY=VALUE"},
		{"dangling=maybe", `"maybe" is not true or false`},
		{"dangling=", "is not true or false"},
		{"label=a=b", "supported filters are reference and dangling"},
		{"=x", "supported filters"},
		{"reference=[", "syntax error in pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := parseImageFilters([]string{"dangling=true", tt.filter})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.filter) {
				t.Errorf("parseImageFilters(%q) error = %v, want one naming the filter and %q", tt.filter, err, tt.want)
			}
		})
	}
}

func TestMatchesReference(t *testing.T) {
	hub := &storage.Image{Names: []string{"docker.io/library/busybox:latest"}}
	user := &storage.Image{Names: []string{"docker.io/user/app:v2"}}
	local := &storage.Image{Names: []string{"localhost/myimage:1.0"}}
	quay := &storage.Image{Names: []string{"quay.io/org/tool@" + testDigest}}
	several := &storage.Image{Names: []string{"localhost/a:1", "docker.io/library/alpine:3.20"}}
	tests := []struct {
		name    string
		img     *storage.Image
		pattern string
		want    bool
	}{
		{"full name", hub, "docker.io/library/busybox:latest", true},
		{"full repository", hub, "docker.io/library/busybox", true},
		{"familiar name with tag", hub, "busybox:latest", true},
		{"familiar name", hub, "busybox", true},
		{"glob on the familiar name", hub, "busy*", true},
		{"glob with tag", hub, "*box:latest", true},
		{"glob on the full name", hub, "docker.io/*/busybox:*", true},
		{"other tag", hub, "busybox:1.36", false},
		{"other name", hub, "alpine", false},
		{"prefix is not a match", hub, "busy", false},
		{"familiar two-component name", user, "user/app", true},
		{"familiar two-component name with tag", user, "user/app:v2", true},
		{"base name of a two-component name", user, "app", true},
		{"base name with tag", user, "app:v2", true},
		{"localhost image by base name", local, "myimage", true},
		{"localhost image by base name with tag", local, "myimage:1.0", true},
		{"localhost image by full repository", local, "localhost/myimage", true},
		{"localhost glob", local, "localhost/*", true},
		{"localhost image with the wrong tag", local, "myimage:2.0", false},
		{"digest name by base name", quay, "tool", true},
		{"digest name by repository", quay, "quay.io/org/tool", true},
		{"any of several names", several, "alpine:3.20", true},
		{"the other of several names", several, "a", true},
		{"dangling image", &storage.Image{}, "*", false},
		{"unparsable name is skipped", &storage.Image{Names: []string{"NOT VALID"}}, "*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesReference(tt.img, tt.pattern); got != tt.want {
				t.Errorf("matchesReference(%q, %q) = %v, want %v", tt.img.Names, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestImageRows(t *testing.T) {
	created := time.Now().Add(-2 * time.Hour)
	id := strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		img      *storage.Image
		noTrunc  bool
		wantRepo []string // Repository:Tag of each row
		wantID   string
	}{
		{
			name:     "tag and digest of the same repository give one row",
			img:      &storage.Image{ID: id, Names: []string{"docker.io/library/busybox:latest", "docker.io/library/busybox@" + testDigest}},
			wantRepo: []string{"docker.io/library/busybox:latest"},
			wantID:   id[:12],
		},
		{
			name:     "digest only",
			img:      &storage.Image{ID: id, Names: []string{"docker.io/library/busybox@" + testDigest}},
			wantRepo: []string{"docker.io/library/busybox:<none>"},
			wantID:   id[:12],
		},
		{
			name:     "several tags",
			img:      &storage.Image{ID: id, Names: []string{"localhost/a:1", "localhost/a:2"}},
			wantRepo: []string{"localhost/a:1", "localhost/a:2"},
			wantID:   id[:12],
		},
		{
			name:     "dangling",
			img:      &storage.Image{ID: id},
			noTrunc:  true,
			wantRepo: []string{"<none>:<none>"},
			wantID:   "sha256:" + id,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.img.Created = created
			tt.img.Size = 4870000
			tt.img.Digest = digest.Digest(testDigest)
			rows := imageRows(tt.img, tt.noTrunc)
			var got []string
			for _, r := range rows {
				got = append(got, r.Repository+":"+r.Tag)
				if r.ID != tt.wantID || r.Size != "4.87 MB" || r.CreatedSince != "2 hours ago" || r.Digest != testDigest {
					t.Errorf("imageRows(%q) row = %+v, want ID %q, Size 4.87 MB, CreatedSince 2 hours ago", tt.img.Names, r, tt.wantID)
				}
				if r.Dangling != (len(tt.img.Names) == 0) {
					t.Errorf("imageRows(%q) row Dangling = %v, want %v", tt.img.Names, r.Dangling, len(tt.img.Names) == 0)
				}
			}
			if !reflect.DeepEqual(got, tt.wantRepo) {
				t.Errorf("imageRows(%q) = %q, want %q", tt.img.Names, got, tt.wantRepo)
			}
		})
	}
}

func TestDisplayID(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		id      string
		noTrunc bool
		want    string
	}{
		{id, false, "0123456789ab"},
		{id, true, "sha256:" + id},
		{"short", false, "short"},
	}
	for _, tt := range tests {
		if got := displayID(tt.id, tt.noTrunc); got != tt.want {
			t.Errorf("displayID(%q, %v) = %q, want %q", tt.id, tt.noTrunc, got, tt.want)
		}
	}
}
