package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/ctr-project/ctr/pkg/storage"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Pull policies for RunOptions.Pull.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// RunOptions describe a foreground `ctr run`.
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

	Stdin          *os.File
	Stdout, Stderr *os.File
}

// ErrImageNotPresent is returned with --pull never for a missing image.
var ErrImageNotPresent = errors.New("image not present locally and --pull=never")

// Run creates a container, runs it in the foreground and returns its exit
// status. Signals this process receives are forwarded to the container.
// An error before the container's process ran leaves no container behind.
// The image must come from ResolveImage.
func (e *Engine) Run(ctx context.Context, img *storage.Image, o RunOptions) (int, error) {
	c, spec, rootfs, err := e.create(img, o)
	if err != nil {
		return 0, err
	}
	code, err := e.start(c, spec, rootfs, o)
	if o.Remove {
		if rmErr := e.store.DeleteContainer(c.ID); rmErr != nil && err == nil {
			err = rmErr
		}
	} else if uerr := e.store.UnmountContainer(c.ID); uerr != nil && err == nil {
		err = uerr
	}
	return code, err
}

// ResolveImage finds the image to run, pulling it as the pull policy says.
func (e *Engine) ResolveImage(ctx context.Context, o RunOptions) (*storage.Image, error) {
	if o.Pull != PullAlways {
		img, err := e.store.LookupImage(o.Image)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, storage.ErrImageUnknown) {
			return nil, err
		}
		if o.Pull == PullNever {
			return nil, fmt.Errorf("%w: %s", ErrImageNotPresent, o.Image)
		}
	}
	ref, err := storage.ParseReference(o.Image)
	if err != nil {
		return nil, err
	}
	return e.store.Pull(ctx, ref, o.PullOptions)
}

// create makes the container: its layer, mounted root, spec and files.
func (e *Engine) create(img *storage.Image, o RunOptions) (_ *Config, _ *specs.Spec, rootfs string, retErr error) {
	imgConfig, err := e.store.ImageConfig(img)
	if err != nil {
		return nil, nil, "", err
	}
	id := storage.NewContainerID()
	name := o.Name
	if name == "" {
		name = randomName(id)
	}
	_, err = e.store.CreateContainer(id, name, img.ID)
	if errors.Is(err, storage.ErrNameInUse) && o.Name == "" {
		// A made-up name taken by chance: make it unique with the ID.
		name += "_" + id[:6]
		_, err = e.store.CreateContainer(id, name, img.ID)
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
	runDir, err := e.store.ContainerRunDir(id)
	if err != nil {
		return nil, nil, "", err
	}
	if so.EtcFiles, err = writeEtcFiles(runDir, so.Hostname, name, so.Network); err != nil {
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
	cfg := &Config{
		ID: id, Name: name, Image: o.Image, ImageID: img.ID, Command: spec.Process.Args,
		Created: time.Now().UTC(), Remove: o.Remove, Hostname: so.Hostname,
		Terminal: so.Terminal, Interactive: o.Interactive,
	}
	if err := e.saveConfig(cfg); err != nil {
		return nil, nil, "", err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, "", err
	}
	if err := e.store.WriteContainerFile(id, specFile, specJSON); err != nil {
		return nil, nil, "", err
	}
	// No state file yet reads as "created".
	return cfg, spec, rootfs, nil
}

// start runs the container's process and waits for it.
func (e *Engine) start(c *Config, spec *specs.Spec, rootfs string, o RunOptions) (int, error) {
	runDir, err := e.store.ContainerRunDir(c.ID)
	if err != nil {
		return 0, err
	}
	ro := run.Options{Rootfs: rootfs, Spec: spec, Init: o.Init, Stdout: o.Stdout, Stderr: o.Stderr, Scratch: filepath.Join(runDir, "scratch")}
	if o.Interactive {
		ro.Stdin = o.Stdin
	}
	// Catch signals before the container exists, so none is lost.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	defer signal.Stop(sigs)

	started := time.Now().UTC()
	p, err := run.Start(ro)
	if err != nil {
		code := 125
		if errors.Is(err, run.ErrCommandNotFound) {
			code = 127
		} else if errors.Is(err, run.ErrCannotExecute) {
			code = 126
		}
		_ = e.saveState(c.ID, &State{Status: StateExited, ExitCode: code, StartedAt: started, FinishedAt: time.Now().UTC()})
		return code, err
	}
	st := State{Status: StateRunning, Pid: p.Pid, MonitorPid: os.Getpid(), StartedAt: started}
	st.PidStart, _ = rootless.ProcessStartTime(p.Pid)
	st.MonitorStart, _ = rootless.ProcessStartTime(os.Getpid())
	if err := e.saveState(c.ID, &st); err != nil {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
		return 0, err
	}

	var console *consoleIO
	if p.Console != nil {
		console = attachConsole(p.Console, o)
		defer console.restore()
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				forwardSignal(p, s, console)
			case <-done:
				return
			}
		}
	}()
	code, waitErr := p.Wait()
	close(done)
	if console != nil {
		console.drain()
	}
	st.Status, st.ExitCode, st.FinishedAt = StateExited, code, time.Now().UTC()
	if err := e.saveState(c.ID, &st); err != nil && waitErr == nil {
		waitErr = err
	}
	return code, waitErr
}

// forwardSignal is podman's sig-proxy: every signal ctr gets goes to the
// container, except those that concern ctr itself.
func forwardSignal(p *run.Process, s os.Signal, console *consoleIO) {
	switch s {
	case syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG:
		return
	case syscall.SIGWINCH:
		if console != nil {
			console.resize()
		}
		return
	}
	_ = p.Signal(s)
}

// consoleIO copies between the user's terminal (or pipes) and the pty.
type consoleIO struct {
	master   *os.File
	stdin    *os.File
	oldState *term.State
	out      sync.WaitGroup
	once     sync.Once
}

func attachConsole(master *os.File, o RunOptions) *consoleIO {
	c := &consoleIO{master: master, stdin: o.Stdin}
	if o.Stdin != nil && term.IsTerminal(int(o.Stdin.Fd())) {
		// Raw mode: keys, ^C included, go to the container's terminal.
		if st, err := term.MakeRaw(int(o.Stdin.Fd())); err == nil {
			c.oldState = st
		}
	}
	c.resize()
	c.out.Go(func() {
		// EIO once every slave fd is closed: the container is gone.
		_, _ = io.Copy(o.Stdout, master)
	})
	if o.Interactive && o.Stdin != nil {
		go func() { _, _ = io.Copy(master, o.Stdin) }()
	}
	return c
}

// resize copies the user's terminal size to the pty.
func (c *consoleIO) resize() {
	for _, f := range []*os.File{c.stdin, os.Stdout} {
		if f == nil {
			continue
		}
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(c.master.Fd()), unix.TIOCSWINSZ, ws)
			return
		}
	}
}

// drain waits for the container's last output, bounded in case a
// process outside the container still holds the pty.
func (c *consoleIO) drain() {
	done := make(chan struct{})
	go func() { c.out.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// restore puts the user's terminal back as it was; safe to call twice.
func (c *consoleIO) restore() {
	c.once.Do(func() {
		if c.oldState != nil {
			_ = term.Restore(int(c.stdin.Fd()), c.oldState)
		}
		c.master.Close()
	})
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
