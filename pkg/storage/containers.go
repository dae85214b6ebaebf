package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/stringid"
)

// ErrContainerUnknown is matched by errors.Is when no container has the
// given name or ID.
var ErrContainerUnknown = errors.New("no such container")

// ErrNameInUse is matched by errors.Is when a container name is taken.
var ErrNameInUse = errors.New("container name is already in use")

// ErrInvalidName is matched by errors.Is for container names outside
// [a-zA-Z0-9][a-zA-Z0-9_.-]*.
var ErrInvalidName = errors.New("invalid container name")

// nameRegexp is podman's container name rule: no path separators, no
// leading punctuation, nothing that could be mistaken for an option.
var nameRegexp = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateContainerName checks a user-given container name.
func ValidateContainerName(name string) error {
	if len(name) > 253 || !nameRegexp.MatchString(name) {
		return fmt.Errorf("%w %q: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and be at most 253 characters", ErrInvalidName, name)
	}
	return nil
}

// Container is a container's storage record: its writable layer on top of
// an image and its private directories.
type Container struct {
	ID      string
	Name    string
	ImageID string
	Created time.Time
	// Volatile: created with ContainerOptions.Volatile.
	Volatile bool
}

// NewContainerID returns a random 64-hex-digit container ID.
func NewContainerID() string { return stringid.GenerateRandomID() }

// CreateContainer creates the writable layer of a container based on an
// image. Name uniqueness is enforced under the store lock, so of two
// concurrent creations with one name exactly one wins (ErrNameInUse).
func (s *Store) CreateContainer(id, name, imageID string, o ContainerOptions) (*Container, error) {
	if err := ValidateContainerName(name); err != nil {
		return nil, err
	}
	c, err := s.s.CreateContainer(id, []string{name}, imageID, "", "", &cstorage.ContainerOptions{Volatile: o.Volatile})
	if err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return nil, fmt.Errorf("%w: %q (remove it with `ctr rm %s` or pick another name)", ErrNameInUse, name, name)
		}
		return nil, fmt.Errorf("create container: %w", err)
	}
	return toContainer(c), nil
}

// ContainerOptions are the choices made when a container is created.
type ContainerOptions struct {
	// Volatile keeps the container's records and its layer's out of the
	// synced store: they are written without fsync (to storage's volatile
	// files, in the graph root), its own files go to the run root (see
	// ContainerDir), and its overlay is mounted with "volatile" (no sync of
	// the upper layer).
	// For containers removed when they exit (--rm), which need not survive
	// a crash: podman does the same. It saves most of a short-lived
	// container's fsyncs.
	Volatile bool
}

func toContainer(c *cstorage.Container) *Container {
	out := &Container{ID: c.ID, ImageID: c.ImageID, Created: c.Created}
	out.Volatile, _ = c.Flags[volatileFlag].(bool)
	if len(c.Names) > 0 {
		out.Name = c.Names[0]
	}
	return out
}

// Containers lists every container in the store.
func (s *Store) Containers() ([]*Container, error) {
	cs, err := s.s.Containers()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(cs))
	for i := range cs {
		out = append(out, toContainer(&cs[i]))
	}
	return out, nil
}

// LookupContainer finds a container by name, full ID or unique ID prefix.
func (s *Store) LookupContainer(nameOrID string) (*Container, error) {
	cs, err := s.Containers()
	if err != nil {
		return nil, err
	}
	return matchContainer(cs, nameOrID)
}

// matchContainer picks the container named nameOrID, or with that full ID
// or unique ID prefix.
func matchContainer(cs []*Container, nameOrID string) (*Container, error) {
	var match *Container
	for _, c := range cs {
		if c.Name == nameOrID || c.ID == nameOrID {
			return c, nil
		}
		if isHexPrefix(nameOrID) && strings.HasPrefix(c.ID, nameOrID) {
			if match != nil {
				return nil, fmt.Errorf("%w: %q matches containers %.12s and %.12s", ErrAmbiguousImage, nameOrID, match.ID, c.ID)
			}
			match = c
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%w: %s", ErrContainerUnknown, nameOrID)
	}
	return match, nil
}

// MountContainer mounts the container's root filesystem in this process's
// mount namespace and returns its path.
func (s *Store) MountContainer(id string) (string, error) {
	p, err := s.s.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mount container %.12s: %w", id, err)
	}
	return p, nil
}

