package run

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A container must never get a writable handle on ctr's own executable:
// the container's init is a re-execution of it, and /proc/<pid>/exe of that
// process (or of anything that execs /proc/self/exe in the container)
// reaches the file on the host. Rootless does not save us: the binary often
// belongs to the user, who is root in the container (CVE-2019-5736).
//
// So the init is executed from a read-only overlayfs view of the binary's
// directory: the overlay has no upper layer, writes through any path to it
// fail with EROFS, and it is detached as soon as the file is open. That
// costs one mount (~0.3 ms here), where copying the 20 MB binary into a
// sealed memfd costs 17-50 ms; memfd stays as the fallback for filesystems
// overlay cannot use as a lower layer. runc does the same (libcontainer/exeseal).

var (
	sealedMu  sync.Mutex
	sealedExe = map[string]*os.File{}
)

// sealedExecutable returns an O_PATH handle on a read-only copy of the
// executable at path ("" for this process's own), made once per process
// and path. Its fd number is high so that the dup2 of extra files into 3,
// 4, ... in the child cannot clobber it before the execve that uses it.
func sealedExecutable(scratch, path string) (*os.File, error) {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	if f := sealedExe[path]; f != nil {
		return f, nil
	}
	exe := path
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("seal the init executable: %w", err)
		}
	}
	f, err := overlayExecutable(scratch, exe)
	if err != nil {
		if f, err = memfdExecutable(exe); err != nil {
			return nil, fmt.Errorf("seal the init executable: %w", err)
		}
	}
	high, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("seal the init executable: %w", err)
	}
	sealedExe[path] = os.NewFile(uintptr(high), "ctr-init")
	return sealedExe[path], nil
}

func overlayExecutable(scratch, exe string) (_ *os.File, retErr error) {
	exe, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Split(exe)
	// overlayfs parses ':' and ',' in its options; such paths take the
	// memfd route rather than an escaping scheme.
	if strings.ContainsAny(dir, ":,") {
		return nil, fmt.Errorf("executable directory %q cannot be an overlay lower layer", dir)
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(scratch, "exe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	empty, mnt := filepath.Join(tmp, "empty"), filepath.Join(tmp, "mnt")
	for _, d := range []string{empty, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	// Two lower layers and no upper: a read-only overlay.
	opts := "lowerdir=" + filepath.Clean(dir) + ":" + empty
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
		return nil, &os.PathError{Op: "mount overlay", Path: mnt, Err: err}
	}
	// The open file keeps the detached overlay alive.
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	fd, err := unix.Open(filepath.Join(mnt, name), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(mnt, name), Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func memfdExecutable(exe string) (*os.File, error) {
	src, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("ctr-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "ctr-init")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
