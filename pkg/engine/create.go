package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/storage"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Pull policies for RunOptions.Pull.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// RunOptions describe a container to create and run (`ctr run`, `ctr
// create`).
type RunOptions struct {
	Image string
	// Pull is PullMissing (default), PullAlways or PullNever.
	Pull        string
	PullOptions storage.PullOptions

	Name   string
	Remove bool // --rm
	Init   bool // --init
	// Interactive attaches Stdin (-i); the spec's Terminal asks for a pty (-t).
	Interactive bool

	// Spec holds the user's choices; Run fills in what comes from the
	// image and the host (Image, Passwd, Group, mapped IDs, EtcFiles,
	// HostRlimits, KernelRelease, Hostname default).
	Spec oci.Options

	// Restart is the restart policy of a detached container.
	Restart container.RestartPolicy
	// Health is the healthcheck; nil for none.
	Health *container.HealthConfig
	// StopSignal is the signal `ctr stop` sends (default: the image's
	// StopSignal, else SIGTERM); StopTimeout is how long stop waits
	// before SIGKILL (default 10s).
	StopSignal  string
	StopTimeout *int
	Labels      map[string]string
	Annotations map[string]string
	// LogMaxSize rotates the container log at this size (0: never).
	LogMaxSize int64
	// Volumes are named and anonymous volumes to mount.
	Volumes []VolumeMount
	// Network is how the container is networked; its zero value is the
	// default user-mode network.
	Network NetworkOptions
	// PublishAll publishes every port the image exposes on a random host
	// port (-P).
	PublishAll bool

	Stdin          *os.File
	Stdout, Stderr *os.File
}

// ErrImageNotPresent is returned with --pull never for a missing image.
var ErrImageNotPresent = errors.New("image not present locally and --pull=never")

// ResolveImage finds the image to run, pulling it as the pull policy says.
// It also returns the name the container shows for it, as podman does: the
// store name a short name matched (localhost/busybox:latest for busybox),
// the full reference of a pulled image, or what was given when that was an
// ID.
func (e *Engine) ResolveImage(ctx context.Context, o RunOptions) (*storage.Image, string, error) {
	if o.Pull != PullAlways {
		img, name, err := e.store.ResolveImage(o.Image)
		if err == nil {
			if name == "" {
				name = o.Image
			}
			return img, name, nil
		}
		if !errors.Is(err, storage.ErrImageUnknown) {
			return nil, "", err
		}
		if o.Pull == PullNever {
			return nil, "", fmt.Errorf("%w: %s", ErrImageNotPresent, o.Image)
		}
	}
	ref, err := storage.ParseReference(o.Image)
	if err != nil {
		return nil, "", err
	}
	img, err := e.store.Pull(ctx, ref, o.PullOptions)
	if err != nil {
		return nil, "", err
	}
	return img, ref.String(), nil
}

// Create makes a container without starting it; ctr create and run -d use
// it. The image must come from ResolveImage.
func (e *Engine) Create(img *storage.Image, o RunOptions) (*container.Config, error) {
	c, _, _, err := e.create(img, o)
	if err != nil {
		return nil, err
	}
	if err := e.store.UnmountContainer(c.ID); err != nil {
		return nil, err
	}
	return c, nil
}

