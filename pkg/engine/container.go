package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/ctr-project/ctr/pkg/volume"
	"golang.org/x/sys/unix"
)

// ErrContainerRunning is matched by errors.Is when an operation needs a
// stopped container.
var ErrContainerRunning = errors.New("container is running")

// Container is a container's configuration and current state.
type Container struct {
	container.Config
	State container.State
	dir   string // where its files are (storage.Store.ContainerDir)
}

// Running reports whether the container's process is alive. A state file
// saying "running" whose monitor is gone (killed, or the machine rebooted)
// reads as exited.
func (c *Container) Running() bool {
	return c.State.Running()
}

// Status is the container's state as ps and inspect show it: created,
// running, paused or exited.
func (c *Container) Status() string {
	switch {
	case c.Paused():
		return container.StatePaused
	case c.Running():
		return container.StateRunning
	case c.State.Status == container.StateRunning:
		return container.StateExited
	}
	return c.State.Status
}

// Paused reports whether the container runs frozen (ctr pause).
func (c *Container) Paused() bool {
	if c.State.CgroupDir == "" || !c.Running() {
		return false
	}
	frozen, err := cgroups.Frozen(c.State.CgroupDir)
	return err == nil && frozen
}

func (e *Engine) saveConfig(c *container.Config) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return e.writeContainerFile(c, container.ConfigFile, b)
}

func (e *Engine) saveState(c *container.Config, s *container.State) error {
	dir, err := e.store.ContainerDir(c.ID)
	if err != nil {
		return err
	}
	return container.WriteState(dir, s, !c.Remove)
}

// writeContainerFile writes one of c's files, synced unless c is removed
// when it exits.
func (e *Engine) writeContainerFile(c *container.Config, name string, data []byte) error {
	dir, err := e.store.ContainerDir(c.ID)
	if err != nil {
		return err
	}
	return container.WriteFile(dir, name, data, !c.Remove)
}

// Reader reads containers: their storage records and their files
// (config, state, spec), and does what needs no more (signal a container's
// process, mark it stopped). An Engine is one, on its open store, in the
// user namespace; NewHostReader makes one on the store's index, from the
// host, where `ctr exec` plans and `ps`, `logs`, `kill`, `stop` and others
// run when they can, skipping the namespace entry.
type Reader struct {
	src        containerSource
	volumesDir string // the volume store's directory (volumesDir)
}

// volumesDir is where the named volumes of the store at graphRoot live.
func volumesDir(graphRoot string) string {
	return filepath.Join(filepath.Dir(graphRoot), "volumes")
}

// containerSource is where a Reader finds containers: *storage.Store or
// *storage.ContainerIndex.
type containerSource interface {
	Containers() ([]*storage.Container, error)
	LookupContainer(nameOrID string) (*storage.Container, error)
	ContainerDirOf(c *storage.Container) (string, error)
	DriverName() string
}

// NewHostReader returns a Reader on the index of the store at opts, for use
// outside the user namespace. It fails with storage.ErrNoIndex when the
// store cannot be read that way; the caller then enters the namespace.
func NewHostReader(opts storage.Options) (*Reader, error) {
	idx, err := storage.OpenContainerIndex(opts)
	if err != nil {
		return nil, err
	}
	return &Reader{src: idx, volumesDir: volumesDir(opts.GraphRoot)}, nil
}

// load reads a container's files. A container being created may have no
// files yet; it reads as created.
func (r *Reader) load(sc *storage.Container) (*Container, error) {
	dir, err := r.src.ContainerDirOf(sc)
	if err != nil {
		return nil, err
	}
	c := &Container{Config: container.Config{ID: sc.ID, Name: sc.Name, ImageID: sc.ImageID, Created: sc.Created}, State: container.State{Status: container.StateCreated}, dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, container.ConfigFile)); err == nil {
		if err := json.Unmarshal(b, &c.Config); err != nil {
			return nil, fmt.Errorf("container %.12s: %s: %w", sc.ID, container.ConfigFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, container.StateFile)); err == nil {
		if err := json.Unmarshal(b, &c.State); err != nil {
			return nil, fmt.Errorf("container %.12s: %s: %w", sc.ID, container.StateFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if c.State.Status == container.StateRunning && !c.Running() {
		// The monitor died without recording the end (kill -9, reboot):
		// the container died with it (its init has Pdeathsig).
		c.State.Status = container.StateExited
		c.State.ExitCode = -1
	}
	return c, nil
}

// readFile reads one of c's files.
func (c *Container) readFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.dir, name))
}

