package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type runOptions struct {
	rm, interactive, tty, readOnly, init, tlsVerify, detach bool
	name, workdir, user, hostname, network, pull, platform  string
	entrypoint, restart, stopSignal                         string
	stopTimeout                                             int
	env, envFiles, volumes, mounts, tmpfs, capAdd, capDrop  []string
	securityOpts, ulimits, labels, annotations, logOpts     []string
	healthCmd                                               string
	healthInterval, healthTimeout, healthStartPeriod        string
	healthRetries                                           int
	publish, dns, dnsSearch, dnsOptions, addHosts           []string
	publishAll, noHosts                                     bool
}

func newRunCommand(a *app) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [options] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Long: "Create a container from an image and run a command in it in the foreground. The image is pulled\n" +
			"when missing (--pull). ctr exits with the command's status.\n\n" +
			"Networking: a user-mode network with slirp4netns by default (or pasta), published ports with -p,\n" +
			"none (only lo), host (the user's network) or container:NAME (share NAME's network namespace).\n\n" +
			"EXIT STATUS: the command's status; 125 if ctr failed, 126 if the command cannot be invoked,\n" +
			"127 if it was not found.",
		Example: "  ctr run --rm busybox echo hello\n" +
			"  ctr run -it --rm -v ./src:/src:ro busybox sh\n" +
			"  echo hi | ctr run -i --rm busybox cat",
		Args: o.validArgs(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro, err := o.engineOptions(cmd, a, args)
			if err != nil {
				return err
			}
			return a.withEngine(func(e *engine.Engine) error {
				// First of all, before anything is pulled or created: it
				// may have to run again in another user namespace.
				if err := e.EnterNetworkOwner(ro.Network.Config); err != nil {
					return err
				}
				img, err := resolveWithProgress(cmd, a, e, &ro)
				if err != nil {
					return err
				}
				// Restarts and healthchecks need the monitor; so does -d.
				if !o.detach && ro.Restart.Name == "no" && ro.Health == nil {
					code, err := e.Run(cmd.Context(), img, ro)
					if err != nil {
						return runError(err)
					}
					return exitStatus{code: code}
				}
				c, err := e.Create(img, ro)
				if err != nil {
					return err
				}
				if o.detach {
					if _, _, err := e.Start(c.ID, engine.StartOptions{}); err != nil {
						var execErr *run.ExecError
						if !errors.As(err, &execErr) {
							// It never ran: leave nothing half-created.
							_, _ = e.Remove(c.ID, engine.RemoveOptions{Force: true, Volumes: true})
						}
						return runError(err)
					}
					fmt.Fprintln(a.stdout, c.ID)
					return nil
				}
				return startAttached(cmd, a, e, c.ID, o.interactive)
			})
		},
	}
	addRunFlags(cmd, &o)
	cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the container ID")
	return needsUserNS(cmd, userNSRequired)
}

// validArgs checks the arguments and flags of run and create before the
// command enters the namespace, so bad input fails there with nothing made.
func (o *runOptions) validArgs(a *app) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < 1 {
			return &usageError{err: errors.New("an image is required"), commandPath: cmd.CommandPath()}
		}
		_, err := o.engineOptions(cmd, a, args)
		return err
	}
}

// resolveWithProgress finds or pulls the image, showing pull progress, and
// puts the name the image resolved to in ro.Image.
func resolveWithProgress(cmd *cobra.Command, a *app, e *engine.Engine, ro *engine.RunOptions) (*storage.Image, error) {
	progress := newPullProgress(cmd.Context(), a.stderr, false)
	po := *ro
	po.PullOptions.Progress = progress.event
	img, name, err := e.ResolveImage(cmd.Context(), po)
	progress.done()
	if err != nil {
		return nil, err
	}
	ro.Image = name
	return img, nil
}

// startAttached starts a container under its monitor, attached from the
// first byte, and returns its exit status as the command's.
func startAttached(cmd *cobra.Command, a *app, e *engine.Engine, id string, interactive bool) error {
	c, conn, err := e.Start(id, engine.StartOptions{Attach: true})
	if err != nil {
		return runError(err)
	}
	ao := engine.AttachOptions{Stdout: a.stdout, Stderr: a.stderr}
	if interactive {
		ao.Stdin = fileOr(a.stdin, os.Stdin)
	}
	code, err := e.AttachTo(cmd.Context(), c, conn, ao)
	if errors.Is(err, engine.ErrDetached) {
		return nil
	}
	if err != nil {
		return err
	}
	return exitStatus{code: code}
}

