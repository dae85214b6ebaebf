// Package cgroups finds a cgroup v2 subtree the user may manage (one
// delegated by systemd, Delegate=yes), makes a cgroup per container in it
// and freezes or thaws it. ctr needs no cgroups to run a container: without
// delegation, the features that need them (pause) fail with the reason.
//
// Every function takes the cgroup filesystem's mount point, so tests run
// against a fake tree.
package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotDelegated is matched by errors.Is when there is no cgroup v2
// subtree this user may manage.
var ErrNotDelegated = errors.New("no delegated cgroup v2 subtree")

// Fix says how to get a delegated subtree.
const Fix = "boot with cgroup v2 only (systemd.unified_cgroup_hierarchy=1) and run ctr in a systemd user session, " +
	"which delegates the user's subtree (Delegate=yes); `ctr info` shows the cgroup status"

// Root is where the unified hierarchy is normally mounted.
const Root = "/sys/fs/cgroup"

// Own returns the directory of this process's cgroup v2 under root, given
// the content of /proc/self/cgroup, when the user may create cgroups in it
// (it is a cgroup2 mount, the directory is writable and has
// cgroup.subtree_control). Otherwise it returns an error matching
// ErrNotDelegated that says what is missing.
func Own(root string, procSelfCgroup []byte, checkFS bool) (string, error) {
	if checkFS {
		var st unix.Statfs_t
		if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			return "", fmt.Errorf("%w: %s is not a cgroup v2 mount (hybrid or v1 hierarchy)", ErrNotDelegated, root)
		}
	}
	var rel string
	sc := bufio.NewScanner(bytes.NewReader(procSelfCgroup))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			rel = p
		}
	}
	if rel == "" {
		return "", fmt.Errorf("%w: this process is in no cgroup v2", ErrNotDelegated)
	}
	dir := filepath.Join(root, rel)
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return "", fmt.Errorf("%w: %s is not writable by this user", ErrNotDelegated, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.subtree_control")); err != nil {
		return "", fmt.Errorf("%w: %s has no cgroup.subtree_control", ErrNotDelegated, dir)
	}
	return dir, nil
}

// OwnCgroup is Own for this process on this host.
func OwnCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	return Own(Root, b, true)
}

// Create makes the cgroup parent/name for a container.
func Create(parent, name string) (string, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return dir, nil
}

// Remove deletes an (empty) cgroup.
func Remove(dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// SetFrozen freezes (or thaws) every process in the cgroup with the cgroup
// v2 freezer and waits until cgroup.events reports it done.
func SetFrozen(dir string, frozen bool) error {
	want := "0"
	if frozen {
		want = "1"
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(want), 0); err != nil {
		return fmt.Errorf("write cgroup.freeze: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := Frozen(dir)
		if err != nil {
			return err
		}
		if got == frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s did not become frozen=%v within 5s", dir, frozen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Frozen reads the "frozen" entry of cgroup.events.
func Frozen(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "frozen "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, fmt.Errorf("%s/cgroup.events has no frozen entry", dir)
}
