package main

import (
	"fmt"

	"github.com/ctr-project/ctr/pkg/storage"
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
		Long: "Remove every image, layer and container and the state directories, from inside the user\n" +
			"namespace so files owned by subordinate IDs can be deleted. Works on a corrupted store.\n" +
			"Asks for confirmation on standard input unless --force is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.storeOptions()
			if err != nil {
				return err
			}
			if !force && !confirm(a.stdin, a.stderr, fmt.Sprintf(
				"WARNING! This will remove all images and containers, and delete %s and %s.", opts.GraphRoot, opts.RunRoot)) {
				return nil
			}
			return storage.Reset(opts)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return needsUserNS(cmd, userNSRequired)
}