// addRunFlags adds the flags run and create share.
func addRunFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after IMAGE belong to the command
	f.BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep standard input attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVar(&o.name, "name", "", "container name (default: generated)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy it from this environment)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file (KEY=VALUE lines)")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "user[:group] to run as (name or number)")
	f.StringVar(&o.entrypoint, "entrypoint", "", "override the image's entrypoint (a program, or a JSON array)")
	f.StringVar(&o.hostname, "hostname", "", "container host name (default: the short container ID)")
	f.StringVar(&o.network, "network", netns.DefaultMode, "network: slirp4netns[:OPTIONS], pasta[:ARGS], none, host or container:NAME")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a port [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp] (ranges allowed)")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "publish every port the image exposes on a random host port")
	f.StringArrayVar(&o.dns, "dns", nil, "use this DNS server")
	f.StringArrayVar(&o.dnsSearch, "dns-search", nil, "use this DNS search domain (. for none)")
	f.StringArrayVar(&o.dnsOptions, "dns-option", nil, "set a resolv.conf option")
	f.StringArrayVar(&o.addHosts, "add-host", nil, "add NAME:IP to /etc/hosts (IP host-gateway: the address at which the container reaches the host)")
	f.BoolVar(&o.noHosts, "no-hosts", false, "do not create /etc/hosts (keep the image's)")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount HOST-PATH:CONTAINER-PATH[:ro|rw], or a volume NAME:CONTAINER-PATH, or an anonymous volume CONTAINER-PATH")
	f.StringArrayVar(&o.mounts, "mount", nil, "mount type=bind|volume|tmpfs,source=...,target=...[,readonly]")
	f.StringArrayVar(&o.tmpfs, "tmpfs", nil, "mount a tmpfs at PATH[:options]")
	f.BoolVar(&o.readOnly, "read-only", false, "make the root filesystem read-only (tmpfs on /tmp, /var/tmp, /run)")
	f.BoolVar(&o.init, "init", false, "run a minimal init as PID 1 that forwards signals and reaps zombies")
	f.StringVar(&o.pull, "pull", engine.PullMissing, "pull policy: missing, always or never")
	f.StringVar(&o.platform, "platform", "", "pull the image for this OS/ARCH[/VARIANT]")
	f.BoolVar(&o.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates when pulling")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "add a capability (or ALL)")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop a capability (or ALL)")
	f.StringArrayVar(&o.securityOpts, "security-opt", nil, "no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json")
	f.StringArrayVar(&o.ulimits, "ulimit", nil, "resource limit TYPE=SOFT[:HARD], e.g. nofile=1024:2048")
	f.StringVar(&o.restart, "restart", "no", "restart policy of a detached container: no, on-failure[:N], always, unless-stopped")
	f.StringVar(&o.healthCmd, "health-cmd", "", "healthcheck command, run in the container with /bin/sh -c")
	f.StringVar(&o.healthInterval, "health-interval", "30s", "time between healthchecks")
	f.StringVar(&o.healthTimeout, "health-timeout", "30s", "time a healthcheck may take")
	f.StringVar(&o.healthStartPeriod, "health-start-period", "0s", "time after start during which failures do not count")
	f.IntVar(&o.healthRetries, "health-retries", 3, "consecutive failures that make a container unhealthy")
	f.StringVar(&o.stopSignal, "stop-signal", "", "signal `ctr stop` sends (default: the image's, else SIGTERM)")
	f.IntVar(&o.stopTimeout, "stop-timeout", 10, "seconds `ctr stop` waits before SIGKILL")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "set a label KEY=VALUE")
	f.StringArrayVar(&o.annotations, "annotation", nil, "set an annotation KEY=VALUE")
	f.StringArrayVar(&o.logOpts, "log-opt", nil, "log option: max-size=SIZE (rotate the log at SIZE, e.g. 10m)")
}

