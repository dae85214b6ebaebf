package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/sirupsen/logrus"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/drivers/overlay"
	"go.podman.io/storage/pkg/ioutils"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// Driver names accepted by Options.Driver.
const (
	DriverOverlay       = "overlay"        // native kernel overlay in the user namespace
	DriverFuseOverlayfs = "fuse-overlayfs" // overlay driver with fuse-overlayfs as mount program
	DriverVFS           = "vfs"            // full copies, works everywhere
)

// Options configure Open.
type Options struct {
	GraphRoot string // images and layers, e.g. ~/.local/share/ctr/storage
	RunRoot   string // volatile state, e.g. $XDG_RUNTIME_DIR/ctr/storage
	// Driver forces a driver (DriverOverlay, DriverFuseOverlayfs,
	// DriverVFS). Empty means: reuse the store's driver, or pick the best
	// one that works.
	Driver string
	// SquashOwners extracts layers even when their files belong to IDs the
	// user namespace does not map (single-ID mode): they end up owned by
	// root instead of failing the pull.
	SquashOwners bool
}

// DriverChoice records which storage driver a store uses and why.
type DriverChoice struct {
	Driver       string `json:"driver"` // one of the Driver* constants
	MountProgram string `json:"mountProgram,omitempty"`
	Reason       string `json:"reason"`
}

// driverChoiceFile holds the DriverChoice inside the graph root, so the same
// driver is used on every open: switching drivers would hide every image.
const driverChoiceFile = "ctr-driver.json"

// Store is ctr's image and container store.
type Store struct {
	s       cstorage.Store
	opts    Options
	choice  DriverChoice
	history []string // set by NamesHistory bookkeeping; unused for now
}

// ErrNotInUserNamespace is returned by Open when the process is not uid 0:
// opening the store outside the user namespace would misdetect the
// filesystem features and record them for good.
var ErrNotInUserNamespace = errors.New("the store must be opened as root or inside ctr's user namespace")

// Open opens (creating if needed) the store. It must run as uid 0, real or
// inside the user namespace.
func Open(opts Options) (_ *Store, retErr error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotInUserNamespace
	}
	// go.podman.io/storage reads the user's storage.conf on open even with
	// explicit options; a podman configuration there must not leak in.
	os.Setenv("CONTAINERS_STORAGE_CONF", "/dev/null")

	for _, dir := range []string{opts.GraphRoot, opts.RunRoot} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// Layers hold setuid files owned by the user's IDs: nobody else may
		// reach them (CVE-2021-41091 is the rootful version of this).
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
	}
	choice, err := chooseDriver(opts)
	if err != nil {
		return nil, err
	}
	so := types.StoreOptions{
		GraphRoot:       opts.GraphRoot,
		RunRoot:         opts.RunRoot,
		GraphDriverName: "overlay",
	}
	prefix := "overlay."
	if choice.Driver == DriverVFS {
		so.GraphDriverName, prefix = "vfs", "vfs."
	}
	if choice.MountProgram != "" {
		so.GraphDriverOptions = append(so.GraphDriverOptions, prefix+"mount_program="+choice.MountProgram)
	}
	if opts.SquashOwners {
		so.GraphDriverOptions = append(so.GraphDriverOptions, prefix+"ignore_chown_errors=true")
	}
	s, err := cstorage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("open store %s with driver %s: %w", opts.GraphRoot, choice.Driver, err)
	}
	collectAfterBoot(s, opts.GraphRoot)
	return &Store{s: s, opts: opts, choice: choice}, nil
}

// bootIDFile, in the graph root, records the boot during which the store
// was last opened.
const bootIDFile = "ctr-boot-id"

// bootID returns the kernel's ID of the running boot; a variable, for tests.
var bootID = func() ([]byte, error) { return os.ReadFile("/proc/sys/kernel/random/boot_id") }

// collectAfterBoot cleans up, once per boot, after the previous one: every
// process of that boot is gone, so its volatile (--rm) containers are
// removed (their removal was due when they stopped; a reboot stopped them),
// and layer directories and layer data that no record names (storage's
// GarbageCollect), such as those of volatile containers whose unsynced
// records a crash lost, are collected. The boot ID is kept in the graph root,
// not the run root: an emptied run root without a reboot ($XDG_RUNTIME_DIR
// removed at logout while a detached container lives on) must not look like
// one. Without a recorded boot (first open, or a store from before this
// record) only the collection runs. The check holds a lock on the record, so
// a store opened at the same time cannot create a volatile container that
// this one then takes for a leftover. Best effort: a failure leaves disk
// space taken, nothing inconsistent.
func collectAfterBoot(s cstorage.Store, graphRoot string) {
	boot, err := bootID()
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(graphRoot, bootIDFile), os.O_RDWR|os.O_CREATE, 0o600) // Go opens with O_CLOEXEC
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return
	}
	prev, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil || bytes.Equal(prev, boot) {
		return
	}
	if len(prev) > 0 {
		removeVolatileContainers(s)
	}
	if err := s.GarbageCollect(); err != nil {
		logrus.Debugf("garbage collection of the store after a reboot: %v", err)
		return
	}
	// In place under the lock: one small write is never seen half done by
	// another process, and one torn by a crash is followed by a reboot.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(boot, 0)
	}
}

// removeVolatileContainers removes the volatile containers of a previous
// boot with their layers and directories.
func removeVolatileContainers(s cstorage.Store) {
	cs, err := s.Containers()
	if err != nil {
		logrus.Debugf("list containers after a reboot: %v", err)
		return
	}
	for _, c := range cs {
		if volatile, _ := c.Flags[volatileFlag].(bool); !volatile {
			continue
		}
		if err := s.DeleteContainer(c.ID); err != nil {
			logrus.Debugf("remove volatile container %.12s after a reboot: %v", c.ID, err)
		}
	}
}

