package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

type row struct {
	A, B string
	N    int
	L    []string
}

var rows = []row{
	{A: "x", B: "longer", N: 1, L: []string{"p", "q"}},
	{A: "longvalue", B: "y", N: 22},
}

func TestWriteTemplate(t *testing.T) {
	tests := []struct {
		name     string
		format   string
		items    []row
		headings map[string]string
		want     string
	}{
		{
			name:     "table with headings aligned",
			format:   "table {{.A}}\t{{.B}}",
			items:    rows,
			headings: map[string]string{"A": "COL A"},
			want: "COL A      B\n" +
				"x          longer\n" +
				"longvalue  y\n",
		},
		{
			name:   "table with an escaped tab as typed in a shell",
			format: `table {{.A}}\t{{.N}}\t{{.B}}`,
			items:  rows,
			want: "A          N   B\n" +
				"x          1   longer\n" +
				"longvalue  22  y\n",
		},
		{
			name:   "table with spaces inside the actions",
			format: "table {{ .B }}\t{{ .A }}",
			items:  rows,
			want: "B       A\n" +
				"longer  x\n" +
				"y       longvalue\n",
		},
		{
			name:     "table with no rows prints the heading",
			format:   "table {{.A}}\t{{.B}}",
			items:    nil,
			headings: map[string]string{"B": "BEE"},
			want:     "A  BEE\n",
		},
		{
			name:   "plain template prints one line per item",
			format: "{{.A}}:{{.B}}",
			items:  rows,
			want:   "x:longer\nlongvalue:y\n",
		},
		{
			name:   "plain template with its own newline",
			format: "{{.A}}\n",
			items:  rows,
			want:   "x\nlongvalue\n",
		},
		{
			name:   "escaped newline",
			format: `{{.A}}\n{{.B}}`,
			items:  rows[:1],
			want:   "x\nlonger\n",
		},
		{
			name:   "no items print nothing",
			format: "{{.A}}",
			items:  nil,
			want:   "",
		},
		{
			name:   "a word starting with table is not a table",
			format: "tablet {{.A}}",
			items:  rows,
			want:   "tablet x\ntablet longvalue\n",
		},
		{
			name:   "functions",
			format: `{{upper .A}} {{lower "ABC"}} {{join .L ","}} {{truncate .B 3}} {{json .L}}`,
			items:  rows[:1],
			want:   "X abc p,q lon [\"p\",\"q\"]\n",
		},
		{
			name:   "truncate leaves short strings alone",
			format: `{{truncate .A 3}}`,
			items:  rows[:1],
			want:   "x\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeTemplate(&buf, tt.format, tt.items, tt.headings); err != nil {
				t.Fatalf("writeTemplate(%q) error = %v", tt.format, err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("writeTemplate(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
}

func TestWriteTemplateErrors(t *testing.T) {
	tests := []struct {
		name   string
		format string
	}{
		{"unclosed action", "{{.A"},
		{"unknown function", "{{nosuchfunc .A}}"},
		{"unknown field", "{{.Nope}}"},
		{"unknown field in a table", "table {{.A}}\t{{.Nope}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := writeTemplate(io.Discard, tt.format, rows, nil)
			if err == nil || !strings.Contains(err.Error(), "invalid --format template") {
				t.Errorf("writeTemplate(%q) = %v, want an error containing %q", tt.format, err, "invalid --format template")
			}
		})
	}

	t.Run("unknown map key", func(t *testing.T) {
		items := []map[string]string{{"a": "1"}}
		if err := writeTemplate(io.Discard, "{{.b}}", items, nil); err == nil {
			t.Errorf("writeTemplate(%q) on a map without b = nil, want an error (missingkey=error)", "{{.b}}")
		}
	})

	t.Run("write error", func(t *testing.T) {
		errFull := errors.New("disk full")
		if err := writeTemplate(failingWriter{errFull}, "{{.A}}", rows, nil); !errors.Is(err, errFull) {
			t.Errorf("writeTemplate to a failing writer = %v, want %v", err, errFull)
		}
		if err := writeTemplate(failingWriter{errFull}, "table {{.A}}", rows, nil); !errors.Is(err, errFull) {
			t.Errorf("writeTemplate(table) to a failing writer = %v, want %v", err, errFull)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, rows); err != nil {
		t.Fatalf("writeJSON(%v) error = %v", rows, err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "}\n]\n") {
		t.Errorf("writeJSON(%v) = %q, want it to end with a newline", rows, out)
	}
	if !strings.Contains(out, "\n    {\n        \"A\": \"x\",") {
		t.Errorf("writeJSON(%v) = %q, want four-space indentation", rows, out)
	}
	var back []row
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("writeJSON(%v) output does not parse: %v\n%s", rows, err, out)
	}
	if !reflect.DeepEqual(back, rows) {
		t.Errorf("writeJSON(%v) round trip = %v, want %v", rows, back, rows)
	}

	buf.Reset()
	if err := writeJSON(&buf, []row{}); err != nil || buf.String() != "[]\n" {
		t.Errorf("writeJSON([]) = %q, %v, want %q, nil", buf.String(), err, "[]\n")
	}
	if err := writeJSON(io.Discard, func() {}); err == nil {
		t.Errorf("writeJSON(func) = nil, want an error")
	}
}

// TestWriteTemplateJSONNames: a field can be named as the JSON output spells
// it (docker's fallback), and a failing item writes nothing.
func TestWriteTemplateJSONNames(t *testing.T) {
	type state struct {
		ExitCode int `json:"ExitCode"`
	}
	type item struct {
		ID    string `json:"Id"`
		State state  `json:"State"`
	}
	items := []item{{ID: "abc", State: state{ExitCode: 3}}}
	for format, want := range map[string]string{
		"{{.ID}}":                     "abc\n",
		"{{.Id}}":                     "abc\n",
		"{{.Id}} {{.State.ExitCode}}": "abc 3\n",
	} {
		var buf bytes.Buffer
		if err := writeTemplate(&buf, format, items, nil); err != nil || buf.String() != want {
			t.Errorf("writeTemplate(%q) = %q, %v; want %q", format, buf.String(), err, want)
		}
	}
	var buf bytes.Buffer
	if err := writeTemplate(&buf, "{{.ID}} {{.Nope}}", items, nil); err == nil || buf.Len() != 0 {
		t.Errorf("writeTemplate with an unknown field = %q, %v; want an error and no output", buf.String(), err)
	}
}
