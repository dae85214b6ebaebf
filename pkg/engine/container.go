package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/ctr-project/ctr/pkg/volume"
	"golang.org/x/sys/unix"
)

// Container states, as podman names them.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
	StatePaused  = "paused"
)

// Files in a container's persistent directory.
const (
	configFile = "ctr-config.json"
	stateFile  = "ctr-state.json"
	specFile   = "ctr-spec.json"
	passwdCopy = "ctr-passwd" // the image's /etc/passwd at creation
	groupCopy  = "ctr-group"
)

// ErrContainerRunning is matched by errors.Is when an operation needs a
// stopped container.
var ErrContainerRunning = errors.New("container is running")

// Config is what a container was created with; it does not change.
type Config struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Image       string              `json:"image"` // as the user named it
	ImageID     string              `json:"imageId"`
	Command     []string            `json:"command"`
	Entrypoint  []string            `json:"entrypoint,omitempty"`
	Env         []string            `json:"env,omitempty"`
	WorkingDir  string              `json:"workingDir,omitempty"`
	User        uint32              `json:"user"`
	Created     time.Time           `json:"created"`
	Remove      bool                `json:"remove"` // --rm
	Hostname    string              `json:"hostname"`
	Terminal    bool                `json:"terminal"`
	Interactive bool                `json:"interactive"`
	Init        bool                `json:"init"`
	Network     string              `json:"network"`
	Net         netns.Config        `json:"net"`
	Ports       []netns.PortMapping `json:"ports,omitempty"`
	Mounts      []oci.Mount         `json:"mounts,omitempty"`
	Volumes     []ContainerVolume   `json:"volumes,omitempty"`
	Restart     RestartPolicy       `json:"restart"`
	Health      *HealthConfig       `json:"health,omitempty"`
	StopSignal  string              `json:"stopSignal"`
	StopTimeout int                 `json:"stopTimeout"`
	Labels      map[string]string   `json:"labels,omitempty"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	LogMaxSize  int64               `json:"logMaxSize,omitempty"`
}

// RestartPolicy says when the monitor restarts a container that exited.
type RestartPolicy struct {
	// Name is "no", "on-failure", "always" or "unless-stopped".
	Name string `json:"name"`
	// MaxRetries bounds on-failure restarts (0: unbounded).
	MaxRetries int `json:"maxRetries,omitempty"`
}

// ParseRestartPolicy parses --restart: no, on-failure[:N], always,
// unless-stopped.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("invalid restart policy %q: the retry count must be a number >= 0", s)
			}
			p.MaxRetries = n
		}
		return p, nil
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasCount {
		return p, fmt.Errorf("invalid restart policy %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

// HealthConfig is a container's healthcheck.
type HealthConfig struct {
	// Test is the command, run in the container with /bin/sh -c when it
	// came as a string.
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	Retries     int           `json:"retries"`
	StartPeriod time.Duration `json:"startPeriod"`
}

// Health is a container's health as the monitor last measured it.
type Health struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log,omitempty"`
}

// HealthLog is the result of one healthcheck run.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// State is a container's volatile status, rewritten atomically on every
// change.
type State struct {
	Status       string    `json:"status"`
	Pid          int       `json:"pid,omitempty"`
	PidStart     uint64    `json:"pidStart,omitempty"`
	MonitorPid   int       `json:"monitorPid,omitempty"`
	MonitorStart uint64    `json:"monitorStart,omitempty"`
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	RestartCount int       `json:"restartCount,omitempty"`
	Health       *Health   `json:"health,omitempty"`
	// Error is why the container could not start, if it could not, or
	// what went wrong while it ran (its network helper died).
	Error string `json:"error,omitempty"`
	// Ports are the published ports with the host ports chosen.
	Ports []netns.PortMapping `json:"ports,omitempty"`
	// CgroupDir is the container's cgroup v2 directory, when a delegated
	// subtree exists; CgroupError says why there is none.
	CgroupDir   string `json:"cgroupDir,omitempty"`
	CgroupError string `json:"cgroupError,omitempty"`
}

// Container is a container's configuration and current state.
type Container struct {
	Config
	State State
}

// Running reports whether the container's process is alive. A state file
// saying "running" whose monitor is gone (killed, or the machine rebooted)
// reads as exited.
func (c *Container) Running() bool {
	return c.State.Status == StateRunning && alive(c.State.MonitorPid, c.State.MonitorStart)
}

// Status is the container's state as ps and inspect show it: created,
// running, paused or exited.
func (c *Container) Status() string {
	switch {
	case c.Paused():
		return StatePaused
	case c.Running():
		return StateRunning
	case c.State.Status == StateRunning:
		return StateExited
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

func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := rootless.ProcessStartTime(pid)
	return err == nil && (start == 0 || st == start)
}

func (e *Engine) saveConfig(c *Config) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return e.store.WriteContainerFile(c.ID, configFile, b)
}

func (e *Engine) saveState(id string, s *State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return e.store.WriteContainerFile(id, stateFile, b)
}

// load reads a container's files. A container being created may have no
// files yet; it reads as created.
func (e *Engine) load(sc *storage.Container) (*Container, error) {
	c := &Container{Config: Config{ID: sc.ID, Name: sc.Name, ImageID: sc.ImageID, Created: sc.Created}, State: State{Status: StateCreated}}
	if b, err := e.store.ReadContainerFile(sc.ID, configFile); err == nil {
		if err := json.Unmarshal(b, &c.Config); err != nil {
			return nil, fmt.Errorf("container %.12s: %s: %w", sc.ID, configFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := e.store.ReadContainerFile(sc.ID, stateFile); err == nil {
		if err := json.Unmarshal(b, &c.State); err != nil {
			return nil, fmt.Errorf("container %.12s: %s: %w", sc.ID, stateFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if c.State.Status == StateRunning && !c.Running() {
		// The monitor died without recording the end (kill -9, reboot):
		// the container died with it (its init has Pdeathsig).
		c.State.Status = StateExited
		c.State.ExitCode = -1
	}
	return c, nil
}

// Containers lists all containers, newest first.
func (e *Engine) Containers() ([]*Container, error) {
	scs, err := e.store.Containers()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(scs))
	for _, sc := range scs {
		c, err := e.load(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b *Container) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// Container finds a container by name, ID or unique ID prefix.
func (e *Engine) Container(nameOrID string) (*Container, error) {
	sc, err := e.store.LookupContainer(nameOrID)
	if err != nil {
		return nil, err
	}
	return e.load(sc)
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
		if err := e.markStopped(c.ID); err != nil {
			return "", err
		}
		if err := e.kill(c); err != nil {
			return "", err
		}
		waitGone(c.State.MonitorPid, c.State.MonitorStart, 10*time.Second)
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
	for alive(pid, start) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