// Close releases the store. Mounts made by this process stay (they belong to
// running containers).
func (s *Store) Close() error {
	_, err := s.s.Shutdown(false)
	if errors.Is(err, cstorage.ErrLayerUsedByContainer) {
		// Mount counts are shared by every process using the store; a
		// running container elsewhere is not this process's concern.
		return nil
	}
	return err
}

// Options returns the options the store was opened with, so another
// process (a container monitor) can open the same store.
func (s *Store) Options() Options { return s.opts }

// Driver says which driver the store uses and why.
func (s *Store) Driver() DriverChoice { return s.choice }

// GraphRoot returns where images and layers live.
func (s *Store) GraphRoot() string { return s.opts.GraphRoot }

// RunRoot returns the volatile state directory.
func (s *Store) RunRoot() string { return s.opts.RunRoot }

func chooseDriver(opts Options) (DriverChoice, error) {
	recordPath := filepath.Join(opts.GraphRoot, driverChoiceFile)
	var recorded *DriverChoice
	if b, err := os.ReadFile(recordPath); err == nil {
		var c DriverChoice
		if err := json.Unmarshal(b, &c); err == nil && c.Driver != "" {
			recorded = &c
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return DriverChoice{}, err
	}

	var choice DriverChoice
	switch {
	case opts.Driver != "" && recorded != nil && recorded.Driver != opts.Driver:
		return DriverChoice{}, fmt.Errorf("%w: the store at %s uses %s, not %s (run `ctr system reset` to start over with %s)",
			ErrDriverMismatch, opts.GraphRoot, recorded.Driver, opts.Driver, opts.Driver)
	case recorded != nil:
		choice = *recorded
		if choice.Driver == DriverFuseOverlayfs {
			// The binary may have moved since the store was created.
			if p, err := exec.LookPath("fuse-overlayfs"); err == nil {
				choice.MountProgram = p
			}
		}
		return choice, nil
	case opts.Driver != "":
		c, err := forcedDriver(opts.Driver)
		if err != nil {
			return DriverChoice{}, err
		}
		choice = c
	default:
		choice = probeDriver(opts)
	}
	b, err := json.Marshal(choice)
	if err != nil {
		return DriverChoice{}, err
	}
	if err := ioutils.AtomicWriteFile(recordPath, b, 0o600); err != nil {
		return DriverChoice{}, err
	}
	return choice, nil
}

// ErrDriverMismatch is returned when --storage-driver names a different
// driver than the existing store uses.
var ErrDriverMismatch = errors.New("storage driver mismatch")

func forcedDriver(name string) (DriverChoice, error) {
	switch name {
	case DriverOverlay, DriverVFS:
		return DriverChoice{Driver: name, Reason: "requested with --storage-driver or CTR_STORAGE_DRIVER"}, nil
	case DriverFuseOverlayfs:
		p, err := exec.LookPath("fuse-overlayfs")
		if err != nil {
			return DriverChoice{}, fmt.Errorf("storage driver fuse-overlayfs: %w (install the fuse-overlayfs package)", err)
		}
		if why := fuseUnusable(); why != "" {
			return DriverChoice{}, fmt.Errorf("storage driver fuse-overlayfs: %s", why)
		}
		return DriverChoice{Driver: name, MountProgram: p, Reason: "requested with --storage-driver or CTR_STORAGE_DRIVER"}, nil
	}
	return DriverChoice{}, fmt.Errorf("unknown storage driver %q (want overlay, fuse-overlayfs or vfs)", name)
}

// probeDriver picks native overlay when a test mount works here, else
// fuse-overlayfs when it is installed and /dev/fuse opens, else vfs.
func probeDriver(opts Options) DriverChoice {
	probeDir, err := os.MkdirTemp(opts.GraphRoot, ".probe-")
	var nativeWhy string
	if err == nil {
		defer os.RemoveAll(probeDir)
		home, run := filepath.Join(probeDir, "home"), filepath.Join(probeDir, "run")
		ok, err := overlay.SupportsNativeOverlay(home, run)
		_ = unix.Unmount(filepath.Join(home, "merged"), unix.MNT_DETACH)
		if ok {
			return DriverChoice{Driver: DriverOverlay, Reason: "native overlay works in the user namespace"}
		}
		nativeWhy = "native overlay is not supported here"
		if err != nil {
			nativeWhy += " (" + err.Error() + ")"
		}
	} else {
		nativeWhy = "cannot probe overlay: " + err.Error()
	}
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return DriverChoice{Driver: DriverVFS, Reason: nativeWhy + " and fuse-overlayfs is not installed: using vfs (slow, full copies); install fuse-overlayfs and run `ctr system reset`"}
	}
	if why := fuseUnusable(); why != "" {
		return DriverChoice{Driver: DriverVFS, Reason: nativeWhy + " and " + why + ": using vfs (slow, full copies)"}
	}
	return DriverChoice{Driver: DriverFuseOverlayfs, MountProgram: p, Reason: nativeWhy + ": using fuse-overlayfs"}
}

// fuseUnusable returns why /dev/fuse cannot be used, or "".
func fuseUnusable() string {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "/dev/fuse is not usable (" + err.Error() + "; it should be mode 0666: sudo chmod 0666 /dev/fuse)"
	}
	f.Close()
	return ""
}
