package main

import (
	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=... -X main.gitCommit=...".
var (
	version   = "0.1.0-dev"
	gitCommit = ""
)

const versionTemplate = `Version:      {{.Version}}
Go Version:   {{.GoVersion}}
Git Commit:   {{.GitCommit}}
OS/Arch:      {{.OsArch}}
`

func newVersionCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [options]",
		Short: "Show the ctr version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			switch format {
			case "json":
				return writeJSON(a.stdout, v)
			case "":
				format = versionTemplate
			}
			return writeTemplate(a.stdout, format, []versionInfo{v}, nil)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "\"json\" or a Go template")
	return cmd
}
