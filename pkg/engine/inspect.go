package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/volume"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerInspect is `ctr inspect` of a container, with podman's field
// names.
type ContainerInspect struct {
	ID              string            `json:"Id"`
	Created         time.Time         `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           InspectState      `json:"State"`
	Image           string            `json:"Image"`
	ImageName       string            `json:"ImageName"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	Mounts          []InspectMount    `json:"Mounts"`
	Config          InspectConfig     `json:"Config"`
	HostConfig      InspectHostConfig `json:"HostConfig"`
	NetworkSettings InspectNetwork    `json:"NetworkSettings"`
}

// InspectState is the State section.
type InspectState struct {
	Status     string            `json:"Status"`
	Running    bool              `json:"Running"`
	Paused     bool              `json:"Paused"`
	Restarting bool              `json:"Restarting"`
	OOMKilled  bool              `json:"OOMKilled"`
	Dead       bool              `json:"Dead"`
	Pid        int               `json:"Pid"`
	ExitCode   int               `json:"ExitCode"`
	Error      string            `json:"Error"`
	StartedAt  time.Time         `json:"StartedAt"`
	FinishedAt time.Time         `json:"FinishedAt"`
	Health     *container.Health `json:"Health,omitempty"`
	ConmonPid  int               `json:"ConmonPid"` // the monitor, in podman's name
}

// InspectMount is one user mount.
type InspectMount struct {
	Type        string   `json:"Type"`
	Name        string   `json:"Name,omitempty"`   // volumes
	Driver      string   `json:"Driver,omitempty"` // volumes
	Source      string   `json:"Source"`
	Destination string   `json:"Destination"`
	Options     []string `json:"Options"`
	RW          bool     `json:"RW"`
}

// InspectConfig is the Config section.
type InspectConfig struct {
	Hostname    string                  `json:"Hostname"`
	User        string                  `json:"User"`
	Env         []string                `json:"Env"`
	Cmd         []string                `json:"Cmd"`
	Image       string                  `json:"Image"`
	WorkingDir  string                  `json:"WorkingDir"`
	Entrypoint  []string                `json:"Entrypoint"`
	Labels      map[string]string       `json:"Labels"`
	Annotations map[string]string       `json:"Annotations"`
	StopSignal  string                  `json:"StopSignal"`
	StopTimeout int                     `json:"StopTimeout"`
	Tty         bool                    `json:"Tty"`
	OpenStdin   bool                    `json:"OpenStdin"`
	Healthcheck *container.HealthConfig `json:"Healthcheck,omitempty"`
}

// InspectHostConfig is the HostConfig section.
type InspectHostConfig struct {
	RestartPolicy struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	AutoRemove  bool     `json:"AutoRemove"`
	NetworkMode string   `json:"NetworkMode"`
	Binds       []string `json:"Binds"`
	Init        bool     `json:"Init"`
}

// InspectNetwork is the NetworkSettings section.
type InspectNetwork struct {
	Ports map[string][]PortBinding `json:"Ports"`
}

// PortBinding is a published port, as podman shows it.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// Inspect returns the inspect view of a container.
func (r *Reader) Inspect(nameOrID string) (*ContainerInspect, error) {
	c, err := r.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	ci := &ContainerInspect{
		ID: c.ID, Created: c.Created, Image: c.ImageID, ImageName: c.Image, Name: c.Name,
		RestartCount: c.State.RestartCount, Driver: r.src.DriverName(),
		State: InspectState{
			Status: c.State.Status, Running: c.Running(), Pid: c.State.Pid, ExitCode: c.State.ExitCode,
			Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt, Health: c.State.Health,
			ConmonPid: c.State.MonitorPid,
			Dead:      c.State.Status == container.StateExited && c.State.ExitCode == -1,
		},
		Config: InspectConfig{
			Hostname: c.Hostname, Env: c.Env, Cmd: c.Command, Image: c.Image, WorkingDir: c.WorkingDir,
			Entrypoint: c.Entrypoint, Labels: c.Labels, Annotations: c.Annotations, StopSignal: c.StopSignal,
			StopTimeout: c.StopTimeout, Tty: c.Terminal, OpenStdin: c.Interactive, Healthcheck: c.Health,
		},
		NetworkSettings: InspectNetwork{Ports: map[string][]PortBinding{}},
	}
	if c.Running() {
		for _, p := range c.State.Ports {
			k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
			ci.NetworkSettings.Ports[k] = append(ci.NetworkSettings.Ports[k], PortBinding{HostIP: p.HostIP, HostPort: fmt.Sprint(p.HostPort)})
		}
	}
	if !ci.State.Running && ci.State.Pid != 0 {
		ci.State.Pid = 0
	}
	ci.State.Status = c.Status()
	ci.State.Paused = ci.State.Status == container.StatePaused
	if len(c.Command) > 0 {
		ci.Path, ci.Args = c.Command[0], c.Command[1:]
	}
	if b, err := c.readFile(container.SpecFile); err == nil {
		var spec specs.Spec
		if json.Unmarshal(b, &spec) == nil && spec.Process != nil {
			ci.Config.User = userString(spec.Process.User)
		}
	}
	ci.HostConfig.RestartPolicy.Name = c.Restart.Name
	ci.HostConfig.RestartPolicy.MaximumRetryCount = c.Restart.MaxRetries
	ci.HostConfig.AutoRemove, ci.HostConfig.NetworkMode, ci.HostConfig.Init = c.Remove, c.Network, c.Init
	for _, m := range c.Mounts {
		rw := true
		for _, o := range m.Options {
			if o == "ro" {
				rw = false
			}
		}
		ci.Mounts = append(ci.Mounts, InspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, Options: m.Options, RW: rw})
		if m.Type == "bind" {
			ci.HostConfig.Binds = append(ci.HostConfig.Binds, m.Source+":"+m.Destination)
		}
	}
	for _, v := range c.Volumes {
		ci.Mounts = append(ci.Mounts, InspectMount{Type: "volume", Name: v.Name, Driver: "local", Source: volume.DataPath(r.volumesDir, v.Name),
			Destination: v.Destination, Options: v.Options, RW: !slices.Contains(v.Options, "ro")})
	}
	if ci.Mounts == nil {
		ci.Mounts = []InspectMount{}
	}
	return ci, nil
}

func userString(u specs.User) string {
	return itoa(u.UID) + ":" + itoa(u.GID)
}

func itoa(n uint32) string {
	b, _ := json.Marshal(n)
	return string(b)
}
