package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	cstorage "go.podman.io/storage"
)

// ContainerIndex reads the store's container records, and finds the
// containers' own directories, without opening the store: from the host,
// outside the user namespace. Entering the namespace (newuidmap, newgidmap,
// a second start of the binary) and opening the store cost `ctr exec` and
// `ctr ps` most of their time, and neither needs more than these records and
// ctr's files, which belong to the user on the host.
//
// The records are storage's own files, read with its own types: the
// containers of the stable and of the volatile location, each replaced
// atomically (temp file, rename) on every change, so a read without the
// store's lock sees one version or the next, never half of one. Writers are
// not held off, so the answer is a snapshot, as it is with the lock
// released. Read-only: anything that changes the store opens it.
type ContainerIndex struct {
	graphRoot, runRoot string
	driver             string // as recorded: overlay, fuse-overlayfs or vfs
	storageDriver      string // the name storage knows the driver by: overlay or vfs
}

// ErrNoIndex is matched by errors.Is when the store cannot be read from
// outside: it does not exist yet, it was not opened since the machine
// booted, --storage-driver names another driver, or its records do not
// parse. The caller opens the store instead, which acts or says why not.
var ErrNoIndex = errors.New("the store's records cannot be read from the host")

// OpenContainerIndex returns the index of the store at opts. It fails with
// ErrNoIndex unless the store exists, its driver is recorded and it was
// opened since the last reboot: the first open after one removes the --rm
// containers the reboot stopped (collectAfterBoot), which the index would
// otherwise still list.
func OpenContainerIndex(opts Options) (*ContainerIndex, error) {
	b, err := os.ReadFile(filepath.Join(opts.GraphRoot, driverChoiceFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoIndex, err)
	}
	var choice DriverChoice
	if err := json.Unmarshal(b, &choice); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoIndex, driverChoiceFile, err)
	}
	boot, err := bootID()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoIndex, err)
	}
	if last, err := os.ReadFile(filepath.Join(opts.GraphRoot, bootIDFile)); err != nil || !bytes.Equal(last, boot) {
		return nil, fmt.Errorf("%w: the store was not opened since the machine booted", ErrNoIndex)
	}
	if opts.Driver != "" && opts.Driver != choice.Driver {
		// Open reports the mismatch.
		return nil, fmt.Errorf("%w: the store uses %s, not %s", ErrNoIndex, choice.Driver, opts.Driver)
	}
	// The driver name storage was opened with (see Open): fuse-overlayfs
	// is its overlay driver with a mount program.
	driver := "overlay"
	switch choice.Driver {
	case DriverOverlay, DriverFuseOverlayfs:
	case DriverVFS:
		driver = "vfs"
	default:
		return nil, fmt.Errorf("%w: unknown driver %q", ErrNoIndex, choice.Driver)
	}
	return &ContainerIndex{graphRoot: opts.GraphRoot, runRoot: opts.RunRoot, driver: choice.Driver, storageDriver: driver}, nil
}

// Containers lists every container in the store.
func (x *ContainerIndex) Containers() ([]*Container, error) {
	dir := filepath.Join(x.graphRoot, containersDir(x.storageDriver))
	var out []*Container
	for _, name := range []string{"containers.json", "volatile-containers.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // no container was ever stored there
		}
		if err != nil {
			return nil, err
		}
		var records []cstorage.Container
		if err := json.Unmarshal(b, &records); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoIndex, name, err)
		}
		for i := range records {
			out = append(out, toContainer(&records[i]))
		}
	}
	return out, nil
}

// LookupContainer finds a container by name, full ID or unique ID prefix,
// as Store.LookupContainer does.
func (x *ContainerIndex) LookupContainer(nameOrID string) (*Container, error) {
	cs, err := x.Containers()
	if err != nil {
		return nil, err
	}
	return matchContainer(cs, nameOrID)
}

// ContainerDirOf is the directory of c's own files: see Store.ContainerDir.
// It may not exist yet.
func (x *ContainerIndex) ContainerDirOf(c *Container) (string, error) {
	root := x.graphRoot
	if c.Volatile {
		root = x.runRoot
	}
	return containerFilesDir(root, x.storageDriver, c.ID), nil
}

// DriverName is the storage driver the store uses.
func (x *ContainerIndex) DriverName() string { return x.driver }
