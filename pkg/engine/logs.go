package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
)

// LogOptions configure Logs.
type LogOptions struct {
	Follow bool
	// Tail keeps only the last Tail lines (negative: all).
	Tail int
	// Since drops lines before this time.
	Since time.Time
}

// Logs streams a container's output lines to emit. With Follow it keeps
// reading until the container stops running (or ctx ends).
func (rd *Reader) Logs(ctx context.Context, nameOrID string, o LogOptions, emit func(container.LogLine) error) error {
	c, err := rd.Container(nameOrID)
	if err != nil {
		return err
	}
	dir := c.dir
	var lines []container.LogLine
	collect := func(l container.LogLine) error {
		if l.Time.Before(o.Since) {
			return nil
		}
		lines = append(lines, l)
		return nil
	}
	if err := container.ReadLogFile(filepath.Join(dir, container.LogRotated), collect); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, container.LogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never started: no output
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := container.NewLogReader(f)
	if err := r.Each(collect); err != nil {
		return err
	}
	if !o.Follow {
		r.FlushPartial(collect)
	}
	if o.Tail >= 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	since := func(l container.LogLine) error {
		if l.Time.Before(o.Since) {
			return nil
		}
		return emit(l)
	}
	for {
		if err := r.Each(since); err != nil {
			return err
		}
		cur, err := rd.Container(c.ID)
		if err != nil || !cur.Running() {
			// Read what the last moments wrote, then stop.
			return r.Each(since)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}
