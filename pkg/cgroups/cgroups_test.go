package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTree makes a cgroup-like directory tree under a temp root.
func fakeTree(t *testing.T, rel string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"cgroup.subtree_control": "", "cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 0\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestOwn(t *testing.T) {
	rel := "user.slice/user-1000.slice/user@1000.service/app.slice"
	root := fakeTree(t, rel)
	t.Run("delegated subtree is found", func(t *testing.T) {
		got, err := Own(root, []byte("0::/"+rel+"\n"), false)
		if err != nil || got != filepath.Join(root, rel) {
			t.Fatalf("Own() = %q, %v, want %q", got, err, filepath.Join(root, rel))
		}
	})
	t.Run("no v2 line", func(t *testing.T) {
		_, err := Own(root, []byte("1:name=systemd:/x\n"), false)
		if !errors.Is(err, ErrNotDelegated) {
			t.Fatalf("Own() error = %v, want ErrNotDelegated", err)
		}
	})
	t.Run("missing subtree_control", func(t *testing.T) {
		_, err := Own(root, []byte("0::/user.slice\n"), false)
		if !errors.Is(err, ErrNotDelegated) || !strings.Contains(err.Error(), "subtree_control") {
			t.Fatalf("Own() error = %v, want ErrNotDelegated about subtree_control", err)
		}
	})
	t.Run("the real root of a hybrid host is refused", func(t *testing.T) {
		dir := t.TempDir() // a tmpfs/ext4 dir: not cgroup2
		_, err := Own(dir, []byte("0::/\n"), true)
		if !errors.Is(err, ErrNotDelegated) {
			t.Fatalf("Own() error = %v, want ErrNotDelegated", err)
		}
	})
}

func TestCreateFreezeRemove(t *testing.T) {
	root := fakeTree(t, "app")
	dir, err := Create(filepath.Join(root, "app"), "ctr-abc")
	if err != nil {
		t.Fatal(err)
	}
	// The fake kernel: cgroup.events follows cgroup.freeze.
	if err := os.WriteFile(filepath.Join(dir, "cgroup.events"), []byte("populated 1\nfrozen 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SetFrozen(dir, true); err != nil {
		t.Fatalf("SetFrozen(true) = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); string(b) != "1" {
		t.Fatalf("cgroup.freeze = %q, want 1", b)
	}
	if frozen, err := Frozen(dir); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v, want true", frozen, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.events"), []byte("frozen 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SetFrozen(dir, false); err != nil {
		t.Fatalf("SetFrozen(false) = %v", err)
	}
	for _, f := range []string{"cgroup.freeze", "cgroup.events"} {
		os.Remove(filepath.Join(dir, f))
	}
	if err := Remove(dir); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cgroup %s still exists", dir)
	}
}
