package main

import (
	"errors"
	"strings"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/spf13/cobra"
)

func newCpCommand(a *app) *cobra.Command {
	var o engine.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [options] SRC DEST",
		Short: "Copy files between a container and the host",
		Long: "Copy a file or directory from a container to the host (CONTAINER:PATH DEST) or from the host to a\n" +
			"container (SRC CONTAINER:PATH), with docker's rules: a directory copied into an existing directory\n" +
			"is nested, SRC/. copies a directory's contents. Paths in the container resolve inside it: its\n" +
			"symlinks never lead to host files. A path on a volume or bind mount is copied from or to the\n" +
			"mount's source, chrooted into it; a read-only mount is refused. Modes and times are kept;\n" +
			"--archive also keeps owners.",
		Example: "  ctr cp web:/etc/nginx/nginx.conf .\n  ctr cp ./site/. web:/usr/share/nginx/html",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcC, srcPath, srcIn := splitContainerPath(args[0])
			dstC, dstPath, dstIn := splitContainerPath(args[1])
			if srcIn == dstIn {
				return &usageError{err: errors.New("exactly one of SRC and DEST must be CONTAINER:PATH"), commandPath: cmd.CommandPath()}
			}
			return a.withEngine(func(e *engine.Engine) error {
				if srcIn {
					return e.CopyFromContainer(srcC, srcPath, dstPath, o)
				}
				return e.CopyToContainer(dstC, srcPath, dstPath, o)
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "keep owners (container IDs) too")
	return needsUserNS(cmd, userNSRequired)
}

// splitContainerPath splits CONTAINER:PATH; a path with a / before the
// first : (./a:b, /x:y) is a host path, as in docker.
func splitContainerPath(s string) (container, path string, ok bool) {
	c, p, found := strings.Cut(s, ":")
	if !found || c == "" || strings.ContainsAny(c, "/") || strings.HasPrefix(s, ".") {
		return "", s, false
	}
	return c, p, true
}
