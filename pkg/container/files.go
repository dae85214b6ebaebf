package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Files in a container's persistent directory (the store's container
// directory: it survives a reboot).
const (
	ConfigFile = "ctr-config.json"
	StateFile  = "ctr-state.json"
	SpecFile   = "ctr-spec.json"
	PasswdCopy = "ctr-passwd" // the image's /etc/passwd at creation
	GroupCopy  = "ctr-group"
	// StopMarker tells the monitor the user stopped the container, so
	// the restart policy does not apply.
	StopMarker = "ctr-stopped"
)

// AttachSocket, in a container's run directory (gone after a reboot), is
// where its monitor serves attach and copy clients.
const AttachSocket = "attach.sock"

// ReadConfig reads the configuration in the container directory dir.
func ReadConfig(dir string) (*Config, error) {
	var c Config
	if err := readJSON(dir, ConfigFile, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadState reads the state in the container directory dir. A container
// that never started has no state file: it reads as created.
func ReadState(dir string) (*State, error) {
	s := State{Status: StateCreated}
	if err := readJSON(dir, StateFile, &s); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &s, nil
}

// WriteState replaces the state in the container directory dir (synced or
// not, see WriteFile).
func WriteState(dir string, s *State, sync bool) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return WriteFile(dir, StateFile, b, sync)
}

// ReadSpec reads the runtime spec in the container directory dir.
func ReadSpec(dir string) (*specs.Spec, error) {
	var s specs.Spec
	if err := readJSON(dir, SpecFile, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// WriteFile replaces name in dir atomically (temp file, rename), so a
// reader never sees half a file. With sync the data reaches the disk
// before the rename, so a crash never leaves an empty or partial file
// either: every container needs that but one removed when it exits (--rm),
// whose records are volatile anyway (storage.ContainerOptions).
func WriteFile(dir, name string, data []byte, sync bool) (retErr error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}
