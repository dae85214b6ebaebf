package main

import (
	"errors"
	"fmt"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/spf13/cobra"
)

// newInspectCommand is `ctr inspect` (kind "": containers, then images)
// and `ctr container inspect` (kind "container").
func newInspectCommand(a *app, kind string) *cobra.Command {
	var format, typ string
	cmd := &cobra.Command{
		Use:   "inspect [options] NAME...",
		Short: "Show details of containers or images",
		Long: "Show details as a JSON array, or render each with a Go template (--format). A name is looked up\n" +
			"as a container first, then as an image, unless --type says which.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" {
				typ = kind
			}
			switch typ {
			case "", "all", "container", "image":
			default:
				return &usageError{err: fmt.Errorf("invalid --type %q: want container or image", typ), commandPath: cmd.CommandPath()}
			}
			return a.withEngine(func(e *engine.Engine) error {
				var items []any
				var errs []error
				for _, n := range args {
					item, err := inspectOne(e, n, typ)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					items = append(items, item)
				}
				var err error
				if format == "" || format == "json" {
					if items == nil {
						items = []any{}
					}
					err = writeJSON(a.stdout, items)
				} else {
					err = writeTemplate(a.stdout, format, items, nil)
				}
				return errors.Join(append(errs, err)...)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "render with a Go template instead of JSON")
	if kind == "" {
		cmd.Flags().StringVarP(&typ, "type", "t", "all", "what to inspect: container or image")
	}
	return needsUserNS(cmd, userNSRequired)
}

func inspectOne(e *engine.Engine, name, typ string) (any, error) {
	if typ != "image" {
		ci, err := e.Inspect(name)
		if err == nil || typ == "container" || !errors.Is(err, storage.ErrContainerUnknown) {
			return ci, err
		}
	}
	img, err := e.Store().LookupImage(name)
	if err != nil {
		if typ == "image" {
			return nil, err
		}
		return nil, fmt.Errorf("no such object: %q", name)
	}
	return e.Store().Details(img)
}
