package oci

import (
	"reflect"
	"slices"
	"testing"
)

func TestCapabilities(t *testing.T) {
	def := slices.Clone(defaultCapabilities)
	without := func(set []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(set), func(c string) bool { return slices.Contains(drop, c) })
	}
	with := func(set []string, add ...string) []string {
		out := append(slices.Clone(set), add...)
		slices.Sort(out)
		return out
	}
	all := slices.Sorted(slices.Values(allCapabilities))
	for _, tc := range []struct {
		name           string
		user           string
		add, drop      []string
		bounding, want []string // want: effective and permitted
		wantErr        error
	}{
		{name: "podman's default 11", bounding: def, want: def},
		{name: "add in any spelling", add: []string{"net_raw", "Cap_Sys_Admin", "CAP_NET_RAW"}, bounding: with(def, "CAP_NET_RAW", "CAP_SYS_ADMIN"), want: with(def, "CAP_NET_RAW", "CAP_SYS_ADMIN")},
		{name: "drop", drop: []string{"chown", "CAP_KILL"}, bounding: without(def, "CAP_CHOWN", "CAP_KILL"), want: without(def, "CAP_CHOWN", "CAP_KILL")},
		{name: "drop a capability not in the set", drop: []string{"SYS_ADMIN"}, bounding: def, want: def},
		{name: "drop ALL then add", drop: []string{"all"}, add: []string{"NET_BIND_SERVICE"}, bounding: []string{"CAP_NET_BIND_SERVICE"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "drop ALL", drop: []string{"ALL"}, bounding: []string{}, want: []string{}},
		{name: "add ALL", add: []string{"ALL"}, bounding: all, want: all},
		{name: "add ALL minus one", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, bounding: without(all, "CAP_SYS_ADMIN"), want: without(all, "CAP_SYS_ADMIN")},
		{name: "newest capabilities are known", add: []string{"BPF", "PERFMON", "CHECKPOINT_RESTORE"}, bounding: with(def, "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_PERFMON"), want: with(def, "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_PERFMON")},
		{name: "add and drop ALL", add: []string{"ALL"}, drop: []string{"ALL"}, wantErr: ErrInvalidCapability},
		{name: "add and drop the same", add: []string{"NET_RAW"}, drop: []string{"cap_net_raw"}, wantErr: ErrInvalidCapability},
		{name: "unknown add", add: []string{"CAP_FOO"}, wantErr: ErrInvalidCapability},
		{name: "unknown drop", drop: []string{"bogus"}, wantErr: ErrInvalidCapability},
		{name: "empty name", add: []string{""}, wantErr: ErrInvalidCapability},
		{name: "CAP_ALL is not ALL", add: []string{"CAP_ALL"}, wantErr: ErrInvalidCapability},
		// A non-root user keeps the bounding set but is granted only what
		// --cap-add names (podman).
		{name: "non-root default", user: "nobody", bounding: def, want: []string{}},
		{name: "non-root with --cap-add", user: "nobody", add: []string{"NET_RAW"}, bounding: with(def, "CAP_NET_RAW"), want: []string{"CAP_NET_RAW"}},
		{name: "non-root with a default re-added", user: "1000", add: []string{"CHOWN"}, bounding: def, want: []string{"CAP_CHOWN"}},
		{name: "non-root with --cap-add ALL", user: "1000", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, bounding: without(all, "CAP_SYS_ADMIN"), want: without(all, "CAP_SYS_ADMIN")},
		{name: "uid 0 with another gid is root", user: "0:1000", bounding: def, want: def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generate(t, func(o *Options) { o.User, o.CapAdd, o.CapDrop = tc.user, tc.add, tc.drop })
			checkErr(t, "Generate()", err, tc.wantErr)
			if err != nil {
				return
			}
			c := s.Process.Capabilities
			if !reflect.DeepEqual(c.Bounding, tc.bounding) {
				t.Errorf("Bounding = %v, want %v", c.Bounding, tc.bounding)
			}
			if !reflect.DeepEqual(c.Effective, tc.want) || !reflect.DeepEqual(c.Permitted, tc.want) {
				t.Errorf("Effective, Permitted = %v, %v, want %v", c.Effective, c.Permitted, tc.want)
			}
			if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
				t.Errorf("Inheritable, Ambient = %v, %v, want empty (CVE-2022-29162)", c.Inheritable, c.Ambient)
			}
		})
	}
}

func TestCapabilityLists(t *testing.T) {
	if len(allCapabilities) != 41 {
		t.Errorf("len(allCapabilities) = %d, want 41 (CAP_CHOWN..CAP_CHECKPOINT_RESTORE)", len(allCapabilities))
	}
	seen := map[string]bool{}
	for _, c := range allCapabilities {
		if seen[c] {
			t.Errorf("allCapabilities lists %s twice", c)
		}
		seen[c] = true
	}
	for _, c := range defaultCapabilities {
		if !seen[c] {
			t.Errorf("default capability %s is not in allCapabilities", c)
		}
	}
	if len(defaultCapabilities) != 11 {
		t.Errorf("len(defaultCapabilities) = %d, want podman's 11", len(defaultCapabilities))
	}
}
