package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/run"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

type runOptions struct {
	rm, interactive, tty, readOnly, init, tlsVerify        bool
	name, workdir, user, hostname, network, pull, platform string
	entrypoint                                             string
	env, envFiles, volumes, tmpfs, capAdd, capDrop         []string
	securityOpts, ulimits                                  []string
}

func newRunCommand(a *app) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [options] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Long: "Create a container from an image and run a command in it in the foreground. The image is pulled\n" +
			"when missing (--pull). ctr exits with the command's status.\n\n" +
			"Networking: --network none (the default for now: only lo) or host (the user's network).\n\n" +
			"EXIT STATUS: the command's status; 125 if ctr failed, 126 if the command cannot be invoked,\n" +
			"127 if it was not found.",
		Example: "  ctr run --rm busybox echo hello\n" +
			"  ctr run -it --rm -v ./src:/src:ro busybox sh\n" +
			"  echo hi | ctr run -i --rm busybox cat",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return &usageError{err: errors.New("an image is required"), commandPath: cmd.CommandPath()}
			}
			_, err := o.engineOptions(cmd, a, args)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ro, err := o.engineOptions(cmd, a, args)
			if err != nil {
				return err
			}
			return a.withEngine(func(e *engine.Engine) error {
				progress := newPullProgress(cmd.Context(), a.stderr, false)
				ro.PullOptions.Progress = progress.event
				img, err := e.ResolveImage(cmd.Context(), ro)
				progress.done()
				if err != nil {
					return err
				}
				code, err := e.Run(cmd.Context(), img, ro)
				if err != nil {
					return runError(err)
				}
				return exitStatus{code: code}
			})
		},
	}
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
	f.StringVar(&o.network, "network", oci.NetworkNone, "network mode: none or host")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount HOST-PATH:CONTAINER-PATH[:ro|rw]")
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
	return needsUserNS(cmd, userNSRequired)
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
	switch o.network {
	case oci.NetworkNone, oci.NetworkHost:
	default:
		return ro, usage(fmt.Errorf("invalid --network %q: want none or host (user-mode networking is not available yet)", o.network))
	}
	if o.name != "" {
		if err := storage.ValidateContainerName(o.name); err != nil {
			return ro, err
		}
	}
	s := oci.Options{
		Args: args[1:], WorkingDir: o.workdir, User: o.user, Hostname: o.hostname, Terminal: o.tty,
		Network: o.network, ReadOnly: o.readOnly, CapAdd: o.capAdd, CapDrop: o.capDrop, HostEnv: os.LookupEnv,
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
	for _, v := range o.volumes {
		m, err := oci.ParseVolume(v, cwd)
		if err != nil {
			return ro, err
		}
		if _, err := os.Stat(m.Source); err != nil {
			return ro, fmt.Errorf("volume %q: host path: %w", v, err)
		}
		s.Mounts = append(s.Mounts, m)
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
	return ro, nil
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
	switch {
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
