package rootless

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// fakeLookPath finds only the named helpers, at /fake/bin/NAME.
func fakeLookPath(found ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, f := range found {
			if f == name {
				return "/fake/bin/" + name, nil
			}
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewPlan(t *testing.T) {
	tests := []struct {
		name       string
		uid, gid   int
		subuid     string
		subgid     string
		helpers    []string
		wantMode   Mode
		wantUIDMap []specs.LinuxIDMapping
		wantGIDMap []specs.LinuxIDMapping
		// degraded lists substrings of Degraded; nil means Degraded must be empty.
		degraded     []string
		wantWarnings int
	}{
		{
			name:     "root needs no mapping",
			uid:      0,
			gid:      0,
			subuid:   "root:100000:65536\n",
			subgid:   "root:100000:65536\n",
			helpers:  []string{"newuidmap", "newgidmap"},
			wantMode: ModeRoot,
		},
		{
			name:     "one range each with helpers",
			uid:      1000,
			gid:      1001,
			subuid:   "alice:100000:65536\n",
			subgid:   "alice:200000:65536\n",
			helpers:  []string{"newuidmap", "newgidmap"},
			wantMode: ModeSubIDs,
			wantUIDMap: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1000, Size: 1},
				{ContainerID: 1, HostID: 100000, Size: 65536},
			},
			wantGIDMap: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1001, Size: 1},
				{ContainerID: 1, HostID: 200000, Size: 65536},
			},
		},
		{
			name:     "several ranges are concatenated in file order",
			uid:      1000,
			gid:      1000,
			subuid:   "alice:300000:10\nbob:100000:65536\n1000:400000:20\n",
			subgid:   "1000:500000:5\nalice:600000:7\nalice:700000:3\n",
			helpers:  []string{"newuidmap", "newgidmap"},
			wantMode: ModeSubIDs,
			wantUIDMap: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1000, Size: 1},
				{ContainerID: 1, HostID: 300000, Size: 10},
				{ContainerID: 11, HostID: 400000, Size: 20},
			},
			wantGIDMap: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1000, Size: 1},
				{ContainerID: 1, HostID: 500000, Size: 5},
				{ContainerID: 6, HostID: 600000, Size: 7},
				{ContainerID: 13, HostID: 700000, Size: 3},
			},
		},
		{
			name:       "no subordinate UIDs",
			uid:        1000,
			gid:        1001,
			subuid:     "bob:100000:65536\n",
			subgid:     "alice:200000:65536\n",
			helpers:    []string{"newuidmap", "newgidmap"},
			wantMode:   ModeSingleID,
			wantUIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			wantGIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}},
			degraded:   []string{"no subordinate UIDs for alice", "usermod --add-subuids", "--add-subgids", " alice ", "ctr system reset"},
		},
		{
			name:       "no subordinate GIDs",
			uid:        1000,
			gid:        1001,
			subuid:     "alice:100000:65536\n",
			subgid:     "",
			helpers:    []string{"newuidmap", "newgidmap"},
			wantMode:   ModeSingleID,
			wantUIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			wantGIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}},
			degraded:   []string{"no subordinate GIDs for alice", "usermod --add-subuids"},
		},
		{
			name:       "newuidmap missing",
			uid:        1000,
			gid:        1001,
			subuid:     "alice:100000:65536\n",
			subgid:     "alice:100000:65536\n",
			helpers:    []string{"newgidmap"},
			wantMode:   ModeSingleID,
			wantUIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			wantGIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}},
			degraded:   []string{"newuidmap not found", "apt-get install uidmap"},
		},
		{
			name:       "newgidmap missing",
			uid:        1000,
			gid:        1001,
			subuid:     "alice:100000:65536\n",
			subgid:     "alice:100000:65536\n",
			helpers:    []string{"newuidmap"},
			wantMode:   ModeSingleID,
			wantUIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			wantGIDMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}},
			degraded:   []string{"newgidmap not found"},
		},
		{
			name:         "malformed lines from both files become warnings",
			uid:          1000,
			gid:          1000,
			subuid:       "alice:100000:65536\nalice:x:1\n",
			subgid:       "alice\nalice:100000:65536\n",
			helpers:      []string{"newuidmap", "newgidmap"},
			wantMode:     ModeSubIDs,
			wantUIDMap:   []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
			wantGIDMap:   []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
			wantWarnings: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := PlanConfig{
				UID:        tt.uid,
				GID:        tt.gid,
				User:       "alice",
				SubUIDFile: writeFile(t, dir, "subuid", tt.subuid),
				SubGIDFile: writeFile(t, dir, "subgid", tt.subgid),
				LookPath:   fakeLookPath(tt.helpers...),
			}
			if tt.uid == 0 {
				cfg.User = "root"
			}
			p, err := NewPlan(cfg)
			if err != nil {
				t.Fatalf("NewPlan(%+v) error = %v", cfg, err)
			}
			if p.Mode != tt.wantMode {
				t.Errorf("NewPlan(%+v).Mode = %q, want %q", cfg, p.Mode, tt.wantMode)
			}
			if p.UID != tt.uid || p.GID != tt.gid || p.User != cfg.User {
				t.Errorf("NewPlan(%+v) UID, GID, User = %d, %d, %q, want %d, %d, %q", cfg, p.UID, p.GID, p.User, tt.uid, tt.gid, cfg.User)
			}
			if !reflect.DeepEqual(p.UIDMap, tt.wantUIDMap) {
				t.Errorf("NewPlan(%+v).UIDMap = %+v, want %+v", cfg, p.UIDMap, tt.wantUIDMap)
			}
			if !reflect.DeepEqual(p.GIDMap, tt.wantGIDMap) {
				t.Errorf("NewPlan(%+v).GIDMap = %+v, want %+v", cfg, p.GIDMap, tt.wantGIDMap)
			}
			if tt.degraded == nil && p.Degraded != "" {
				t.Errorf("NewPlan(%+v).Degraded = %q, want empty", cfg, p.Degraded)
			}
			for _, s := range tt.degraded {
				if !strings.Contains(p.Degraded, s) {
					t.Errorf("NewPlan(%+v).Degraded = %q, want it to contain %q", cfg, p.Degraded, s)
				}
			}
			if len(p.Warnings) != tt.wantWarnings {
				t.Errorf("NewPlan(%+v).Warnings = %q, want %d", cfg, p.Warnings, tt.wantWarnings)
			}
			// The helpers are set only when they will be used.
			wantUIDHelper, wantGIDHelper := "", ""
			if tt.wantMode == ModeSubIDs {
				wantUIDHelper, wantGIDHelper = "/fake/bin/newuidmap", "/fake/bin/newgidmap"
			}
			if p.NewUIDMap != wantUIDHelper || p.NewGIDMap != wantGIDHelper {
				t.Errorf("NewPlan(%+v) helpers = %q, %q, want %q, %q", cfg, p.NewUIDMap, p.NewGIDMap, wantUIDHelper, wantGIDHelper)
			}
		})
	}
}

func TestNewPlanMissingFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := PlanConfig{
		UID:        1000,
		GID:        1000,
		User:       "alice",
		SubUIDFile: filepath.Join(dir, "no-subuid"),
		SubGIDFile: filepath.Join(dir, "no-subgid"),
		LookPath:   fakeLookPath("newuidmap", "newgidmap"),
	}
	p, err := NewPlan(cfg)
	if err != nil {
		t.Fatalf("NewPlan(%+v) error = %v, want nil", cfg, err)
	}
	if p.Mode != ModeSingleID || !strings.Contains(p.Degraded, cfg.SubUIDFile) {
		t.Errorf("NewPlan(%+v) = mode %q, degraded %q, want %q naming %s", cfg, p.Mode, p.Degraded, ModeSingleID, cfg.SubUIDFile)
	}
}

func TestNewPlanUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name           string
		subuid, subgid string
	}{
		{"subuid is a directory", dir, writeFile(t, dir, "subgid", "alice:1:1\n")},
		{"subgid is a directory", writeFile(t, dir, "subuid", "alice:1:1\n"), dir},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := PlanConfig{UID: 1000, GID: 1000, User: "alice", SubUIDFile: tt.subuid, SubGIDFile: tt.subgid,
				LookPath: fakeLookPath("newuidmap", "newgidmap")}
			if p, err := NewPlan(cfg); err == nil {
				t.Errorf("NewPlan(%+v) = %+v, nil, want an error", cfg, p)
			}
		})
	}
}

