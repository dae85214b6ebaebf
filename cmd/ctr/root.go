package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// Command annotations that say whether a command runs in the user
// namespace.
const (
	annotationUserNS = "ctr.userns"
	userNSRequired   = "required" // needs the store: enter or fail
	userNSOptional   = "optional" // enter if possible, else run on the host (info)
	// userNSHostFirst: the command first tries to finish on the host
	// (reading the store's index) and enters the namespace itself, with
	// enterForHostPhase, when it cannot.
	userNSHostFirst = "host-first"
	// annotationHostPhase marks a command whose run in the namespace hands
	// a result back (rootless.ReturnToHost) for a second half on the host.
	annotationHostPhase = "ctr.hostphase"
)

// app holds the global options and the streams every command writes to.
type app struct {
	args           []string // the command line, re-executed in the namespace
	stdin          io.Reader
	stdout, stderr io.Writer

	root, runroot, storageDriver, logLevel string

	mode rootless.Mode
	// nsErr is why the user namespace could not be entered, for commands
	// that run anyway (info).
	nsErr error
	// hostPhase is what the namespace half of a command handed back; set
	// only in the host process, for the command's second half.
	hostPhase []byte
	// onHost: the process runs outside ctr's user namespace, as a user
	// who needs one (not real root).
	onHost bool
}

func newRootCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{args: args, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "ctr",
		Short: "Rootless, daemonless containers",
		Long: "ctr runs OCI containers as an unprivileged user, without a daemon.\n" +
			"Each invocation enters a user namespace built from the user's /etc/subuid and /etc/subgid ranges.",
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.prepare,
		Version:           version,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("ctr version {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, commandPath: c.CommandPath()}
	})
	root.DisableAutoGenTag = true

	f := root.PersistentFlags()
	f.StringVar(&a.root, "root", "", "storage root directory (default $XDG_DATA_HOME/ctr/storage)")
	f.StringVar(&a.runroot, "runroot", "", "storage state directory (default $XDG_RUNTIME_DIR/ctr)")
	f.StringVar(&a.storageDriver, "storage-driver", "", "storage driver: overlay, fuse-overlayfs or vfs (default $CTR_STORAGE_DRIVER, else chosen on first use)")
	f.StringVar(&a.logLevel, "log-level", "warn", "log messages at or above this level: debug, info, warn, error")

	image := newImageCommand(a)
	system := newSystemCommand(a)
	root.AddCommand(
		newRunCommand(a),
		newPsCommand(a),
		newRmCommand(a),
		newInspectCommand(a, ""),
		newContainerCommand(a),
		newVolumeCommand(a),
		newPullCommand(a),
		newImagesCommand(a),
		newRmiCommand(a),
		newTagCommand(a),
		newImportCommand(a),
		newInfoCommand(a),
		newUnshareCommand(a),
		newVersionCommand(a),
		image,
		system,
	)
	root.AddCommand(containerCommands(a)...)
	// Added now rather than at Execute, so generated docs include it.
	root.InitDefaultCompletionCmd()
	return root
}

