package container

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
)

// Container states, as podman names them.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
	StatePaused  = "paused"
)

// ErrNotRunning is matched by errors.Is when an operation needs a running
// container.
var ErrNotRunning = errors.New("container is not running")

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
	Mounts      []Mount             `json:"mounts,omitempty"`
	Volumes     []Volume            `json:"volumes,omitempty"`
	Restart     RestartPolicy       `json:"restart"`
	Health      *HealthConfig       `json:"health,omitempty"`
	StopSignal  string              `json:"stopSignal"`
	StopTimeout int                 `json:"stopTimeout"`
	Labels      map[string]string   `json:"labels,omitempty"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	LogMaxSize  int64               `json:"logMaxSize,omitempty"`
}

// Mount records a mount the user asked for (-v, --mount, --tmpfs), as
// inspect shows it. The field names are those of oci.Mount, which the
// container's records held before; this package does not import pkg/oci,
// whose image-spec and seccomp-profile dependencies would cost every
// monitor memory.
type Mount struct {
	Type        string
	Source      string
	Destination string
	Options     []string
}

// Volume records a volume a container mounts.
type Volume struct {
	Name        string `json:"name"`
	Destination string `json:"destination"`
	Anonymous   bool   `json:"anonymous,omitempty"`
	// Options are the mount options asked for (ro, propagation).
	Options []string `json:"options,omitempty"`
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

// Running reports whether the container's process is alive. A state
// saying "running" whose monitor is gone (killed, or the machine
// rebooted) is not: the container died with its monitor.
func (s *State) Running() bool {
	return s.Status == StateRunning && Alive(s.MonitorPid, s.MonitorStart)
}

// Alive reports whether process pid exists and, when start is not zero,
// is still the one that started then (not a recycled PID).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := rootless.ProcessStartTime(pid)
	return err == nil && (start == 0 || st == start)
}
