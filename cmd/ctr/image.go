package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

func newImageCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ls := newImagesCommand(a)
	ls.Use, ls.Aliases = "ls [options] [REFERENCE]", []string{"list"}
	rm := newRmiCommand(a)
	rm.Use = "rm [options] IMAGE..."
	cmd.AddCommand(ls, rm, newPullCommand(a), newTagCommand(a), newImportCommand(a),
		newImageInspectCommand(a), newImagePruneCommand(a))
	return cmd
}

func newImageInspectCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [options] IMAGE...",
		Short: "Show details of images",
		Long:  "Show details of images as a JSON array, or render each with a Go template (--format).",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(s *storage.Store) error {
				var details []*storage.ImageDetails
				var errs []error
				for _, n := range args {
					img, err := s.LookupImage(n)
					if err == nil {
						var d *storage.ImageDetails
						if d, err = s.Details(img); err == nil {
							details = append(details, d)
							continue
						}
					}
					errs = append(errs, err)
				}
				return writeInspect(a, format, details, errs)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "render with a Go template instead of JSON")
	return needsUserNS(cmd, userNSRequired)
}

func newImagePruneCommand(a *app) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [options]",
		Short: "Remove unused images",
		Long: "Remove dangling images (those without a name), or with --all every image no container uses.\n" +
			"Asks for confirmation on standard input unless --force is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				what := "all dangling images"
				if all {
					what = "all images without at least one container associated with them"
				}
				if !confirm(a.stdin, a.stderr, "WARNING! This command removes "+what+".") {
					return nil
				}
			}
			return a.withStore(func(s *storage.Store) error {
				removed, err := s.PruneImages(all)
				for _, id := range removed {
					fmt.Fprintln(a.stdout, id)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image not used by a container")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return needsUserNS(cmd, userNSRequired)
}

// confirm prints warning and asks to continue; only "y" or "yes" agrees.
// End of input counts as no, so scripts never hang.
func confirm(in io.Reader, out io.Writer, warning string) bool {
	fmt.Fprintf(out, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(in).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer != "y" && answer != "yes" {
		fmt.Fprintln(out)
		return false
	}
	return true
}
