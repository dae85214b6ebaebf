package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

// containerCommands are the commands on containers; they appear at the
// top level and under `ctr container`.
func containerCommands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newCreateCommand(a), newStartCommand(a), newStopCommand(a), newKillCommand(a),
		newRestartCommand(a), newWaitCommand(a), newLogsCommand(a), newAttachCommand(a),
		newRenameCommand(a), newTopCommand(a), newCpCommand(a), newPortCommand(a), newExecCommand(a),
		newPauseCommand(a, true), newPauseCommand(a, false),
	}
}

func newContainerCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ls := newPsCommand(a)
	ls.Use, ls.Aliases = "ls [options]", []string{"list", "ps"}
	cmd.AddCommand(append(containerCommands(a), ls, newRunCommand(a), newRmCommand(a),
		newContainerPruneCommand(a), newInspectCommand(a, "container"))...)
	return cmd
}

func newCreateCommand(a *app) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "create [options] IMAGE [COMMAND [ARG...]]",
		Short: "Create a container without starting it",
		Long:  "Create a container as `ctr run` would, print its ID and leave it in the Created state for `ctr start`.",
		Args:  o.validArgs(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro, err := o.engineOptions(cmd, a, args)
			if err != nil {
				return err
			}
			return a.withEngine(func(e *engine.Engine) error {
				img, err := resolveWithProgress(cmd, a, e, &ro)
				if err != nil {
					return err
				}
				c, err := e.Create(img, ro)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			})
		},
	}
	addRunFlags(cmd, &o)
	return needsUserNS(cmd, userNSRequired)
}