// create makes the container: its layer, mounted root, spec and files.
func (e *Engine) create(img *storage.Image, o RunOptions) (_ *container.Config, _ *specs.Spec, rootfs string, retErr error) {
	imgConfig, err := e.store.ImageConfig(img)
	if err != nil {
		return nil, nil, "", err
	}
	id := storage.NewContainerID()
	name := o.Name
	if name == "" {
		name = randomName(id)
	}
	copts := storage.ContainerOptions{Volatile: o.Remove}
	_, err = e.store.CreateContainer(id, name, img.ID, copts)
	if errors.Is(err, storage.ErrNameInUse) && o.Name == "" {
		// A made-up name taken by chance: make it unique with the ID.
		name += "_" + id[:6]
		_, err = e.store.CreateContainer(id, name, img.ID, copts)
	}
	if err != nil {
		return nil, nil, "", err
	}
	defer func() {
		if retErr != nil {
			_ = e.store.DeleteContainer(id)
		}
	}()
	rootfs, err = e.store.MountContainer(id)
	if err != nil {
		return nil, nil, "", err
	}

	so := o.Spec
	so.Image = imgConfig.Config
	if o.Network.Config.Mode == "" {
		if o.Network.Config, err = netns.ParseNetwork(""); err != nil {
			return nil, nil, "", err
		}
	}
	so.Network = ociNetwork(o.Network.Config)
	var shareEtc string
	if o.Network.Config.Mode == netns.ModeContainer {
		owner, err := e.networkOwner(o.Network.Config)
		if err != nil {
			return nil, nil, "", err
		}
		// By ID: the owner may be renamed. The path is set again at
		// every start (joinSharedNetNS); PID 0 never opens.
		o.Network.Config.Container = owner.ID
		so.NetNSPath = fmt.Sprintf("/proc/%d/ns/net", owner.State.Pid)
		if shareEtc, err = e.store.ContainerRunDir(owner.ID); err != nil {
			return nil, nil, "", err
		}
	}
	if o.PublishAll {
		exposed, err := netns.ExposedPorts(imgConfig.Config.ExposedPorts)
		if err != nil {
			return nil, nil, "", err
		}
		o.Network.Ports = append(o.Network.Ports, exposed...)
	}
	if err := checkNetworkOptions(o.Network, o.Restart); err != nil {
		return nil, nil, "", err
	}
	so.MappedUIDs, so.MappedGIDs = e.mappedUIDs, e.mappedGIDs
	if so.Hostname == "" {
		so.Hostname = id[:12]
	}
	if so.Passwd, err = readInRoot(rootfs, "/etc/passwd"); err != nil {
		return nil, nil, "", err
	}
	if so.Group, err = readInRoot(rootfs, "/etc/group"); err != nil {
		return nil, nil, "", err
	}
	so.HostRlimits = hostRlimits()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		so.KernelRelease = unix.ByteSliceToString(uts.Release[:])
	}
	volMounts, volRecord, err := e.prepareVolumes(rootfs, o.Volumes, imgConfig.Config.Volumes, so.Mounts)
	if err != nil {
		e.removeAnonymous(volRecord)
		return nil, nil, "", err
	}
	defer func() {
		if retErr != nil {
			e.removeAnonymous(volRecord)
		}
	}()
	userMounts := so.Mounts
	so.Mounts = append(slices.Clone(so.Mounts), volMounts...)
	runDir, err := e.store.ContainerRunDir(id)
	if err != nil {
		return nil, nil, "", err
	}
	if so.EtcFiles, err = writeEtcFiles(runDir, so.Hostname, name, o.Network, shareEtc); err != nil {
		return nil, nil, "", err
	}
	spec, err := oci.Generate(so)
	if err != nil {
		return nil, nil, "", err
	}
	// The working directory is created in the root, never through a
	// symlink out of it (an image's WORKDIR may be one: CVE-2026-55686).
	if err := pathrs.MkdirAll(rootfs, spec.Process.Cwd, 0o755); err != nil {
		return nil, nil, "", fmt.Errorf("create working directory %s: %w", spec.Process.Cwd, err)
	}
	stopSignal := o.StopSignal
	if stopSignal == "" {
		stopSignal = imgConfig.Config.StopSignal
	}
	if stopSignal == "" {
		stopSignal = "SIGTERM"
	}
	if _, err := ParseSignal(stopSignal); err != nil {
		return nil, nil, "", err
	}
	stopTimeout := 10
	if o.StopTimeout != nil {
		stopTimeout = *o.StopTimeout
	}
	labels := map[string]string{}
	maps.Copy(labels, imgConfig.Config.Labels)
	maps.Copy(labels, o.Labels)
	cfg := &container.Config{
		ID: id, Name: name, Image: o.Image, ImageID: img.ID, Command: spec.Process.Args,
		Created: time.Now().UTC(), Remove: o.Remove, Hostname: so.Hostname,
		Terminal: so.Terminal, Interactive: o.Interactive, Init: o.Init,
		Restart: o.Restart, Health: o.Health, StopSignal: stopSignal, StopTimeout: stopTimeout,
		Labels: labels, Annotations: o.Annotations, LogMaxSize: o.LogMaxSize,
		Network: o.Network.Config.Mode, Net: o.Network.Config, Ports: o.Network.Ports, Mounts: mountRecords(userMounts), Volumes: volRecord, User: spec.Process.User.UID, Env: spec.Process.Env,
		WorkingDir: spec.Process.Cwd, Entrypoint: imageOrNil(so.Entrypoint, imgConfig.Config.Entrypoint),
	}
	if err := e.saveConfig(cfg); err != nil {
		return nil, nil, "", err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, "", err
	}
	if err := e.writeContainerFile(cfg, container.SpecFile, specJSON); err != nil {
		return nil, nil, "", err
	}
	// Copies for `ctr top`, which cannot reach a running container's root
	// from another user namespace.
	for name, b := range map[string][]byte{container.PasswdCopy: so.Passwd, container.GroupCopy: so.Group} {
		if err := e.writeContainerFile(cfg, name, b); err != nil {
			return nil, nil, "", err
		}
	}
	// No state file yet reads as "created".
	return cfg, spec, rootfs, nil
}

