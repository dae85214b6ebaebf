package main

import (
	"fmt"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

func newSystemCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage ctr's storage and state",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	info := newInfoCommand(a)
	cmd.AddCommand(newSystemResetCommand(a), info)
	return cmd
}

func newSystemResetCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reset [options]",
		Short: "Remove all images, containers and ctr's state",
		Long: "Remove every container (running ones are killed), volume, image and layer, and the state\n" +
			"directories, from inside the user namespace so files owned by subordinate IDs can be deleted.\n" +
			"Works on a corrupted store. Asks for confirmation on standard input unless --force is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.storeOptions()
			if err != nil {
				return err
			}
			if !force && !confirm(a.stdin, a.stderr, fmt.Sprintf(
				"WARNING! This will remove all containers, volumes and images, and delete %s and %s.", opts.GraphRoot, opts.RunRoot)) {
				return nil
			}
			// Containers first: a running one's process and monitor would
			// keep its layer mounted and outlive the store. A store that
			// does not open is reset all the same.
			if err := a.withEngine(func(e *engine.Engine) error { return e.Clear() }); err != nil {
				logrus.Warnf("removing containers and volumes before the reset: %v", err)
			}
			return storage.Reset(opts)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return needsUserNS(cmd, userNSRequired)
}
