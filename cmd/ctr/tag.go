package main

import (
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

func newTagCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tag IMAGE TARGET_NAME...",
		Short:   "Add names to an image",
		Long:    "Add names to an image. A name without a registry is placed under localhost/, as podman does.",
		Example: "  ctr tag busybox my-busybox:1.0\n  ctr tag 3f57d9401f8d localhost:5000/app:latest",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MinimumNArgs(2)(cmd, args); err != nil {
				return &usageError{err: err, commandPath: cmd.CommandPath()}
			}
			for _, n := range args[1:] {
				if _, err := storage.ParseLocalReference(n); err != nil {
					return err
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(s *storage.Store) error { return s.Tag(args[0], args[1:]...) })
		},
	}
	return needsUserNS(cmd, userNSRequired)
}
