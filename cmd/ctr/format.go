package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
)

// templateFuncs are available in --format templates, as in podman.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// fieldRef finds {{.Field}} references, to derive table headings.
var fieldRef = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)

// writeTemplate renders each item with a Go template. A format starting
// with "table " also prints a heading line and aligns columns; headings
// maps field names to their column titles (default: the name in capitals).
func writeTemplate[T any](w io.Writer, format string, items []T, headings map[string]string) error {
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		table = true
		format = strings.TrimSpace(rest)
	}
	format = strings.ReplaceAll(format, `\t`, "\t")
	format = strings.ReplaceAll(format, `\n`, "\n")
	if !strings.HasSuffix(format, "\n") {
		format += "\n"
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Option("missingkey=error").Parse(format)
	if err != nil {
		return fmt.Errorf("invalid --format template: %w", err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		out = tw
		heading := fieldRef.ReplaceAllStringFunc(format, func(m string) string {
			field := fieldRef.FindStringSubmatch(m)[1]
			if h, ok := headings[field]; ok {
				return h
			}
			return strings.ToUpper(field)
		})
		if _, err := io.WriteString(out, heading); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	for _, it := range items {
		buf.Reset()
		if err := tmpl.Execute(&buf, it); err != nil {
			// As docker does, try the item's JSON form: field names as
			// the JSON output spells them ({{.Id}} as well as {{.ID}}).
			buf.Reset()
			if executeOnJSON(tmpl, &buf, it) != nil {
				return fmt.Errorf("invalid --format template: %w", err)
			}
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// writeRows prints rows (the first is the heading) as aligned columns.
func writeRows(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// executeOnJSON renders tmpl with v decoded from its JSON encoding.
func executeOnJSON(tmpl *template.Template, w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	return tmpl.Execute(w, raw)
}
