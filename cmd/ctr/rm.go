package main

import (
	"errors"
	"fmt"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

// rm exit statuses, as podman rm: 1 when a container does not exist, 2 when
// one is running and --force was not given.
const (
	exitRmNotFound = 1
	exitRmRunning  = 2
)

func newRmCommand(a *app) *cobra.Command {
	var force, volumes, all bool
	cmd := &cobra.Command{
		Use:   "rm [options] CONTAINER...",
		Short: "Remove containers",
		Long: "Remove containers by name, ID or unique ID prefix, or all of them with --all. A running container\n" +
			"is removed only with --force, which kills it first.\n\n" +
			"EXIT STATUS: 0 all removed, 1 a container does not exist, 2 one is running, 125 other errors.",
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
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
					args = engine.RemovalOrder(cs)
				}
				var errs []error
				code := 0
				for _, n := range args {
					id, err := e.Remove(n, engine.RemoveOptions{Force: force, Volumes: volumes})
					if err == nil {
						fmt.Fprintln(a.stdout, id)
						continue
					}
					errs = append(errs, err)
					switch {
					case errors.Is(err, storage.ErrContainerUnknown) && code == 0:
						code = exitRmNotFound
					case errors.Is(err, engine.ErrContainerRunning):
						code = exitRmRunning
					case !errors.Is(err, storage.ErrContainerUnknown):
						code = exitCtrFailed
					}
				}
				if len(errs) == 0 {
					return nil
				}
				return &withExitCode{code: code, err: errors.Join(errs...)}
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all containers")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill and remove running containers")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "also remove the containers' anonymous volumes")
	return needsUserNS(cmd, userNSRequired)
}
