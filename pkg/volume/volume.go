// Package volume keeps named volumes: directories under ctr's data
// directory that containers mount and that outlive them. Each volume is
// DIR/NAME/_data plus DIR/NAME/volume.json; creation and removal are
// serialized with a lock file so concurrent ctr invocations agree.
//
// It must run as uid 0 (in ctr's user namespace): volume contents belong to
// the container's IDs. It knows nothing of containers beyond the names a
// caller passes in.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotFound is matched by errors.Is for a volume that does not exist.
var ErrNotFound = errors.New("no such volume")

// ErrExists is matched by errors.Is when creating a volume that exists.
var ErrExists = errors.New("volume already exists")

// ErrInvalidName is matched by errors.Is for a bad volume name.
var ErrInvalidName = errors.New("invalid volume name")

var nameRegexp = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Volume is one named volume.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	// Anonymous volumes are made for `-v /path` and image VOLUMEs and are
	// removed with their container by `rm -v`.
	Anonymous bool `json:"Anonymous"`
	// NeedsCopyUp is true until the first container that mounts the volume
	// has copied the image's content at the mount point into it.
	NeedsCopyUp bool `json:"NeedsCopyUp"`
}

// Store manages the volumes under one directory.
type Store struct {
	dir string
}

// NewStore returns the volume store at dir, creating it (0700).
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// lock takes an exclusive lock on the store; call the result to release.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ValidateName checks a volume name.
func ValidateName(name string) error {
	if len(name) > 253 || !nameRegexp.MatchString(name) {
		return fmt.Errorf("%w %q: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", ErrInvalidName, name)
	}
	return nil
}

// CreateOptions configure Create.
type CreateOptions struct {
	Labels    map[string]string
	Anonymous bool
	// IgnoreExisting returns an existing volume instead of ErrExists.
	IgnoreExisting bool
}

// Create makes a volume; an empty name gets a random one.
func (s *Store) Create(name string, o CreateOptions) (*Volume, error) {
	if name == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		name = hex.EncodeToString(b)
	}
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if v, err := s.get(name); err == nil {
		if o.IgnoreExisting {
			return v, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrExists, name)
	}
	dir := filepath.Join(s.dir, name)
	data := DataPath(s.dir, name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	v := &Volume{Name: name, Driver: "local", Mountpoint: data, CreatedAt: time.Now().UTC(),
		Labels: o.Labels, Anonymous: o.Anonymous, NeedsCopyUp: true}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if err := s.save(v); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return v, nil
}

func (s *Store) save(v *Volume) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, v.Name, ".volume.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, v.Name, "volume.json"))
}

func (s *Store) get(name string) (*Volume, error) {
	if ValidateName(name) != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, name, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	v.Mountpoint = DataPath(s.dir, name)
	return &v, nil
}

// Get returns a volume by name.
func (s *Store) Get(name string) (*Volume, error) { return s.get(name) }

// Mountpoint is where volume name's data lives (it need not exist).
func (s *Store) Mountpoint(name string) string { return DataPath(s.dir, name) }

// DataPath is where the data of volume name lives in a store at dir.
func DataPath(dir, name string) string { return filepath.Join(dir, name, "_data") }

// List returns every volume, by name.
func (s *Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := s.get(e.Name())
		if err != nil {
			continue // a half-created one being made right now
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CopiedUp records that the image content has been copied in.
func (s *Store) CopiedUp(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.get(name)
	if err != nil {
		return err
	}
	v.NeedsCopyUp = false
	return s.save(v)
}

// Remove deletes a volume and its content. inUse says whether a container
// uses it; such volumes are refused.
func (s *Store) Remove(name string, inUse bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.get(name); err != nil {
		return err
	}
	if inUse {
		return fmt.Errorf("%w: volume %s is used by a container", ErrInUse, name)
	}
	// Rename first: a crash mid-removal leaves a hidden directory, never a
	// half-emptied volume that still looks valid.
	dir := filepath.Join(s.dir, name)
	trash := filepath.Join(s.dir, ".removing-"+name)
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// ErrInUse is matched by errors.Is for a volume a container uses.
var ErrInUse = errors.New("volume is in use")