// prepare runs before every command: it sets up logging and, for commands
// that need the store, moves the process into the user namespace by
// re-executing it there.
func (a *app) prepare(cmd *cobra.Command, _ []string) error {
	level, err := logrus.ParseLevel(a.logLevel)
	if err != nil {
		return &usageError{err: fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", a.logLevel), commandPath: cmd.CommandPath()}
	}
	logrus.SetLevel(level)
	logrus.SetOutput(a.stderr)
	logrus.SetFormatter(&logFormatter{})
	if a.storageDriver == "" {
		a.storageDriver = os.Getenv("CTR_STORAGE_DRIVER")
	}

	need := cmd.Annotations[annotationUserNS]
	if need == "" {
		return nil
	}
	if mode, ok := rootless.Current(); ok {
		a.mode = mode
		return nil
	}
	a.onHost = true
	if need == userNSHostFirst {
		return nil
	}
	var result []byte
	code, err := a.enterUserNS(cmd, &result)
	if err != nil {
		if need == userNSOptional {
			a.nsErr = err
			return nil
		}
		return err
	}
	if code == 0 && result != nil && cmd.Annotations[annotationHostPhase] != "" {
		a.hostPhase = result
		return nil // RunE continues on the host
	}
	return exitStatus{code: code}
}

// withReader runs fn, for a userNSHostFirst command that reads containers
// (and signals them, and marks them stopped, which the host may do): on the
// host with a Reader on the store's index when that can be read, else in
// the namespace (the whole command again) with the engine's. An error from fn is the command's: output may have been
// written already, so it is not run a second time.
func (a *app) withReader(cmd *cobra.Command, fn func(*engine.Reader) error) error {
	if !a.onHost {
		return a.withEngine(func(e *engine.Engine) error { return fn(&e.Reader) })
	}
	r, err := a.hostReader()
	if err == nil {
		return fn(r)
	}
	logrus.Debugf("%s: running in the user namespace: %v", cmd.Name(), err)
	return a.rerunInUserNS(cmd)
}

// hostReader is a Reader on the store's index, for use on the host; it
// fails when the index cannot be read (see storage.ErrNoIndex).
func (a *app) hostReader() (*engine.Reader, error) {
	opts, err := a.storeOptions()
	if err != nil {
		return nil, err
	}
	return engine.NewHostReader(opts)
}

// rerunInUserNS is how a userNSHostFirst command that could not finish on
// the host runs instead: the whole command again, in the namespace.
func (a *app) rerunInUserNS(cmd *cobra.Command) error {
	code, err := a.enterUserNS(cmd, nil)
	if err != nil {
		return err
	}
	return exitStatus{code: code}
}

// enterForHostPhase is how a userNSHostFirst command that could not finish
// on the host runs its namespace half: on success a.hostPhase holds the
// result handed back; otherwise the error is the child's exit status (its
// errors were printed there) or why the namespace could not be entered.
func (a *app) enterForHostPhase(cmd *cobra.Command) error {
	var result []byte
	code, err := a.enterUserNS(cmd, &result)
	if err != nil {
		return err
	}
	if code == 0 && result != nil {
		a.hostPhase = result
		return nil
	}
	return exitStatus{code: code}
}

// enterUserNS re-executes ctr in a user namespace and returns the child's
// exit status. Its warnings are printed here, once, not by the child.
func (a *app) enterUserNS(cmd *cobra.Command, result *[]byte) (int, error) {
	uid, gid := os.Getuid(), os.Getgid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	plan, err := rootless.NewPlan(rootless.PlanConfig{UID: uid, GID: gid, User: name})
	if err != nil {
		return 0, err
	}
	for _, w := range plan.Warnings {
		logrus.Warn(w)
	}
	if plan.Degraded != "" {
		logrus.Warn(plan.Degraded)
	}
	paths, err := rootless.UserPaths(os.Getenv)
	if err != nil {
		return 0, err
	}
	if paths.RuntimeDirNote != "" {
		logrus.Info(paths.RuntimeDirNote)
	}
	return rootless.Reexec(cmd.Context(), plan, rootless.ReexecOptions{
		Args:        a.args,
		RuntimeBase: filepath.Dir(paths.RuntimeDir),
		Stdin:       a.stdin,
		Stdout:      a.stdout,
		Stderr:      a.stderr,
		Result:      result,
	})
}

// storeOptions resolves the store location and driver from flags and the
// environment.
func (a *app) storeOptions() (storage.Options, error) {
	paths, err := rootless.UserPaths(os.Getenv)
	if err != nil {
		return storage.Options{}, err
	}
	opts := storage.Options{
		GraphRoot:    filepath.Join(paths.DataDir, "storage"),
		RunRoot:      paths.RuntimeDir,
		Driver:       a.storageDriver,
		SquashOwners: a.mode == rootless.ModeSingleID,
	}
	if a.root != "" {
		opts.GraphRoot = a.root
	}
	if a.runroot != "" {
		opts.RunRoot = a.runroot
	}
	for _, p := range []*string{&opts.GraphRoot, &opts.RunRoot} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return opts, err
		}
		*p = abs
	}
	return opts, nil
}

// openStore opens the store; the command must have entered the namespace.
func (a *app) openStore() (*storage.Store, error) {
	if a.nsErr != nil {
		return nil, a.nsErr
	}
	opts, err := a.storeOptions()
	if err != nil {
		return nil, err
	}
	return storage.Open(opts)
}

// withStore opens the store, runs fn and closes the store.
func (a *app) withStore(fn func(*storage.Store) error) (retErr error) {
	s, err := a.openStore()
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil && retErr == nil && !errors.Is(err, os.ErrClosed) {
			retErr = err
		}
	}()
	return fn(s)
}

// withEngine opens the store, runs fn with an engine on it and closes the
// store.
func (a *app) withEngine(fn func(*engine.Engine) error) error {
	return a.withStore(func(s *storage.Store) error {
		e, err := engine.New(s, a.mode)
		if err != nil {
			return err
		}
		return fn(e)
	})
}

// needsUserNS marks cmd (and returns it) as one that runs in the user
// namespace.
func needsUserNS(cmd *cobra.Command, how string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationUserNS] = how
	return cmd
}

// logFormatter prints log lines as podman does: "WARN[0000] message".
type logFormatter struct{}

func (logFormatter) Format(e *logrus.Entry) ([]byte, error) {
	level := e.Level.String()
	if len(level) > 4 {
		level = level[:4]
	}
	return fmt.Appendf(nil, "%s[0000] %s\n", strings.ToUpper(level), e.Message), nil
}
