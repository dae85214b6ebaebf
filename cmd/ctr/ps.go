package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type psOptions struct {
	all, quiet, noTrunc bool
	format              string
}

// psRow is one line of `ctr ps`, with the fields --format sees.
type psRow struct {
	ID, Image, Command, CreatedAt, Status, Names, State string
	RunningFor, Ports                                   string
	Created                                             time.Time
	ExitCode                                            int
}

// psJSON is `ctr ps --format json`, with podman's field names.
type psJSON struct {
	AutoRemove bool     `json:"AutoRemove"`
	Command    []string `json:"Command"`
	Created    int64    `json:"Created"`
	CreatedAt  string   `json:"CreatedAt"`
	Exited     bool     `json:"Exited"`
	ExitedAt   int64    `json:"ExitedAt"`
	ExitCode   int      `json:"ExitCode"`
	ID         string   `json:"Id"`
	Image      string   `json:"Image"`
	ImageID    string   `json:"ImageID"`
	Names      []string `json:"Names"`
	Pid        int      `json:"Pid"`
	StartedAt  int64    `json:"StartedAt"`
	State      string   `json:"State"`
	Status     string   `json:"Status"`
}

var psHeadings = map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}

func newPsCommand(a *app) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:     "ps [options]",
		Aliases: []string{"list", "ls"},
		Short:   "List containers",
		Long: "List running containers, or all with --all. --format takes a Go template over .ID .Image .Command\n" +
			".RunningFor .CreatedAt .Status .State .Names .ExitCode, \"table TEMPLATE\", or \"json\".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withEngine(func(e *engine.Engine) error { return listContainers(a, e, o) })
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers, not only running ones")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only container IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	f.StringVar(&o.format, "format", "", "output format: a Go template, \"table TEMPLATE\" or \"json\"")
	return needsUserNS(cmd, userNSRequired)
}

func listContainers(a *app, e *engine.Engine, o psOptions) error {
	all, err := e.Containers()
	if err != nil {
		return err
	}
	var cs []*engine.Container
	for _, c := range all {
		if o.all || c.Running() {
			cs = append(cs, c)
		}
	}
	switch {
	case o.quiet:
		for _, c := range cs {
			fmt.Fprintln(a.stdout, truncID(c.ID, o.noTrunc))
		}
		return nil
	case o.format == "json":
		out := make([]psJSON, 0, len(cs))
		for _, c := range cs {
			state := c.State.Status
			if c.State.Status == engine.StateRunning && !c.Running() {
				state = engine.StateExited
			}
			out = append(out, psJSON{
				AutoRemove: c.Remove, Command: c.Command, Created: c.Created.Unix(), CreatedAt: c.Created.Format(time.RFC3339Nano),
				Exited: state == engine.StateExited, ExitedAt: unixOrZero(c.State.FinishedAt), ExitCode: c.State.ExitCode,
				ID: c.ID, Image: c.Image, ImageID: c.ImageID, Names: []string{c.Name}, Pid: c.State.Pid,
				StartedAt: unixOrZero(c.State.StartedAt), State: state, Status: statusText(c),
			})
		}
		return writeJSON(a.stdout, out)
	}
	rows := make([]psRow, 0, len(cs))
	for _, c := range cs {
		cmdline := strings.Join(c.Command, " ")
		if !o.noTrunc && len(cmdline) > 20 {
			cmdline = cmdline[:17] + "..."
		}
		rows = append(rows, psRow{
			ID: truncID(c.ID, o.noTrunc), Image: c.Image, Command: cmdline, Created: c.Created,
			CreatedAt:  c.Created.Format("2006-01-02 15:04:05 -0700 MST"),
			RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago",
			Status:     statusText(c), State: c.State.Status, Names: c.Name, ExitCode: c.State.ExitCode,
		})
	}
	format := o.format
	if format == "" {
		format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	}
	return writeTemplate(a.stdout, format, rows, psHeadings)
}

// statusText is podman's STATUS column.
func statusText(c *engine.Container) string {
	switch {
	case c.Running():
		return "Up " + units.HumanDuration(time.Since(c.State.StartedAt))
	case c.State.Status == engine.StateCreated:
		return "Created"
	}
	return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, units.HumanDuration(time.Since(c.State.FinishedAt)))
}

func truncID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return id[:min(12, len(id))]
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
