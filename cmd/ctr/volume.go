package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/oci"
	"github.com/ctr-project/ctr/pkg/volume"
	"github.com/spf13/cobra"
)

func newVolumeCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage named volumes",
		Long:  "Named volumes are directories under ctr's data directory that containers mount (-v NAME:/path) and that outlive them.",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVolumeCreateCommand(a), newVolumeLsCommand(a), newVolumeInspectCommand(a),
		newVolumeRmCommand(a), newVolumePruneCommand(a))
	return cmd
}

func newVolumeCreateCommand(a *app) *cobra.Command {
	var labels []string
	var ignore bool
	cmd := &cobra.Command{
		Use:   "create [options] [NAME]",
		Short: "Create a volume (with a random name when none is given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
				if err := volume.ValidateName(name); err != nil {
					return err
				}
			}
			l, err := keyValues("--label", labels)
			if err != nil {
				return &usageError{err: err, commandPath: cmd.CommandPath()}
			}
			return a.withEngine(func(e *engine.Engine) error {
				v, err := e.Volumes().Create(name, volume.CreateOptions{Labels: l, IgnoreExisting: ignore})
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, v.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label KEY=VALUE")
	cmd.Flags().BoolVar(&ignore, "ignore", false, "do nothing if the volume exists")
	return needsUserNS(cmd, userNSRequired)
}

// volumeRow is one line of `ctr volume ls`.
type volumeRow struct {
	Name, Driver, Mountpoint, CreatedAt string
	Labels                              map[string]string
}

func newVolumeLsCommand(a *app) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [options]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withEngine(func(e *engine.Engine) error {
				vs, err := e.Volumes().List()
				if err != nil {
					return err
				}
				switch {
				case quiet:
					for _, v := range vs {
						fmt.Fprintln(a.stdout, v.Name)
					}
					return nil
				case format == "json":
					if vs == nil {
						vs = []*volume.Volume{}
					}
					return writeJSON(a.stdout, vs)
				}
				rows := make([]volumeRow, 0, len(vs))
				for _, v := range vs {
					rows = append(rows, volumeRow{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt.Format(time.RFC3339), Labels: v.Labels})
				}
				if format == "" {
					format = "table {{.Driver}}\t{{.Name}}"
				}
				return writeTemplate(a.stdout, format, rows, map[string]string{"Name": "VOLUME NAME"})
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only volume names")
	cmd.Flags().StringVar(&format, "format", "", "output format: a Go template, \"table TEMPLATE\" or \"json\"")
	return needsUserNS(cmd, userNSRequired)
}

func newVolumeInspectCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [options] NAME...",
		Short: "Show details of volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEngine(func(e *engine.Engine) error {
				var vs []*volume.Volume
				var errs []error
				for _, n := range args {
					v, err := e.Volumes().Get(n)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					vs = append(vs, v)
				}
				return writeInspect(a, format, vs, errs)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "render with a Go template instead of JSON")
	return needsUserNS(cmd, userNSRequired)
}

func newVolumeRmCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [options] NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove volumes",
		Long:    "Remove volumes. One in use by a container is removed only with --force, which removes those containers first.",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withEngine(func(e *engine.Engine) error {
				return eachContainer(a, args, func(n string) (string, error) {
					return n, e.RemoveVolume(n, force)
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "also remove containers using the volume")
	return needsUserNS(cmd, userNSRequired)
}

func newVolumePruneCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [options]",
		Short: "Remove volumes no container uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force && !confirm(a.stdin, a.stderr, "WARNING! This will remove all volumes not used by at least one container.") {
				return nil
			}
			return a.withEngine(func(e *engine.Engine) error {
				removed, err := e.PruneVolumes()
				for _, n := range removed {
					fmt.Fprintln(a.stdout, n)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return needsUserNS(cmd, userNSRequired)
}

// parseVolumeFlag parses one -v: a bind mount, a named volume
// (NAME:/path[:opts]) or an anonymous volume (/path[:opts]).
func parseVolumeFlag(spec, cwd string) (*oci.Mount, *engine.VolumeMount, error) {
	m, err := oci.ParseVolume(spec, cwd)
	if err == nil {
		return &m, nil, nil
	}
	if !errors.Is(err, oci.ErrNamedVolume) {
		return nil, nil, err
	}
	name, rest, hasDest := strings.Cut(spec, ":")
	if !hasDest || strings.HasPrefix(name, "/") {
		// -v /path[:opts]: an anonymous volume.
		name, rest = "", spec
	} else if err := volume.ValidateName(name); err != nil {
		return nil, nil, err
	}
	// Reuse the bind parser to check the destination and options.
	pm, err := oci.ParseVolume("/volume:"+rest, cwd)
	if err != nil {
		return nil, nil, fmt.Errorf("volume %q: %w", spec, errors.Unwrap(err))
	}
	var opts []string
	for _, o := range pm.Options {
		if o != "rbind" && o != "bind" {
			opts = append(opts, o)
		}
	}
	return nil, &engine.VolumeMount{Name: name, Destination: pm.Destination, Options: opts}, nil
}

// parseMountFlag parses --mount type=bind|volume|tmpfs,source=...,target=...
func parseMountFlag(spec, cwd string) (*oci.Mount, *engine.VolumeMount, error) {
	fields := map[string]string{}
	readonly := false
	var tmpfsOpts []string
	for _, f := range strings.Split(spec, ",") {
		k, v, hasValue := strings.Cut(f, "=")
		switch k {
		case "type", "source", "src", "target", "destination", "dst", "bind-propagation":
			if !hasValue {
				return nil, nil, fmt.Errorf("invalid --mount %q: %s needs a value", spec, k)
			}
			fields[k] = v
		case "readonly", "ro":
			readonly = !hasValue || v == "true"
		case "tmpfs-size":
			tmpfsOpts = append(tmpfsOpts, "size="+v)
		case "tmpfs-mode":
			tmpfsOpts = append(tmpfsOpts, "mode="+v)
		default:
			return nil, nil, fmt.Errorf("invalid --mount %q: unknown option %q", spec, k)
		}
	}
	src := first(fields["source"], fields["src"])
	dst := first(fields["target"], fields["destination"], fields["dst"])
	if dst == "" {
		return nil, nil, fmt.Errorf("invalid --mount %q: target is required", spec)
	}
	mode := "rw"
	if readonly {
		mode = "ro"
	}
	switch fields["type"] {
	case "bind":
		if src == "" {
			return nil, nil, fmt.Errorf("invalid --mount %q: a bind needs a source", spec)
		}
		if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
			src = "./" + src
		}
		opts := mode
		if p := fields["bind-propagation"]; p != "" {
			opts += "," + p
		}
		return parseVolumeFlag(src+":"+dst+":"+opts, cwd)
	case "volume", "":
		if src == "" {
			return parseVolumeFlag(dst+":"+mode, cwd)
		}
		return parseVolumeFlag(src+":"+dst+":"+mode, cwd)
	case "tmpfs":
		t := dst
		if len(tmpfsOpts) > 0 {
			t += ":" + strings.Join(tmpfsOpts, ",")
		}
		m, err := oci.ParseTmpfs(t)
		if err != nil {
			return nil, nil, err
		}
		return &m, nil, nil
	}
	return nil, nil, fmt.Errorf("invalid --mount %q: type must be bind, volume or tmpfs", spec)
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
