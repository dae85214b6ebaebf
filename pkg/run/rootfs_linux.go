package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupRootfs mounts everything the spec lists under rootfs. Mount targets
// are resolved inside the root to an O_PATH handle and mounted on through
// /proc/self/fd, so a symlink planted in the image (or swapped in by another
// container sharing a volume) can never redirect a mount outside the root
// (CVE-2021-30465; runc mounts by fd since 1.1.3 and 1.2).
func setupRootfs(rootfs string, spec *specs.Spec) error {
	// Nothing we mount may propagate back to the monitor's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return &os.PathError{Op: "make mounts private", Path: "/", Err: err}
	}
	// pivot_root needs the new root to be a mount point.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind rootfs", Path: rootfs, Err: err}
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, m := range spec.Mounts {
		if err := mountOne(root, rootfs, m); err != nil {
			return err
		}
	}
	return createDevSymlinks(root)
}

// mountFlag maps mount(8) options to flags. A false clear means the flag
// is set; true means it is cleared.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits options into flags, propagation changes and the
// data string passed to the filesystem.
func parseMountOptions(options []string) (flags uintptr, propagation []uintptr, data string) {
	var extra []string
	for _, o := range options {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			propagation = append(propagation, p)
			continue
		}
		extra = append(extra, o)
	}
	return flags, propagation, strings.Join(extra, ",")
}

func mountOne(root *os.File, rootfs string, m specs.Mount) error {
	flags, propagation, data := parseMountOptions(m.Options)
	isBind := m.Type == "bind" || flags&unix.MS_BIND != 0
	fileTarget := false
	if isBind {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind mount source: %w", err)
		}
		fileTarget = !fi.IsDir()
	}
	target, err := mountTarget(root, m.Destination, fileTarget)
	if err != nil {
		return err
	}
	defer target.Close()
	// /proc and /sys must land on ordinary directories at their path: an
	// image making them symlinks could point procfs somewhere a masked
	// path does not cover (CVE-2019-19921, runc mounts.bats).
	if m.Type == "proc" || m.Type == "sysfs" {
		if real, err := os.Readlink(fdPath(target)); err != nil || real != filepath.Join(rootfs, m.Destination) {
			return fmt.Errorf("mount %s on %s: the target must be an ordinary directory, it resolves to %s", m.Type, m.Destination, real)
		}
	}
	dst := fdPath(target)
	switch {
	case isBind:
		if err := unix.Mount(m.Source, dst, "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
			return &os.PathError{Op: "bind mount " + m.Source + " on", Path: m.Destination, Err: err}
		}
	case m.Type == "cgroup":
		// Best effort: without cgroup v2 (or without delegation) there is
		// nothing useful to show, and ctr needs no cgroups to run.
		if err := unix.Mount("cgroup2", dst, "cgroup2", flags, ""); err != nil {
			return nil
		}
	default:
		if err := unix.Mount(m.Source, dst, m.Type, flags, data); err != nil {
			return &os.PathError{Op: "mount " + m.Type, Path: m.Destination, Err: err}
		}
	}
	remount := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if !isBind {
		remount = 0 // the flags were applied by the mount itself
	}
	if remount == 0 && len(propagation) == 0 {
		return nil
	}
	// The handle still names what was under the new mount: resolve the
	// destination again to reach the mount itself.
	top, err := pathrs.OpenatInRoot(root, m.Destination)
	if err != nil {
		return fmt.Errorf("reopen mount target %s: %w", m.Destination, err)
	}
	defer top.Close()
	dst = fdPath(top)
	// A bind mount ignores flags until remounted; flags locked by the user
	// namespace (nosuid and friends on the source) must be kept.
	if remount != 0 {
		if err := remountBind(dst, remount); err != nil {
			return &os.PathError{Op: "remount bind", Path: m.Destination, Err: err}
		}
	}
	for _, p := range propagation {
		if err := unix.Mount("", dst, "", p, ""); err != nil {
			return &os.PathError{Op: "set mount propagation", Path: m.Destination, Err: err}
		}
	}
	return nil
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// mountTarget resolves dest inside root, creating it (a directory, or an
// empty file for file bind mounts) when missing, and returns an O_PATH
// handle on it.
func mountTarget(root *os.File, dest string, file bool) (*os.File, error) {
	if !file {
		h, err := pathrs.MkdirAllHandle(root, dest, 0o755)
		if err != nil {
			return nil, fmt.Errorf("create mount target %s: %w", dest, err)
		}
		return h, nil
	}
	if h, err := pathrs.OpenatInRoot(root, dest); err == nil {
		return h, nil
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount target %s: %w", dest, err)
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "create mount target", Path: dest, Err: err}
	}
	if err == nil {
		unix.Close(fd)
	}
	h, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("open mount target %s: %w", dest, err)
	}
	return h, nil
}

// remountBind applies flags to a bind mount, keeping the flags the kernel
// locks on mounts inherited from a more privileged user namespace.
func remountBind(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_RDONLY)
	if flags&unix.MS_RDONLY == 0 {
		// rw was asked for: keep ro only when it is locked (the mount
		// then stays ro and the remount fails loudly below if not allowed).
		locked &^= unix.MS_RDONLY
	}
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags|locked, "")
}

func remountReadonly(path string) error {
	if err := remountBind(path, unix.MS_RDONLY); err != nil {
		return &os.PathError{Op: "remount read-only", Path: path, Err: err}
	}
	return nil
}

// createDevSymlinks adds the /dev links programs expect.
func createDevSymlinks(root *os.File) error {
	dev, err := pathrs.OpenatInRoot(root, "/dev")
	if err != nil {
		return nil // no /dev mount in this spec
	}
	defer dev.Close()
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: "/dev/" + l[1], Err: err}
		}
	}
	return nil
}

// pivotRoot makes rootfs the root and detaches the old one.
func pivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	// While the documentation may claim otherwise, pivot_root(".", ".")
	// is valid: the old root is stacked on top of the new one at "/", and
	// the unmount below removes it without needing a directory for it in
	// the image (runc does the same).
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: ".", Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "unmount old root", Path: ".", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// finishRootfs masks and write-protects paths once the root is in place.
func finishRootfs(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	return nil
}

// maskPath hides a file behind /dev/null and a directory behind an empty
// read-only tmpfs.
func maskPath(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "mask", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=555"); err != nil {
			return &os.PathError{Op: "mask", Path: p, Err: err}
		}
		return nil
	}
	// The image could have made /dev/null a symlink to a file we would
	// then bind over sensitive paths (CVE-2025-31133): check it is the
	// real character device 1:3 (runc's verifyDevNull).
	if err := unix.Stat("/dev/null", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return fmt.Errorf("mask %s: /dev/null is not the null device", p)
	}
	if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "mask", Path: p, Err: err}
	}
	return nil
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "bind read-only path", Path: p, Err: err}
	}
	return remountReadonly(p)
}
