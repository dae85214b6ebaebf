package rootless

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestReadIDMap(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []specs.LinuxIDMapping
		wantErr bool
	}{
		{
			name:    "kernel format with padding",
			content: "         0       1000          1\n         1     100000      65536\n",
			want: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1000, Size: 1},
				{ContainerID: 1, HostID: 100000, Size: 65536},
			},
		},
		{
			name:    "identity map of the initial namespace",
			content: "         0          0 4294967295\n",
			want:    []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 4294967295}},
		},
		{
			name:    "lines with the wrong field count are skipped",
			content: "0 1000\n0 1000 1\n1 2 3 4\n",
			want:    []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
		},
		{
			name:    "empty map",
			content: "",
			want:    nil,
		},
		{
			name:    "non-numeric field",
			content: "0 x 1\n",
			wantErr: true,
		},
		{
			name:    "field past 2^32-1",
			content: "0 1000 4294967296\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "uid_map", tt.content)
			got, err := readIDMap(path)
			if tt.wantErr {
				if err == nil {
					t.Errorf("readIDMap(%q) = %v, nil, want an error", tt.content, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readIDMap(%q) = %+v, %v, want %+v, nil", tt.content, got, err, tt.want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing")
		if got, err := readIDMap(path); err == nil {
			t.Errorf("readIDMap(%q) = %v, nil, want an error", path, got)
		}
	})
}

func TestHostID(t *testing.T) {
	m := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 65536},
		{ContainerID: 65537, HostID: 300000, Size: 10},
	}
	tests := []struct {
		name string
		m    []specs.LinuxIDMapping
		id   int
		want int
	}{
		{"root maps to the user", m, 0, 1000},
		{"first subordinate ID", m, 1, 100000},
		{"last ID of the first range", m, 65536, 165535},
		{"first ID of the second range", m, 65537, 300000},
		{"last ID of the second range", m, 65546, 300009},
		{"unmapped ID is returned unchanged", m, 65547, 65547},
		{"empty map returns the ID", nil, 42, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostID(tt.m, tt.id); got != tt.want {
				t.Errorf("hostID(%v, %d) = %d, want %d", tt.m, tt.id, got, tt.want)
			}
		})
	}
}
