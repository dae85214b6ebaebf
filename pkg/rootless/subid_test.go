package rootless

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseSubIDs(t *testing.T) {
	tests := []struct {
		name string
		file string
		// warnings are substrings, one per expected warning, in order.
		want     []IDRange
		warnings []string
	}{
		{
			name: "user by name",
			file: "alice:100000:65536\n",
			want: []IDRange{{Start: 100000, Count: 65536}},
		},
		{
			name: "user by numeric uid",
			file: "1000:200000:1000\n",
			want: []IDRange{{Start: 200000, Count: 1000}},
		},
		{
			name: "several ranges by name and uid keep file order",
			file: "alice:300000:10\n1000:100000:65536\nalice:200000:5\n",
			want: []IDRange{{Start: 300000, Count: 10}, {Start: 100000, Count: 65536}, {Start: 200000, Count: 5}},
		},
		{
			name: "comment and blank lines are ignored",
			file: "# subordinate ids\n\n   \n\t# indented comment\nalice:100000:65536\n\n",
			want: []IDRange{{Start: 100000, Count: 65536}},
		},
		{
			name: "surrounding whitespace is trimmed",
			file: "  alice:100000:65536  \n",
			want: []IDRange{{Start: 100000, Count: 65536}},
		},
		{
			name: "other users are ignored",
			file: "bob:100000:65536\nalice:165536:65536\n1001:300000:65536\nalic:1:1\nalice2:2:2\n",
			want: []IDRange{{Start: 165536, Count: 65536}},
		},
		{
			name: "no ranges for the user",
			file: "bob:100000:65536\n",
			want: nil,
		},
		{
			name: "empty file",
			file: "",
			want: nil,
		},
		{
			name:     "too few fields is skipped with a warning",
			file:     "alice:100000\nalice:1:2\n",
			want:     []IDRange{{Start: 1, Count: 2}},
			warnings: []string{"test:1: want NAME:START:COUNT"},
		},
		{
			name:     "too many fields is skipped with a warning",
			file:     "alice:100000:65536:extra\n",
			warnings: []string{"test:1: want NAME:START:COUNT"},
		},
		{
			name:     "non-numeric start",
			file:     "alice:abc:65536\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "non-numeric count",
			file:     "alice:100000:lots\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "negative start",
			file:     "alice:-1:10\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "count zero",
			file:     "alice:100000:0\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "empty owner",
			file:     ":100000:10\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name: "range ending exactly at 2^32-1 is valid",
			file: "alice:4294967295:1\nalice:4294901760:65535\n",
			want: []IDRange{{Start: 4294967295, Count: 1}, {Start: 4294901760, Count: 65535}},
		},
		{
			name:     "range past 2^32-1 is skipped",
			file:     "alice:4294967295:2\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "start past 2^32-1 is skipped",
			file:     "alice:4294967296:1\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name:     "count past 2^32-1 is skipped",
			file:     "alice:0:4294967296\n",
			warnings: []string{"test:1: invalid range"},
		},
		{
			name: "malformed lines of other users warn too, good lines still count",
			file: "bob:x:1\nalice:100000:65536\n\nbob\nalice:200000:0\n",
			want: []IDRange{{Start: 100000, Count: 65536}},
			warnings: []string{
				"test:1: invalid range",
				"test:4: want NAME:START:COUNT",
				"test:5: invalid range",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(tt.file), "test", "alice", 1000)
			if err != nil {
				t.Fatalf("ParseSubIDs(%q) error = %v, want nil", tt.file, err)
			}
			if !reflect.DeepEqual(got.Ranges, tt.want) {
				t.Errorf("ParseSubIDs(%q).Ranges = %v, want %v", tt.file, got.Ranges, tt.want)
			}
			if len(got.Warnings) != len(tt.warnings) {
				t.Fatalf("ParseSubIDs(%q).Warnings = %q, want %d warnings like %q", tt.file, got.Warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(got.Warnings[i], w) {
					t.Errorf("ParseSubIDs(%q).Warnings[%d] = %q, want it to contain %q", tt.file, i, got.Warnings[i], w)
				}
			}
		})
	}
}

func TestParseSubIDsWarningQuotesLine(t *testing.T) {
	const file = "alice:1:0\n"
	got, err := ParseSubIDs(strings.NewReader(file), "/etc/subuid", "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := `/etc/subuid:1: invalid range, skipping "alice:1:0"`
	if len(got.Warnings) != 1 || got.Warnings[0] != want {
		t.Errorf("ParseSubIDs(%q).Warnings = %q, want [%q]", file, got.Warnings, want)
	}
}

func TestParseSubIDsReadError(t *testing.T) {
	errBoom := errors.New("boom")
	_, err := ParseSubIDs(iotest.ErrReader(errBoom), "/etc/subuid", "alice", 1000)
	if !errors.Is(err, errBoom) {
		t.Errorf("ParseSubIDs(ErrReader) error = %v, want %v", err, errBoom)
	}
	if err != nil && !strings.Contains(err.Error(), "/etc/subuid") {
		t.Errorf("ParseSubIDs(ErrReader) error = %q, want it to name the source", err)
	}
}

func TestReadSubIDs(t *testing.T) {
	dir := t.TempDir()

	t.Run("missing file means no ranges", func(t *testing.T) {
		path := filepath.Join(dir, "missing")
		got, err := ReadSubIDs(path, "alice", 1000)
		if err != nil || len(got.Ranges) != 0 || len(got.Warnings) != 0 {
			t.Errorf("ReadSubIDs(%q) = %+v, %v, want no ranges and nil", path, got, err)
		}
	})

	t.Run("file is read", func(t *testing.T) {
		path := filepath.Join(dir, "subuid")
		if err := os.WriteFile(path, []byte("alice:100000:65536\nbad\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSubIDs(path, "alice", 1000)
		if err != nil {
			t.Fatalf("ReadSubIDs(%q) error = %v", path, err)
		}
		want := []IDRange{{Start: 100000, Count: 65536}}
		if !reflect.DeepEqual(got.Ranges, want) {
			t.Errorf("ReadSubIDs(%q).Ranges = %v, want %v", path, got.Ranges, want)
		}
		if len(got.Warnings) != 1 || !strings.HasPrefix(got.Warnings[0], path+":2:") {
			t.Errorf("ReadSubIDs(%q).Warnings = %q, want one warning for %s:2", path, got.Warnings, path)
		}
	})

	t.Run("directory is an error", func(t *testing.T) {
		if _, err := ReadSubIDs(dir, "alice", 1000); err == nil {
			t.Errorf("ReadSubIDs(%q) error = nil, want an error", dir)
		}
	})
}

func TestSubIDsTotal(t *testing.T) {
	tests := []struct {
		name   string
		ranges []IDRange
		want   uint64
	}{
		{"none", nil, 0},
		{"one", []IDRange{{Start: 100000, Count: 65536}}, 65536},
		{"sum does not overflow uint32", []IDRange{{Start: 0, Count: 4294967295}, {Start: 1, Count: 10}}, 4294967305},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (SubIDs{Ranges: tt.ranges}).Total(); got != tt.want {
				t.Errorf("SubIDs{%v}.Total() = %d, want %d", tt.ranges, got, tt.want)
			}
		})
	}
}
