package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/docker/go-units"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

type psOptions struct {
	all, quiet, noTrunc, size bool
	format                    string
	filters                   []string
}

// psRow is one line of `ctr ps`, with the fields --format sees.
type psRow struct {
	ID, Image, Command, CreatedAt, Status, Names, State string
	RunningFor, Ports, Size                             string
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
			if a.onHost {
				// Sizes and image lookups need the store; the rest is
				// in the store's index and the containers' files.
				why := "--size and the ancestor filter need the store"
				if !o.size && !hasFilter(o.filters, "ancestor") {
					cs, err := hostContainers(a)
					if err == nil {
						return listContainers(a, cs, nil, o)
					}
					why = err.Error()
				}
				logrus.Debugf("ps: listing in the user namespace: %s", why)
				return a.rerunInUserNS(cmd)
			}
			return a.withEngine(func(e *engine.Engine) error {
				cs, err := e.Containers()
				if err != nil {
					return err
				}
				return listContainers(a, cs, e.Store(), o)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers, not only running ones")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only container IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	f.BoolVarP(&o.size, "size", "s", false, "show the size of each container's writable layer")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter: status=STATE, name=REGEX, label=KEY[=VALUE], ancestor=IMAGE, id=PREFIX")
	f.StringVar(&o.format, "format", "", "output format: a Go template, \"table TEMPLATE\" or \"json\"")
	return needsUserNS(cmd, userNSHostFirst)
}

// hostContainers lists the containers from the host, without the user
// namespace (see storage.ContainerIndex).
func hostContainers(a *app) ([]*engine.Container, error) {
	r, err := a.hostReader()
	if err != nil {
		return nil, err
	}
	return r.Containers()
}

func hasFilter(filters []string, key string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return strings.HasPrefix(f, key+"=") })
}

// listContainers prints all (newest first) as ps does. store is nil on the
// host, where --size and the ancestor filter are not offered.
func listContainers(a *app, all []*engine.Container, store *storage.Store, o psOptions) error {
	filters, err := parsePsFilters(store, o.filters)
	if err != nil {
		return err
	}
	var cs []*engine.Container
	for _, c := range all {
		// A status filter implies --all, as in podman.
		if !o.all && !hasStatusFilter(o.filters) && !c.Running() {
			continue
		}
		if slices.ContainsFunc(filters, func(f func(*engine.Container) bool) bool { return !f(c) }) {
			continue
		}
		cs = append(cs, c)
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
			state := c.Status()
			out = append(out, psJSON{
				AutoRemove: c.Remove, Command: c.Command, Created: c.Created.Unix(), CreatedAt: c.Created.Format(time.RFC3339Nano),
				Exited: state == container.StateExited, ExitedAt: unixOrZero(c.State.FinishedAt), ExitCode: c.State.ExitCode,
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
			Status:     statusText(c), State: stateText(c), Names: c.Name, ExitCode: c.State.ExitCode, Ports: c.PortsString(),
		})
		if o.size && store != nil {
			if rw, err := store.ContainerSize(c.ID); err == nil {
				rows[len(rows)-1].Size = humanSize(rw)
			}
		}
	}
	format := o.format
	if format == "" {
		format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
		if o.size {
			format += "\t{{.Size}}"
		}
	}
	return writeTemplate(a.stdout, format, rows, psHeadings)
}

// statusText is podman's STATUS column.
func statusText(c *engine.Container) string {
	switch {
	case c.Paused():
		return "Paused"
	case c.Running():
		s := "Up " + units.HumanDuration(time.Since(c.State.StartedAt))
		if h := c.State.Health; h != nil {
			s += " (" + h.Status + ")"
		}
		if c.State.Error != "" {
			s += " (network down)"
		}
		return s
	case c.State.Status == container.StateCreated:
		return "Created"
	}
	if c.State.FinishedAt.IsZero() {
		// Its monitor died without recording the end: no time known.
		return fmt.Sprintf("Exited (%d)", c.State.ExitCode)
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

// stateText is podman's State: created, running or exited.
func stateText(c *engine.Container) string { return c.Status() }

func hasStatusFilter(filters []string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return strings.HasPrefix(f, "status=") })
}

// parsePsFilters parses --filter; filters of the same key are ORed, of
// different keys ANDed (podman).
func parsePsFilters(store *storage.Store, filters []string) ([]func(*engine.Container) bool, error) {
	byKey := map[string][]func(*engine.Container) bool{}
	var keys []string
	for _, f := range filters {
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", f)
		}
		var fn func(*engine.Container) bool
		switch key {
		case "status":
			switch value {
			case "created", "running", "paused", "exited":
			default:
				return nil, fmt.Errorf("invalid filter %q: status is created, running, paused or exited", f)
			}
			fn = func(c *engine.Container) bool { return stateText(c) == value }
		case "name":
			re, err := regexp.Compile(value)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", f, err)
			}
			fn = func(c *engine.Container) bool { return re.MatchString(c.Name) }
		case "id":
			fn = func(c *engine.Container) bool { return strings.HasPrefix(c.ID, value) }
		case "label":
			k, v, hasValue := strings.Cut(value, "=")
			fn = func(c *engine.Container) bool {
				got, ok := c.Labels[k]
				return ok && (!hasValue || got == v)
			}
		case "ancestor":
			id := value
			if store == nil {
				return nil, errors.New("internal error: the ancestor filter needs the store")
			}
			if img, err := store.LookupImage(value); err == nil {
				id = img.ID
			}
			fn = func(c *engine.Container) bool { return c.ImageID == id || c.Image == value }
		default:
			return nil, fmt.Errorf("invalid filter %q: supported filters are status, name, id, label and ancestor", f)
		}
		if _, seen := byKey[key]; !seen {
			keys = append(keys, key)
		}
		byKey[key] = append(byKey[key], fn)
	}
	var out []func(*engine.Container) bool
	for _, k := range keys {
		alts := byKey[k]
		out = append(out, func(c *engine.Container) bool {
			return slices.ContainsFunc(alts, func(f func(*engine.Container) bool) bool { return f(c) })
		})
	}
	return out, nil
}