// maxEtcFile caps what is read of an image's /etc/passwd or /etc/group:
// a crafted image may make them huge or point them at /dev/zero
// (CVE-2024-9676).
const maxEtcFile = 4 << 20

// readInRoot reads a regular file of the image, resolving the path inside
// the root; a missing file reads as nil.
func readInRoot(rootfs, path string) ([]byte, error) {
	h, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s in the image: %w", path, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open %s in the image: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s in the image is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxEtcFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEtcFile {
		return nil, fmt.Errorf("%s in the image is larger than %d bytes", path, maxEtcFile)
	}
	return b, nil
}

// hostRlimits returns this process's limits, which containers inherit and
// cannot exceed (rootless cannot raise a hard limit).
func hostRlimits() map[string]oci.Ulimit {
	out := map[string]oci.Ulimit{}
	for name, res := range map[string]int{"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "core": unix.RLIMIT_CORE,
		"memlock": unix.RLIMIT_MEMLOCK, "stack": unix.RLIMIT_STACK, "cpu": unix.RLIMIT_CPU, "fsize": unix.RLIMIT_FSIZE,
		"data": unix.RLIMIT_DATA, "as": unix.RLIMIT_AS, "locks": unix.RLIMIT_LOCKS, "msgqueue": unix.RLIMIT_MSGQUEUE,
		"nice": unix.RLIMIT_NICE, "rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING} {
		var l unix.Rlimit
		if unix.Getrlimit(res, &l) == nil {
			out[name] = oci.Ulimit{Name: name, Soft: l.Cur, Hard: l.Max}
		}
	}
	return out
}

// imageOrNil records the entrypoint in effect, for inspect.
func imageOrNil(override *string, image []string) []string {
	if override != nil {
		if *override == "" {
			return nil
		}
		return []string{*override}
	}
	return image
}

// mountRecords converts the user's mounts for the container's record.
func mountRecords(mounts []oci.Mount) []container.Mount {
	var out []container.Mount
	for _, m := range mounts {
		out = append(out, container.Mount(m))
	}
	return out
}

// removeAnonymous deletes anonymous volumes made for a container that
// could not be created.
func (e *Engine) removeAnonymous(vols []container.Volume) {
	for _, v := range vols {
		if v.Anonymous {
			_ = e.volumes.Remove(v.Name, false)
		}
	}
}