// engineOptions validates the flags and arguments and builds the engine's
// options. It runs on the host before entering the user namespace (so bad
// input fails before anything is written) and again inside it.
func (o *runOptions) engineOptions(cmd *cobra.Command, a *app, args []string) (engine.RunOptions, error) {
	usage := func(err error) error { return &usageError{err: err, commandPath: cmd.CommandPath()} }
	ro := engine.RunOptions{
		Image: args[0], Pull: o.pull, Name: o.name, Remove: o.rm, Init: o.init, Interactive: o.interactive,
		PullOptions: storage.PullOptions{Platform: o.platform, Insecure: !o.tlsVerify, UserAgent: "ctr/" + version},
		Stdout:      fileOr(a.stdout, os.Stdout), Stderr: fileOr(a.stderr, os.Stderr), Stdin: fileOr(a.stdin, os.Stdin),
	}
	if _, err := storage.ParseReference(args[0]); err != nil && !isImageID(args[0]) {
		return ro, err
	}
	switch o.pull {
	case engine.PullMissing, engine.PullAlways, engine.PullNever:
	default:
		return ro, usage(fmt.Errorf("invalid --pull %q: want missing, always or never", o.pull))
	}
	nc, err := netns.ParseNetwork(o.network)
	if err != nil {
		return ro, usage(err)
	}
	if nc.Mode == netns.ModeContainer && (len(o.publish) > 0 || o.publishAll) {
		return ro, usage(fmt.Errorf("%w: -p and -P cannot be used with --network container:%s: publish the ports on %s", netns.ErrInvalidNetwork, nc.Container, nc.Container))
	}
	if nc.Mode == netns.ModeContainer && (len(o.dns) > 0 || len(o.dnsSearch) > 0 || len(o.dnsOptions) > 0 || len(o.addHosts) > 0) {
		return ro, usage(fmt.Errorf("%w: --dns, --dns-search, --dns-option and --add-host cannot be used with --network container:%s: the container gets the resolv.conf and hosts of %s", netns.ErrInvalidNetwork, nc.Container, nc.Container))
	}
	ro.Network = engine.NetworkOptions{Config: nc, AddHosts: o.addHosts, NoHosts: o.noHosts,
		DNS: netns.DNSOptions{Servers: o.dns, Search: o.dnsSearch, Options: o.dnsOptions}}
	for _, d := range o.dns {
		if net.ParseIP(d) == nil {
			return ro, usage(fmt.Errorf("invalid --dns %q: not an IP address", d))
		}
	}
	for _, p := range o.publish {
		ms, err := netns.ParsePort(p)
		if err != nil {
			return ro, usage(err)
		}
		ro.Network.Ports = append(ro.Network.Ports, ms...)
	}
	ro.PublishAll = o.publishAll
	for _, h := range o.addHosts {
		if err := netns.ParseAddHost(h); err != nil {
			return ro, usage(err)
		}
	}
	if o.name != "" {
		if err := storage.ValidateContainerName(o.name); err != nil {
			return ro, err
		}
	}
	s := oci.Options{
		Args: args[1:], WorkingDir: o.workdir, User: o.user, Hostname: o.hostname, Terminal: o.tty,
		ReadOnly: o.readOnly, CapAdd: o.capAdd, CapDrop: o.capDrop, HostEnv: os.LookupEnv,
	}
	if cmd.Flags().Changed("entrypoint") {
		s.Entrypoint = &o.entrypoint
	}
	for _, f := range o.envFiles {
		env, err := readEnvFile(f)
		if err != nil {
			return ro, err
		}
		s.Env = append(s.Env, env...)
	}
	s.Env = append(s.Env, o.env...)
	cwd, err := os.Getwd()
	if err != nil {
		return ro, err
	}
	addMount := func(spec string, parse func(string, string) (*oci.Mount, *engine.VolumeMount, error)) error {
		m, vm, err := parse(spec, cwd)
		if err != nil {
			return err
		}
		if vm != nil {
			ro.Volumes = append(ro.Volumes, *vm)
			return nil
		}
		if m.Type == "bind" {
			if _, err := os.Stat(m.Source); err != nil {
				return fmt.Errorf("volume %q: host path: %w", spec, err)
			}
		}
		s.Mounts = append(s.Mounts, *m)
		return nil
	}
	for _, v := range o.volumes {
		if err := addMount(v, parseVolumeFlag); err != nil {
			return ro, err
		}
	}
	for _, m := range o.mounts {
		if err := addMount(m, parseMountFlag); err != nil {
			return ro, err
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Mounts {
		seen[m.Destination] = true
	}
	for _, v := range ro.Volumes {
		if seen[v.Destination] {
			return ro, fmt.Errorf("%s: %w", v.Destination, oci.ErrDuplicateMountDestination)
		}
		seen[v.Destination] = true
	}
	for _, t := range o.tmpfs {
		m, err := oci.ParseTmpfs(t)
		if err != nil {
			return ro, err
		}
		s.Mounts = append(s.Mounts, m)
	}
	for _, u := range o.ulimits {
		l, err := oci.ParseUlimit(u)
		if err != nil {
			return ro, err
		}
		s.Ulimits = append(s.Ulimits, l)
	}
	for _, so := range o.securityOpts {
		switch {
		case so == "no-new-privileges" || so == "no-new-privileges=true":
			s.NoNewPrivileges = true
		case so == "no-new-privileges=false":
		case so == "seccomp=unconfined":
			s.Seccomp = oci.SeccompUnconfined
		case strings.HasPrefix(so, "seccomp="):
			b, err := os.ReadFile(strings.TrimPrefix(so, "seccomp="))
			if err != nil {
				return ro, fmt.Errorf("--security-opt %s: %w", so, err)
			}
			s.Seccomp, s.SeccompProfile = oci.SeccompCustom, b
		default:
			return ro, usage(fmt.Errorf("unsupported --security-opt %q: want no-new-privileges, seccomp=unconfined or seccomp=FILE", so))
		}
	}
	ro.Spec = s
	if ro.Restart, err = container.ParseRestartPolicy(o.restart); err != nil {
		return ro, usage(err)
	}
	if o.rm && ro.Restart.Name != "no" {
		return ro, usage(errors.New("--rm and --restart cannot be combined"))
	}
	if o.healthCmd != "" {
		h := &container.HealthConfig{Test: []string{"/bin/sh", "-c", o.healthCmd}, Retries: o.healthRetries}
		for _, d := range []struct {
			flag, value string
			dst         *time.Duration
		}{{"--health-interval", o.healthInterval, &h.Interval}, {"--health-timeout", o.healthTimeout, &h.Timeout}, {"--health-start-period", o.healthStartPeriod, &h.StartPeriod}} {
			v, err := time.ParseDuration(d.value)
			if err != nil || v < 0 {
				return ro, usage(fmt.Errorf("invalid %s %q: want a duration such as 30s", d.flag, d.value))
			}
			*d.dst = v
		}
		if h.Interval <= 0 || h.Retries < 1 {
			return ro, usage(errors.New("--health-interval must be positive and --health-retries at least 1"))
		}
		ro.Health = h
	}
	if o.stopSignal != "" {
		if _, err := engine.ParseSignal(o.stopSignal); err != nil {
			return ro, usage(err)
		}
		ro.StopSignal = o.stopSignal
	}
	if cmd.Flags().Changed("stop-timeout") {
		if o.stopTimeout < 0 {
			return ro, usage(errors.New("--stop-timeout must be >= 0"))
		}
		ro.StopTimeout = &o.stopTimeout
	}
	if ro.Labels, err = keyValues("--label", o.labels); err != nil {
		return ro, usage(err)
	}
	if ro.Annotations, err = keyValues("--annotation", o.annotations); err != nil {
		return ro, usage(err)
	}
	for _, lo := range o.logOpts {
		k, v, _ := strings.Cut(lo, "=")
		if k != "max-size" {
			return ro, usage(fmt.Errorf("unsupported --log-opt %q: ctr supports max-size=SIZE", lo))
		}
		n, err := units.RAMInBytes(v)
		if err != nil || n <= 0 {
			return ro, usage(fmt.Errorf("invalid --log-opt %q: want a size such as 10m", lo))
		}
		ro.LogMaxSize = n
	}
	if o.detach && o.interactive && !o.tty {
		// Input comes later through `ctr attach`.
		ro.Interactive = true
	}
	return ro, nil
}

// keyValues parses KEY=VALUE flags into a map.
func keyValues(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// isImageID accepts an image ID (prefix, optionally sha256:) where a
// reference is expected.
func isImageID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are
// skipped, a bare KEY takes its value from this environment (docker).
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		env = append(env, line)
	}
	return env, sc.Err()
}

// runError gives run's errors their exit codes.
func runError(err error) error {
	var startErr *engine.StartError
	switch {
	case errors.As(err, &startErr) && startErr.Code != 0:
		return &withExitCode{code: startErr.Code, err: err}
	case errors.Is(err, run.ErrCommandNotFound):
		return &withExitCode{code: exitNotFound, err: err}
	case errors.Is(err, run.ErrCannotExecute):
		return &withExitCode{code: exitCannotRun, err: err}
	}
	return err
}

func fileOr(v any, def *os.File) *os.File {
	if f, ok := v.(*os.File); ok {
		return f
	}
	return def
}
