package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// pullProgress renders storage.PullEvents: bars on a terminal, plain lines
// otherwise, nothing with -q.
type pullProgress struct {
	mu    sync.Mutex
	w     io.Writer
	bars  *mpb.Progress
	bar   map[string]*mpb.Bar
	quiet bool
}

func newPullProgress(ctx context.Context, w io.Writer, quiet bool) *pullProgress {
	p := &pullProgress{w: w, quiet: quiet, bar: map[string]*mpb.Bar{}}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.bars = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40))
	}
	return p
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	return d[:min(12, len(d))]
}

func (p *pullProgress) event(ev storage.PullEvent) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bars == nil {
		p.line(ev)
		return
	}
	switch ev.Kind {
	case storage.PullLayerStart:
		p.bar[ev.Digest] = p.bars.AddBar(ev.Total,
			mpb.PrependDecorators(decor.Name("Copying blob "+shortDigest(ev.Digest)+" ")),
			mpb.AppendDecorators(decor.OnComplete(decor.CountersKibiByte("% .1f / % .1f"), "done")))
	case storage.PullLayerBytes:
		if b := p.bar[ev.Digest]; b != nil {
			b.SetCurrent(ev.Current)
		}
	case storage.PullLayerDone:
		if b := p.bar[ev.Digest]; b != nil {
			b.SetTotal(-1, true)
		}
	default:
		p.line(ev)
	}
}

// line prints the plain-text form of an event, as podman does without a
// terminal.
func (p *pullProgress) line(ev storage.PullEvent) {
	out := p.w
	if p.bars != nil {
		out = p.bars // print above the bars
	}
	switch ev.Kind {
	case storage.PullResolving:
		fmt.Fprintf(out, "Trying to pull %s...\n", ev.Ref)
	case storage.PullLayerExists:
		fmt.Fprintf(out, "Copying blob %s skipped: already exists\n", shortDigest(ev.Digest))
	case storage.PullLayerDone:
		fmt.Fprintf(out, "Copying blob %s done\n", shortDigest(ev.Digest))
	case storage.PullConfig:
		fmt.Fprintf(out, "Copying config %s done\n", shortDigest(ev.Digest))
	case storage.PullWriting:
		fmt.Fprintln(out, "Writing manifest to image destination")
	}
}

// done waits for the bars to finish drawing.
func (p *pullProgress) done() {
	if p.bars != nil {
		p.bars.Wait()
	}
}
