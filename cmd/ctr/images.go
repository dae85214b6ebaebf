package main

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

type imagesOptions struct {
	all, quiet, digests, noTrunc bool
	filters                      []string
	format                       string
}

func newImagesCommand(a *app) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     "images [options] [REFERENCE]",
		Aliases: []string{"list"},
		Short:   "List images in local storage",
		Long: "List images in local storage, newest first.\n\n" +
			"Filters: reference=PATTERN (glob over repository[:tag]), dangling=true|false.\n" +
			"--format takes a Go template over .ID .Repository .Tag .Digest .CreatedSince .CreatedAt .Size .Dangling,\n" +
			"\"table TEMPLATE\" for aligned columns with headings, or \"json\".",
		Example: "  ctr images\n  ctr images --filter dangling=true -q\n  ctr images --format '{{.Repository}}:{{.Tag}} {{.Size}}'",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return a.withStore(func(s *storage.Store) error { return listImages(a, s, o) })
		},
	}
	addImagesFlags(cmd, &o)
	return needsUserNS(cmd, userNSRequired)
}

func addImagesFlags(cmd *cobra.Command, o *imagesOptions) {
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "also show intermediate images")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only image IDs")
	f.BoolVar(&o.digests, "digests", false, "show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output (reference=PATTERN, dangling=true|false)")
	f.StringVar(&o.format, "format", "", "output format: a Go template, \"table TEMPLATE\" or \"json\"")
}

// imageFilter is a parsed --filter.
type imageFilter func(*storage.Image) bool

func parseImageFilters(filters []string) ([]imageFilter, error) {
	var out []imageFilter
	for _, f := range filters {
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", f)
		}
		switch key {
		case "reference":
			if _, err := path.Match(value, ""); err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", f, err)
			}
			out = append(out, func(img *storage.Image) bool { return matchesReference(img, value) })
		case "dangling":
			want, err := parseBool(value)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", f, err)
			}
			out = append(out, func(img *storage.Image) bool { return img.Dangling() == want })
		default:
			return nil, fmt.Errorf("invalid filter %q: supported filters are reference and dangling", f)
		}
	}
	return out, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// matchesReference matches a glob against each of the image's names in full
// form, familiar form (busybox:latest) and without tag.
func matchesReference(img *storage.Image, pattern string) bool {
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		candidates := []string{n, named.Name(), reference.FamiliarString(named), reference.FamiliarName(named)}
		if !strings.Contains(pattern, "/") {
			// "busybox" matches localhost/busybox too.
			candidates = append(candidates, path.Base(reference.Path(named)), path.Base(reference.FamiliarString(named)))
		}
		for _, c := range candidates {
			if ok, _ := path.Match(pattern, c); ok {
				return true
			}
		}
	}
	return false
}

// imageRow is one line of `ctr images`, with the fields --format sees.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	Created      time.Time
	CreatedSince string
	CreatedAt    string
	Size         string
	Dangling     bool
	IsReadOnly   bool
}

// imageJSON is `ctr images --format json`, with podman's field names.
type imageJSON struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Size        int64             `json:"Size"`
	VirtualSize int64             `json:"VirtualSize"`
	Labels      map[string]string `json:"Labels"`
	Names       []string          `json:"Names"`
	Digest      string            `json:"Digest"`
	Dangling    bool              `json:"Dangling"`
	Created     int64             `json:"Created"`
	CreatedAt   string            `json:"CreatedAt"`
}

var imageHeadings = map[string]string{
	"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "IsReadOnly": "R/O",
}

func listImages(a *app, s *storage.Store, o imagesOptions) error {
	filters, err := parseImageFilters(o.filters)
	if err != nil {
		return err
	}
	all, err := s.Images()
	if err != nil {
		return err
	}
	var images []*storage.Image
	for _, img := range all {
		if img.Intermediate && !o.all {
			continue
		}
		if slices.ContainsFunc(filters, func(f imageFilter) bool { return !f(img) }) {
			continue
		}
		images = append(images, img)
	}

	switch {
	case o.quiet:
		for _, img := range images {
			fmt.Fprintln(a.stdout, displayID(img.ID, o.noTrunc))
		}
		return nil
	case o.format == "json":
		out := make([]imageJSON, 0, len(images))
		for _, img := range images {
			j := imageJSON{
				ID: img.ID, RepoTags: img.RepoTags(), RepoDigests: img.RepoDigests(), Size: img.Size, VirtualSize: img.Size,
				Names: img.Names, Digest: img.Digest.String(), Dangling: img.Dangling(),
				Created: img.Created.Unix(), CreatedAt: img.Created.Format(time.RFC3339Nano),
			}
			if cfg, err := s.ImageConfig(img); err == nil {
				j.Labels = cfg.Config.Labels
			}
			out = append(out, j)
		}
		return writeJSON(a.stdout, out)
	}

	var rows []imageRow
	for _, img := range images {
		rows = append(rows, imageRows(img, o.noTrunc)...)
	}
	format := o.format
	if format == "" {
		format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if o.digests {
			format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
	}
	return writeTemplate(a.stdout, format, rows, imageHeadings)
}

func displayID(id string, noTrunc bool) string {
	if noTrunc {
		return "sha256:" + id
	}
	return id[:min(12, len(id))]
}

// imageRows returns one row per repository:tag, or one <none> row.
func imageRows(img *storage.Image, noTrunc bool) []imageRow {
	base := imageRow{
		ID:           displayID(img.ID, noTrunc),
		Digest:       img.Digest.String(),
		Created:      img.Created,
		CreatedSince: units.HumanDuration(time.Since(img.Created)) + " ago",
		CreatedAt:    img.Created.Format("2006-01-02 15:04:05 -0700 MST"),
		Size:         humanSize(img.Size),
		Dangling:     img.Dangling(),
		Repository:   "<none>",
		Tag:          "<none>",
	}
	var rows []imageRow
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		r := base
		r.Repository = named.Name()
		if t, ok := named.(reference.Tagged); ok {
			r.Tag = t.Tag()
		} else if slices.ContainsFunc(rows, func(x imageRow) bool { return x.Repository == r.Repository }) {
			continue // repo@digest when repo:tag is already listed
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		rows = append(rows, base)
	}
	return rows
}

// humanSize formats like podman: three significant digits and a space
// before the unit ("4.87 MB").
func humanSize(n int64) string {
	s := units.HumanSizeWithPrecision(float64(n), 3)
	i := strings.LastIndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	return s[:i+1] + " " + s[i+1:]
}