// UnmountContainer unmounts the root filesystem, whatever the mount count
// says: counts are per store, mounts per mount namespace.
func (s *Store) UnmountContainer(id string) error {
	if _, err := s.s.Unmount(id, true); err != nil && !errors.Is(err, cstorage.ErrLayerNotMounted) {
		return fmt.Errorf("unmount container %.12s: %w", id, err)
	}
	return nil
}

// DeleteContainer removes the container, its layer and directories.
func (s *Store) DeleteContainer(id string) error {
	_ = s.UnmountContainer(id)
	err := s.s.DeleteContainer(id)
	if err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) && !errors.Is(err, cstorage.ErrNotAContainer) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// ContainerDir is the directory of the container's own files (ctr's
// config, spec, state and log). It is in the graph root, so a container
// outlives a reboot; except for a volatile container (--rm: see
// ContainerOptions), which is removed when it stops and whose records are
// dropped after a reboot anyway: its files go in the run root with the rest
// of its volatile state, off the disk where the run root is a tmpfs.
func (s *Store) ContainerDir(id string) (string, error) {
	c, err := s.s.Container(id)
	if err != nil {
		return "", err
	}
	dir, _ := s.ContainerDirOf(toContainer(c))
	return dir, os.MkdirAll(dir, 0o700)
}

// DriverName is the storage driver the store uses (Driver().Driver).
func (s *Store) DriverName() string { return s.choice.Driver }

// ContainerDirOf is ContainerDir of a container already looked up, without
// another lookup; the directory may not exist yet.
func (s *Store) ContainerDirOf(c *Container) (string, error) {
	root := s.opts.GraphRoot
	if c.Volatile {
		root = s.opts.RunRoot
	}
	return containerFilesDir(root, s.s.GraphDriverName(), c.ID), nil
}

// containerFilesDir is storage's private directory for container id under
// root (its ContainerDirectory in the graph root, ContainerRunDirectory in
// the run root): the store and its index find containers' files with it.
func containerFilesDir(root, storageDriver, id string) string {
	return filepath.Join(root, containersDir(storageDriver), id, "userdata")
}

// containersDir is where storage keeps container records and directories,
// named after its driver ("overlay", "vfs").
func containersDir(storageDriver string) string { return storageDriver + "-containers" }

// volatileFlag is the container flag with which storage marks a volatile
// container.
const volatileFlag = "Volatile"

// ContainerRunDir is the container's private directory in the run root
// (gone after a reboot).
func (s *Store) ContainerRunDir(id string) (string, error) {
	return s.s.ContainerRunDirectory(id)
}

// ReadContainerFile reads name from the container's persistent directory.
func (s *Store) ReadContainerFile(id, name string) ([]byte, error) {
	dir, err := s.ContainerDir(id)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, name))
}

// RenameContainer gives a container a new name, unique like the old one.
func (s *Store) RenameContainer(id, name string) error {
	if err := ValidateContainerName(name); err != nil {
		return err
	}
	if other, err := s.LookupContainer(name); err == nil && other.ID != id && other.Name == name {
		return fmt.Errorf("%w: %q", ErrNameInUse, name)
	}
	if err := s.s.SetNames(id, []string{name}); err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return fmt.Errorf("%w: %q", ErrNameInUse, name)
		}
		return err
	}
	return nil
}

// ContainerSize returns the size of the container's writable layer.
func (s *Store) ContainerSize(id string) (int64, error) {
	c, err := s.s.Container(id)
	if err != nil {
		return 0, err
	}
	return s.s.DiffSize("", c.LayerID)
}
