package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update", false, "regenerate docs/cli and docs/man from the command tree")

// TestDocsUpToDate regenerates the command reference (markdown and man
// pages) from the cobra tree and fails when the committed copy differs, so
// help text and documentation cannot drift. `make docs` rewrites them.
func TestDocsUpToDate(t *testing.T) {
	for _, kind := range []string{"cli", "man"} {
		dir := filepath.Join("..", "..", "docs", kind)
		gen := t.TempDir()
		root := newRootCommand(nil, nil, io.Discard, io.Discard)
		var err error
		if kind == "cli" {
			err = doc.GenMarkdownTree(root, gen)
		} else {
			date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			err = doc.GenManTree(root, &doc.GenManHeader{Title: "CTR", Section: "1", Source: "ctr", Manual: "ctr manual", Date: &date}, gen)
		}
		if err != nil {
			t.Fatal(err)
		}
		if *updateDocs {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.CopyFS(dir, os.DirFS(gen)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		compareDirs(t, gen, dir)
	}
}

func compareDirs(t *testing.T, want, have string) {
	t.Helper()
	wantFiles, _ := filepath.Glob(filepath.Join(want, "*"))
	haveFiles, _ := filepath.Glob(filepath.Join(have, "*"))
	if len(wantFiles) != len(haveFiles) {
		t.Errorf("%s has %d files, the command tree generates %d: run `make docs`", have, len(haveFiles), len(wantFiles))
	}
	for _, w := range wantFiles {
		gen, _ := os.ReadFile(w)
		committed, err := os.ReadFile(filepath.Join(have, filepath.Base(w)))
		if err != nil || !bytes.Equal(gen, committed) {
			t.Errorf("%s is out of date: run `make docs`", filepath.Join(have, filepath.Base(w)))
		}
	}
}
