package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/ctr-project/ctr/pkg/storage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type importOptions struct {
	changes []string
	message string
	quiet   bool
}

func newImportCommand(a *app) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [options] FILE|URL|- [REFERENCE]",
		Short: "Create an image from a root filesystem tarball",
		Long: "Create a single-layer image from a tarball of a root filesystem (plain, gzip, bzip2, xz or zstd),\n" +
			"read from a file, an http(s) URL or standard input (-). A name without a registry goes under localhost/.",
		Example: "  ctr import rootfs.tar.gz myimage\n" +
			"  ctr import --change 'CMD [\"/bin/sh\"]' --change ENV=PATH=/bin - busybox < busybox.tar",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.RangeArgs(1, 2)(cmd, args); err != nil {
				return &usageError{err: err, commandPath: cmd.CommandPath()}
			}
			if len(args) == 2 {
				if _, err := storage.ParseLocalReference(args[1]); err != nil {
					return err
				}
			}
			return storage.ApplyChanges(&ocispec.ImageConfig{}, o.changes)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg ocispec.ImageConfig
			if err := storage.ApplyChanges(&cfg, o.changes); err != nil {
				return err
			}
			src, err := openImportSource(cmd.Context(), args[0], a.stdin)
			if err != nil {
				return err
			}
			defer src.Close()
			opts := storage.ImportOptions{Config: cfg, Message: o.message, Source: args[0]}
			if len(args) == 2 {
				opts.Name = args[1]
			}
			return a.withStore(func(s *storage.Store) error {
				img, err := s.Import(src, opts)
				if err != nil {
					return err
				}
				if !o.quiet {
					fmt.Fprintln(a.stderr, "Writing manifest to image destination")
				}
				fmt.Fprintln(a.stdout, img.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.StringVarP(&o.message, "message", "m", "", "record this message in the image history")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID")
	return needsUserNS(cmd, userNSRequired)
}

func openImportSource(ctx context.Context, src string, stdin io.Reader) (io.ReadCloser, error) {
	switch {
	case src == "-":
		return io.NopCloser(stdin), nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("download %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("download %s: %s", src, resp.Status)
		}
		return resp.Body, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return f, nil
}
