package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

func newExecCommand(a *app) *cobra.Command {
	var o engine.ExecOptions
	var envFiles []string
	cmd := &cobra.Command{
		Use:   "exec [options] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: "Run a command in a running container, with the container's capabilities, seccomp filter,\n" +
			"no_new_privs, environment, user and working directory unless overridden.\n\n" +
			"EXIT STATUS: the command's status; 125 if ctr failed (e.g. the container is not running),\n" +
			"126 if the command cannot be invoked, 127 if it was not found.",
		Example: "  ctr exec web cat /etc/hostname\n  ctr exec -it web sh",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range envFiles {
				env, err := readEnvFile(f)
				if err != nil {
					return err
				}
				o.Env = append(env, o.Env...)
			}
			o.Args = args[1:]
			if a.onHost {
				// Plan on the host from the store's index when possible;
				// else in the namespace, which hands the plan back.
				plan, err := planExecOnHost(a, args[0], o)
				if err == nil {
					return runPlan(cmd, a, plan)
				}
				logrus.Debugf("exec: planning in the user namespace: %v", err)
				if err := a.enterForHostPhase(cmd); err != nil {
					return err
				}
				plan = &engine.ExecPlan{}
				if err := json.Unmarshal(a.hostPhase, plan); err != nil {
					return err
				}
				return runPlan(cmd, a, plan)
			}
			return a.withEngine(func(e *engine.Engine) error {
				plan, err := e.PlanExec(args[0], o)
				if err != nil {
					return err
				}
				if mode, _ := rootless.Current(); mode == rootless.ModeRoot {
					return runPlan(cmd, a, plan) // real root joins directly
				}
				b, err := json.Marshal(plan)
				if err != nil {
					return err
				}
				return rootless.ReturnToHost(b)
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep standard input attached")
	f.BoolVarP(&o.TTY, "tty", "t", false, "allocate a pseudo-terminal")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy it)")
	f.StringArrayVar(&envFiles, "env-file", nil, "read environment variables from a file")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] to run as")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "working directory inside the container")
	cmd.Annotations = map[string]string{annotationHostPhase: "exec"}
	return needsUserNS(cmd, userNSHostFirst)
}

// planExecOnHost plans the exec from the store's index, without the user
// namespace: the plan only needs the container's records and files.
func planExecOnHost(a *app, nameOrID string, o engine.ExecOptions) (*engine.ExecPlan, error) {
	r, err := a.hostReader()
	if err != nil {
		return nil, err
	}
	return r.PlanExec(nameOrID, o)
}

func runPlan(cmd *cobra.Command, a *app, plan *engine.ExecPlan) error {
	code, err := engine.RunExecPlan(cmd.Context(), plan, fileOr(a.stdin, os.Stdin), fileOr(a.stdout, os.Stdout), fileOr(a.stderr, os.Stderr))
	if err != nil {
		return runError(err)
	}
	if errors.Is(err, container.ErrNotRunning) {
		return err
	}
	return exitStatus{code: code}
}