// Containers lists all containers, newest first.
func (r *Reader) Containers() ([]*Container, error) {
	scs, err := r.src.Containers()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(scs))
	for _, sc := range scs {
		c, err := r.load(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b *Container) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// Container finds a container by name, ID or unique ID prefix.
func (r *Reader) Container(nameOrID string) (*Container, error) {
	sc, err := r.src.LookupContainer(nameOrID)
	if err != nil {
		return nil, err
	}
	return r.load(sc)
}

// RemoveOptions configure Remove.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
	// Volumes also removes the container's anonymous volumes.
	Volumes bool
}

// Remove deletes a container. A running one needs Force: its process is
// killed (from the host side: see rootless.SignalFromHost) and its monitor
// is given time to record the end first.
func (e *Engine) Remove(nameOrID string, o RemoveOptions) (string, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return "", err
	}
	deps, err := e.networkDependents(c)
	if err != nil {
		return "", err
	}
	if len(deps) > 0 {
		return "", fmt.Errorf("%w: %s shares its network namespace with %s: remove them first", ErrHasDependents, c.Name, strings.Join(deps, ", "))
	}
	if c.Running() {
		if !o.Force {
			return "", fmt.Errorf("%w: %s: stop it first or use --force", ErrContainerRunning, c.Name)
		}
		// So its restart policy does not bring it back.
		if err := c.markStopped(); err != nil {
			return "", err
		}
		if err := e.kill(c); err != nil {
			return "", err
		}
		waitGone(c.State.MonitorPid, c.State.MonitorStart, 10*time.Second)
	}
	// Its run directory goes with it: the last chance to find a pasta
	// that a killed monitor left running.
	if runDir, err := e.store.ContainerRunDir(c.ID); err == nil {
		if err := monitor.StopStalePasta(runDir); err != nil {
			return "", err
		}
	}
	if err := e.store.DeleteContainer(c.ID); err != nil {
		return "", err
	}
	if o.Volumes {
		var errs []error
		for _, v := range c.Volumes {
			if v.Anonymous {
				if err := e.volumes.Remove(v.Name, false); err != nil && !errors.Is(err, volume.ErrNotFound) {
					errs = append(errs, err)
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			return c.ID, err
		}
	}
	return c.ID, nil
}

// kill sends SIGKILL to the container's init.
func (e *Engine) kill(c *Container) error {
	err := rootless.SignalFromHost(c.State.Pid, c.State.PidStart, unix.SIGKILL)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill container %s: %w", c.Name, err)
	}
	return nil
}

func waitGone(pid int, start uint64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for container.Alive(pid, start) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// RemovalOrder lists the containers' IDs so that those sharing another's
// network namespace come before it: the owner cannot go while they exist.
func RemovalOrder(cs []*Container) []string {
	var ids []string
	for _, sharing := range []bool{true, false} {
		for _, c := range cs {
			if (c.Net.Mode == netns.ModeContainer) == sharing {
				ids = append(ids, c.ID)
			}
		}
	}
	return ids
}

// Clear removes every container, killing running ones first as rm --force
// does, and every volume. `ctr system reset` runs it before it deletes the
// store, so no container process or monitor outlives the store, and
// volumes go too, as with podman.
func (e *Engine) Clear() error {
	cs, err := e.Containers()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range RemovalOrder(cs) {
		if _, err := e.Remove(id, RemoveOptions{Force: true}); err != nil && !errors.Is(err, storage.ErrContainerUnknown) {
			errs = append(errs, err)
		}
	}
	vs, err := e.volumes.List()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, v := range vs {
		if err := e.volumes.Remove(v.Name, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
