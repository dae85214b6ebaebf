package main

import (
	"fmt"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

type pullOptions struct {
	platform  string
	quiet     bool
	tlsVerify bool
	authFile  string
}

func newPullCommand(a *app) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [options] IMAGE",
		Short: "Pull an image from a registry",
		Long: "Pull an image by tag or digest from a registry into local storage.\n\n" +
			"Names without a registry are looked up on docker.io. TLS is verified unless --tls-verify=false;\n" +
			"a registry on a loopback address (localhost, 127.0.0.1, ::1) may use plain HTTP.",
		Example: "  ctr pull busybox\n  ctr pull --platform linux/arm64 docker.io/library/alpine:3.20\n  ctr pull localhost:5000/app@sha256:...",
		Args:    referenceArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(func(s *storage.Store) error {
				ref, err := storage.ParseReference(args[0])
				if err != nil {
					return err
				}
				progress := newPullProgress(cmd.Context(), a.stderr, o.quiet)
				opts := storage.PullOptions{
					Platform:  o.platform,
					Insecure:  !o.tlsVerify,
					Progress:  progress.event,
					UserAgent: "ctr/" + version,
				}
				if o.authFile != "" {
					opts.AuthFiles = []string{o.authFile}
				}
				img, err := s.Pull(cmd.Context(), ref, opts)
				progress.done()
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, img.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", "", "pull the image for this OS/ARCH[/VARIANT] (default: this host)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID")
	f.BoolVar(&o.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	f.StringVar(&o.authFile, "authfile", "", "read registry credentials from this file only")
	return needsUserNS(cmd, userNSRequired)
}

// referenceArgs checks the argument count and that every argument is a valid
// image reference, before the command enters the user namespace or touches
// the store.
func referenceArgs(minArgs, maxArgs int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(minArgs, maxArgs)(cmd, args); err != nil {
			return &usageError{err: err, commandPath: cmd.CommandPath()}
		}
		for _, arg := range args {
			if _, err := storage.ParseReference(arg); err != nil {
				return err
			}
		}
		return nil
	}
}
