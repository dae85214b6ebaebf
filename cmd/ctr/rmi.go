package main

import (
	"errors"
	"fmt"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

// rmi exit statuses, as podman rmi: 1 when an image does not exist, 2 when
// one is in use.
const (
	exitRmiNotFound = 1
	exitRmiInUse    = 2
)

func newRmiCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [options] IMAGE...",
		Short: "Remove images",
		Long: "Remove images from local storage.\n\n" +
			"Naming an image that has several names removes only that name. Naming it by ID removes it\n" +
			"with all its names, which needs --force when it has several. An image used by containers\n" +
			"is removed only with --force, which removes those containers first.\n\n" +
			"EXIT STATUS: 0 all removed, 1 an image does not exist, 2 an image is in use, 125 other errors.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(s *storage.Store) error { return removeImages(a, s, args, force) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove images with several names or in use by containers")
	return needsUserNS(cmd, userNSRequired)
}

func removeImages(a *app, s *storage.Store, names []string, force bool) error {
	var errs []error
	code := 0
	for _, n := range names {
		rep, err := s.RemoveImage(n, force)
		for _, u := range rep.Untagged {
			fmt.Fprintf(a.stdout, "Untagged: %s\n", u)
		}
		for _, d := range rep.Deleted {
			fmt.Fprintf(a.stdout, "Deleted: %s\n", d)
		}
		if err != nil {
			errs = append(errs, err)
			switch {
			case errors.Is(err, storage.ErrImageUnknown) && code == 0:
				code = exitRmiNotFound
			case errors.Is(err, storage.ErrImageInUse):
				code = exitRmiInUse
			case !errors.Is(err, storage.ErrImageUnknown):
				code = exitCtrFailed
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &withExitCode{code: code, err: errors.Join(errs...)}
}