func newStartCommand(a *app) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [options] CONTAINER...",
		Short: "Start created or stopped containers",
		Long: "Start containers in the background under their monitor and print their names. With --attach\n" +
			"(one container only) stay attached and exit with the container's status.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach && len(args) > 1 {
				return &usageError{err: errors.New("--attach takes a single container"), commandPath: cmd.CommandPath()}
			}
			return a.withEngine(func(e *engine.Engine) error {
				if attach {
					return startAttached(cmd, a, e, args[0], interactive)
				}
				return eachContainer(a, args, func(n string) (string, error) {
					_, _, err := e.Start(n, engine.StartOptions{})
					return n, runError(err)
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach to the container's output and exit with its status")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "with --attach, forward standard input")
	return needsUserNS(cmd, userNSRequired)
}

// eachContainer applies fn to each name, printing what fn returns and
// collecting errors; a missing container makes the status 125 like podman.
func eachContainer(a *app, names []string, fn func(string) (string, error)) error {
	var errs []error
	for _, n := range names {
		out, err := fn(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out != "" {
			fmt.Fprintln(a.stdout, out)
		}
	}
	return errors.Join(errs...)
}

func newStopCommand(a *app) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [options] CONTAINER...",
		Short: "Stop running containers",
		Long: "Send each container its stop signal (SIGTERM unless set with --stop-signal or by the image),\n" +
			"then SIGKILL after the timeout. A stopped container is not restarted by its restart policy.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *time.Duration
			if cmd.Flags().Changed("time") {
				d := time.Duration(timeout) * time.Second
				t = &d
			}
			return a.withReader(cmd, func(r *engine.Reader) error {
				return eachContainer(a, args, func(n string) (string, error) {
					_, err := r.Stop(cmd.Context(), n, t)
					return n, err
				})
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL (default: the container's stop timeout)")
	return needsUserNS(cmd, userNSHostFirst)
}

func newKillCommand(a *app) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [options] CONTAINER...",
		Short: "Send a signal to running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return &usageError{err: err, commandPath: cmd.CommandPath()}
			}
			return a.withReader(cmd, func(r *engine.Reader) error {
				return eachContainer(a, args, func(n string) (string, error) {
					_, err := r.Kill(n, sig)
					return n, err
				})
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send, by name or number")
	return needsUserNS(cmd, userNSHostFirst)
}

// newPauseCommand makes `pause` (freeze) or `unpause` (thaw).
func newPauseCommand(a *app, pause bool) *cobra.Command {
	var all bool
	verb, short := "pause", "Pause all the processes in containers"
	if !pause {
		verb, short = "unpause", "Unpause all the processes in containers"
	}
	cmd := &cobra.Command{
		Use:   verb + " [options] CONTAINER...",
		Short: short,
		Long: short + ", with the cgroup v2 freezer.\n" +
			"This needs a cgroup v2 subtree delegated to the user (a systemd user session on a cgroup v2 host);\n" +
			"without one it fails and says so.",
		Args: func(cmd *cobra.Command, args []string) error {
			if all != (len(args) == 0) {
				return &usageError{err: errors.New("specify containers or --all, not both or neither"), commandPath: cmd.CommandPath()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEngine(func(e *engine.Engine) error {
				if all {
					cs, err := e.Containers()
					if err != nil {
						return err
					}
					for _, c := range cs {
						// Those --all can act on: running and not
						// already in the wanted state.
						if c.Running() && c.Paused() != pause {
							args = append(args, c.ID)
						}
					}
				}
				return eachContainer(a, args, func(n string) (string, error) {
					c, err := e.Pause(n, pause)
					if err != nil {
						return "", err
					}
					if all {
						return c.ID, nil
					}
					return n, nil
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, verb+" all running containers")
	return needsUserNS(cmd, userNSRequired)
}

func newRestartCommand(a *app) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [options] CONTAINER...",
		Short: "Stop and start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *time.Duration
			if cmd.Flags().Changed("time") {
				d := time.Duration(timeout) * time.Second
				t = &d
			}
			return a.withEngine(func(e *engine.Engine) error {
				return eachContainer(a, args, func(n string) (string, error) {
					c, err := e.Restart(cmd.Context(), n, t)
					if err != nil {
						return "", err
					}
					return c.ID, nil
				})
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before SIGKILL")
	return needsUserNS(cmd, userNSRequired)
}

func newWaitCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait CONTAINER...",
		Short: "Wait for containers to exit and print their exit statuses",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withReader(cmd, func(r *engine.Reader) error {
				return eachContainer(a, args, func(n string) (string, error) {
					code, err := r.Wait(cmd.Context(), n)
					return strconv.Itoa(code), err
				})
			})
		},
	}
	return needsUserNS(cmd, userNSHostFirst)
}

func newLogsCommand(a *app) *cobra.Command {
	var follow, timestamps bool
	var tail int
	var since string
	cmd := &cobra.Command{
		Use:   "logs [options] CONTAINER",
		Short: "Show a container's output",
		Long: "Show what a detached container wrote (stdout and stderr), from its k8s-file log.\n" +
			"--since takes an RFC 3339 time or a duration before now (e.g. 10m).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.LogOptions{Follow: follow, Tail: tail}
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return &usageError{err: err, commandPath: cmd.CommandPath()}
				}
				o.Since = t
			}
			return a.withReader(cmd, func(r *engine.Reader) error {
				return r.Logs(cmd.Context(), args[0], o, func(l container.LogLine) error {
					w := a.stdout
					if l.Stream == "stderr" {
						w = a.stderr
					}
					if timestamps {
						fmt.Fprint(w, l.Time.Format(time.RFC3339Nano)+" ")
					}
					end := "\n"
					if l.Partial {
						end = ""
					}
					_, err := fmt.Fprint(w, l.Text+end)
					return err
				})
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep following the output while the container runs")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	f.IntVarP(&tail, "tail", "n", -1, "show only the last N lines (-1: all)")
	f.StringVar(&since, "since", "", "show lines since a time (RFC 3339) or a duration ago (10m)")
	return needsUserNS(cmd, userNSHostFirst)
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want an RFC 3339 time, a Unix time or a duration like 10m", s)
}

func newAttachCommand(a *app) *cobra.Command {
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [options] CONTAINER",
		Short: "Attach to a running container's input and output",
		Long: "Show a running container's output, forward input (when it was started with -i) and signals,\n" +
			"and exit with its status. Type ctrl-p ctrl-q on a terminal to detach and leave it running.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEngine(func(e *engine.Engine) error {
				ao := engine.AttachOptions{Stdout: a.stdout, Stderr: a.stderr}
				if !noStdin {
					ao.Stdin = fileOr(a.stdin, os.Stdin)
				}
				code, err := e.Attach(cmd.Context(), args[0], ao)
				if errors.Is(err, engine.ErrDetached) {
					return nil
				}
				if err != nil {
					return err
				}
				return exitStatus{code: code}
			})
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not forward standard input")
	return needsUserNS(cmd, userNSRequired)
}

func newRenameCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := storage.ValidateContainerName(args[1]); err != nil {
				return err
			}
			return a.withEngine(func(e *engine.Engine) error { return e.Rename(args[0], args[1]) })
		},
	}
	return needsUserNS(cmd, userNSRequired)
}

func newContainerPruneCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [options]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force && !confirm(a.stdin, a.stderr, "WARNING! This will remove all non running containers.") {
				return nil
			}
			return a.withEngine(func(e *engine.Engine) error {
				removed, err := e.Prune()
				for _, id := range removed {
					fmt.Fprintln(a.stdout, id)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return needsUserNS(cmd, userNSRequired)
}

func newTopCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [DESCRIPTOR...|PS-OPTIONS...]",
		Short: "Show the processes of a running container",
		Long: "List the container's processes, read from the host's /proc (nothing from the container's image\n" +
			"is executed). Descriptors (default: user pid ppid pcpu etime tty time args): " +
			strings.Join(engine.TopDescriptors(), " ") + ".\n" +
			"Arguments starting with - are ps(1) options instead, as with podman: ps runs inside the\n" +
			"container (`ctr exec CONTAINER ps OPTIONS...`), so the image must have one that takes them.",
		Example: "  ctr top web\n  ctr top web pid user args\n  ctr top web -o pid,comm",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.hostPhase != nil {
				var phase topHostPhase
				if err := json.Unmarshal(a.hostPhase, &phase); err != nil {
					return err
				}
				return runTopPhase(cmd, a, &phase)
			}
			return a.withEngine(func(e *engine.Engine) error {
				var phase topHostPhase
				var err error
				if slices.ContainsFunc(args[1:], func(s string) bool { return strings.HasPrefix(s, "-") }) {
					phase.Exec, err = e.PlanExec(args[0], engine.ExecOptions{Args: append([]string{"ps"}, args[1:]...)})
				} else {
					phase.Top, err = e.PlanTop(args[0], args[1:])
				}
				if err != nil {
					return err
				}
				if mode, _ := rootless.Current(); mode == rootless.ModeRoot {
					return runTopPhase(cmd, a, &phase) // real root is the host
				}
				b, err := json.Marshal(phase)
				if err != nil {
					return err
				}
				return rootless.ReturnToHost(b)
			})
		},
	}
	// Everything after the container is the listing's: ps options too.
	cmd.Flags().SetInterspersed(false)
	cmd.Annotations = map[string]string{annotationHostPhase: "top"}
	return needsUserNS(cmd, userNSRequired)
}

// topHostPhase is what `ctr top` hands to its host half: a listing from
// the host's /proc, or ps(1) to run inside the container.
type topHostPhase struct {
	Top  *engine.TopPlan  `json:"top,omitempty"`
	Exec *engine.ExecPlan `json:"exec,omitempty"`
}

// runTopPhase is the host half of `ctr top`.
func runTopPhase(cmd *cobra.Command, a *app, phase *topHostPhase) error {
	if phase.Exec != nil {
		return runPlan(cmd, a, phase.Exec)
	}
	rows, err := engine.RunTop(phase.Top)
	if err != nil {
		return err
	}
	return writeRows(a.stdout, rows)
}

func newPortCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List a container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withReader(cmd, func(r *engine.Reader) error {
				ports, err := r.Port(args[0])
				if err != nil {
					return err
				}
				found := false
				for _, p := range ports {
					if len(args) == 2 {
						want := args[1]
						if !strings.Contains(want, "/") {
							want += "/tcp"
						}
						if fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol) != want {
							continue
						}
						ip := p.HostIP
						if ip == "" {
							ip = "0.0.0.0"
						}
						fmt.Fprintf(a.stdout, "%s:%d\n", ip, p.HostPort)
						found = true
						continue
					}
					fmt.Fprintln(a.stdout, p.String())
				}
				if len(args) == 2 && !found {
					return fmt.Errorf("no public port %s published for %s", args[1], args[0])
				}
				return nil
			})
		},
	}
	return needsUserNS(cmd, userNSHostFirst)
}
