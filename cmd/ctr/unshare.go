package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"

	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/spf13/cobra"
)

func newUnshareCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command inside ctr's user namespace",
		Long: "Run a command (default: your shell) as uid 0 inside the user namespace ctr uses, with the same ID\n" +
			"mapping. Files in the store that belong to subordinate IDs can be inspected or removed from there.\n" +
			"CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT are set to the store directories.\n\n" +
			"EXIT STATUS: the command's status; 125 if ctr failed, 126 if the command cannot be run, 127 if it was not found.",
		Example: "  ctr unshare ls -ln ~/.local/share/ctr/storage\n  ctr unshare rm -rf ~/.local/share/ctr/storage/vfs",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.storeOptions()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				shell := os.Getenv("SHELL")
				if shell == "" {
					shell = "/bin/sh"
				}
				args = []string{shell}
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return &withExitCode{code: exitNotFound, err: fmt.Errorf("unshare: %w", err)}
			}
			env := append(rootless.WithoutHostAgent(os.Environ()), "CONTAINERS_GRAPHROOT="+opts.GraphRoot, "CONTAINERS_RUNROOT="+opts.RunRoot)
			err = syscall.Exec(path, args, env)
			code := exitCannotRun
			if errors.Is(err, fs.ErrNotExist) {
				code = exitNotFound
			}
			return &withExitCode{code: code, err: fmt.Errorf("unshare: exec %s: %w", path, err)}
		},
	}
	cmd.Flags().SetInterspersed(false)
	return needsUserNS(cmd, userNSRequired)
}
