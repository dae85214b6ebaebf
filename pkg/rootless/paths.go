package rootless

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Paths are the per-user directories ctr keeps its state in.
type Paths struct {
	// DataDir holds persistent state: $XDG_DATA_HOME/ctr, default
	// ~/.local/share/ctr; /var/lib/ctr for root.
	DataDir string
	// RuntimeDir holds state that must not survive a reboot:
	// $XDG_RUNTIME_DIR/ctr; /run/ctr for root.
	RuntimeDir string
	// RuntimeDirNote says why RuntimeDir is not under $XDG_RUNTIME_DIR, when
	// it is not.
	RuntimeDirNote string
}

// ErrNoHome is returned when neither XDG_DATA_HOME nor HOME is set.
var ErrNoHome = errors.New("neither XDG_DATA_HOME nor HOME is set")

// UserPaths computes ctr's directories for the calling user from the
// environment. It never consults os/user: inside the user namespace the
// process is uid 0 and would find root's home.
//
// An XDG_RUNTIME_DIR that is unset, missing, not owned by the user or open
// to others (typical after `su`, which keeps the previous user's value) is
// replaced by a private fallback under $TMPDIR, created 0700 and checked
// for ownership so another local user cannot pre-create it.
func UserPaths(getenv func(string) string) (Paths, error) {
	if inNamespace() || os.Geteuid() != 0 {
		return rootlessPaths(getenv, os.Getuid())
	}
	return Paths{DataDir: "/var/lib/ctr", RuntimeDir: "/run/ctr"}, nil
}

func rootlessPaths(getenv func(string) string, uid int) (Paths, error) {
	var p Paths
	switch {
	case getenv("XDG_DATA_HOME") != "":
		p.DataDir = filepath.Join(getenv("XDG_DATA_HOME"), "ctr")
	case getenv("HOME") != "":
		p.DataDir = filepath.Join(getenv("HOME"), ".local", "share", "ctr")
	default:
		return p, ErrNoHome
	}
	if inNamespace() {
		// The host-side process validated it and passed it down.
		p.RuntimeDir = filepath.Join(getenv("XDG_RUNTIME_DIR"), "ctr")
		return p, nil
	}
	base, note, err := runtimeBase(getenv, uid)
	if err != nil {
		return p, err
	}
	p.RuntimeDir = filepath.Join(base, "ctr")
	p.RuntimeDirNote = note
	return p, nil
}

// runtimeBase returns the directory to use as XDG_RUNTIME_DIR.
func runtimeBase(getenv func(string) string, uid int) (dir, note string, err error) {
	if xdg := getenv("XDG_RUNTIME_DIR"); xdg != "" {
		problem := checkPrivateDir(xdg, uid)
		if problem == "" {
			return xdg, "", nil
		}
		note = fmt.Sprintf("XDG_RUNTIME_DIR=%s is not usable (%s)", xdg, problem)
	} else {
		note = "XDG_RUNTIME_DIR is not set"
	}
	tmp := getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	dir = filepath.Join(tmp, "ctr-run-"+strconv.Itoa(uid))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", "", fmt.Errorf("create fallback runtime directory: %w", err)
	}
	if problem := checkPrivateDir(dir, uid); problem != "" {
		return "", "", fmt.Errorf("fallback runtime directory %s is unsafe (%s): remove it or set XDG_RUNTIME_DIR", dir, problem)
	}
	return dir, note + "; using " + dir, nil
}

// checkPrivateDir returns "" when path is a real directory owned by uid and
// not writable by group or others, else what is wrong with it.
func checkPrivateDir(path string, uid int) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return err.Error()
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "not a directory"
	case !ok || int(st.Uid) != uid:
		return "not owned by uid " + strconv.Itoa(uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("mode %04o is writable by others", fi.Mode().Perm())
	}
	if err := syscall.Access(path, 7 /* rwx */); err != nil {
		return "not accessible: " + err.Error()
	}
	return ""
}