func TestNewIDMapArgs(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		m    []specs.LinuxIDMapping
		want []string
	}{
		{"no mappings", 42, nil, []string{"42"}},
		{
			name: "single ID",
			pid:  1234,
			m:    []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			want: []string{"1234", "0", "1000", "1"},
		},
		{
			name: "user and two ranges",
			pid:  99999,
			m: []specs.LinuxIDMapping{
				{ContainerID: 0, HostID: 1000, Size: 1},
				{ContainerID: 1, HostID: 100000, Size: 65536},
				{ContainerID: 65537, HostID: 4294901760, Size: 65535},
			},
			want: []string{"99999", "0", "1000", "1", "1", "100000", "65536", "65537", "4294901760", "65535"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newIDMapArgs(tt.pid, tt.m); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("newIDMapArgs(%d, %v) = %q, want %q", tt.pid, tt.m, got, tt.want)
			}
		})
	}
}

func TestMappedIDs(t *testing.T) {
	m := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 4294967295},
	}
	if got, want := MappedIDs(m), uint64(4294967296); got != want {
		t.Errorf("MappedIDs(%v) = %d, want %d", m, got, want)
	}
	if got := MappedIDs(nil); got != 0 {
		t.Errorf("MappedIDs(nil) = %d, want 0", got)
	}
}

func TestHelperUsable(t *testing.T) {
	dir := t.TempDir()
	plain := writeFile(t, dir, "plain", "#!/bin/sh\n")
	setuid := writeFile(t, dir, "setuid", "#!/bin/sh\n")
	if err := os.Chmod(setuid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(setuid); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("chmod u+s %s did not take: %v", setuid, err)
	}
	tests := []struct {
		name     string
		path     string
		wantOK   bool
		wantHow  string
		contains bool
	}{
		{"setuid file", setuid, true, "setuid", false},
		{"plain file", plain, false, "sudo chmod u+s " + plain, true},
		{"missing file", filepath.Join(dir, "missing"), false, "no such file", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, how := helperUsable(tt.path)
			if ok != tt.wantOK || (!tt.contains && how != tt.wantHow) || (tt.contains && !strings.Contains(how, tt.wantHow)) {
				t.Errorf("helperUsable(%q) = %v, %q, want %v, %q", tt.path, ok, how, tt.wantOK, tt.wantHow)
			}
		})
	}
}

func TestMapError(t *testing.T) {
	cause := errors.New("exit status 1")
	tests := []struct {
		name string
		err  *MapError
		want string
	}{
		{
			name: "with output",
			err:  &MapError{Helper: "/usr/bin/newuidmap", Output: "newuidmap: write to uid_map failed: Operation not permitted", Err: cause},
			want: "/usr/bin/newuidmap: exit status 1: newuidmap: write to uid_map failed: Operation not permitted (check that",
		},
		{
			name: "without output",
			err:  &MapError{Helper: "/usr/bin/newgidmap", Err: cause},
			want: "/usr/bin/newgidmap: exit status 1 (check that",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("MapError.Error() = %q, want prefix %q", got, tt.want)
			}
			if !errors.Is(tt.err, cause) {
				t.Errorf("errors.Is(%v, %v) = false, want true", tt.err, cause)
			}
		})
	}
}
