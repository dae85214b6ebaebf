package main

import (
	"errors"
	"fmt"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/sirupsen/logrus"
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
			if a.onHost {
				// Containers can be read from the host; images need the
				// store.
				items, errs, err := inspectContainersOnHost(a, args, typ)
				if err == nil {
					return writeInspect(a, format, items, errs)
				}
				logrus.Debugf("inspect: running in the user namespace: %v", err)
				return a.rerunInUserNS(cmd)
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
				return writeInspect(a, format, items, errs)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "render with a Go template instead of JSON")
	if kind == "" {
		cmd.Flags().StringVarP(&typ, "type", "t", "all", "what to inspect: container or image")
	}
	return needsUserNS(cmd, userNSHostFirst)
}

// writeInspect prints what an inspect command found (a JSON array, or each
// item through a --format template), then returns the lookup errors.
func writeInspect[T any](a *app, format string, items []T, errs []error) error {
	var err error
	if format == "" || format == "json" {
		if items == nil {
			items = []T{}
		}
		err = writeJSON(a.stdout, items)
	} else {
		err = writeTemplate(a.stdout, format, items, nil)
	}
	return errors.Join(append(errs, err)...)
}

// inspectContainersOnHost inspects names as containers from the store's
// index. It fails, and the caller enters the namespace, when the index
// cannot be read, when images are asked for, or when a name is no container
// and may be an image.
func inspectContainersOnHost(a *app, names []string, typ string) ([]any, []error, error) {
	if typ == "image" {
		return nil, nil, errors.New("images need the store")
	}
	r, err := a.hostReader()
	if err != nil {
		return nil, nil, err
	}
	var items []any
	var errs []error
	for _, n := range names {
		ci, err := r.Inspect(n)
		switch {
		case err == nil:
			items = append(items, ci)
		case typ == "container" || !errors.Is(err, storage.ErrContainerUnknown):
			errs = append(errs, err)
		default:
			return nil, nil, fmt.Errorf("%q is no container and may be an image", n)
		}
	}
	return items, errs, nil
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
