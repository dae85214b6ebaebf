package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Container logs use podman's k8s-file format, one record per line:
//
//	2024-05-01T10:00:00.123456789Z stdout F a complete line
//	2024-05-01T10:00:00.123456789Z stderr P a partial line without newline
//
// P records are concatenated with the following records of the stream up to
// an F record, which ends the line.

const (
	logFile    = "ctr.log"
	logRotated = "ctr.log.1"
)

// logWriter appends records to a container's log, rotating it to ctr.log.1
// when it would grow past maxSize (0: never).
type logWriter struct {
	mu      sync.Mutex
	dir     string
	f       *os.File
	size    int64
	maxSize int64
}

func openLog(dir string, maxSize int64) (*logWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{dir: dir, f: f, size: fi.Size(), maxSize: maxSize}, nil
}

// write records data from stream ("stdout" or "stderr"): complete lines
// as F records, a trailing partial line as a P record.
func (l *logWriter) write(stream string, data []byte) error {
	var buf bytes.Buffer
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		flag, line := "F", data
		if i < 0 {
			flag = "P"
			data = nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		fmt.Fprintf(&buf, "%s %s %s %s\n", ts, stream, flag, line)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxSize > 0 && l.size > 0 && l.size+int64(buf.Len()) > l.maxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(buf.Bytes())
	l.size += int64(n)
	return err
}

func (l *logWriter) rotate() error {
	if err := os.Rename(filepath.Join(l.dir, logFile), filepath.Join(l.dir, logRotated)); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(l.dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f, l.size = f, 0
	return nil
}

func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// LogLine is one line of container output.
type LogLine struct {
	Time   time.Time
	Stream string // stdout or stderr
	Text   string // without the newline
	// Partial is true for a last line that did not end in a newline.
	Partial bool
}

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
func (e *Engine) Logs(ctx context.Context, nameOrID string, o LogOptions, emit func(LogLine) error) error {
	c, err := e.Container(nameOrID)
	if err != nil {
		return err
	}
	dir, err := e.store.ContainerDir(c.ID)
	if err != nil {
		return err
	}
	var lines []LogLine
	collect := func(l LogLine) error {
		if l.Time.Before(o.Since) {
			return nil
		}
		lines = append(lines, l)
		return nil
	}
	if err := readLogFile(filepath.Join(dir, logRotated), collect); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, logFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never started: no output
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := newRecordReader(f)
	if err := r.each(collect); err != nil {
		return err
	}
	if !o.Follow {
		r.flushPartial(collect)
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
	since := func(l LogLine) error {
		if l.Time.Before(o.Since) {
			return nil
		}
		return emit(l)
	}
	for {
		if err := r.each(since); err != nil {
			return err
		}
		cur, err := e.Container(c.ID)
		if err != nil || !cur.Running() {
			// Read what the last moments wrote, then stop.
			return r.each(since)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readLogFile(path string, emit func(LogLine) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return newRecordReader(f).each(emit)
}

// recordReader parses k8s-file records, joining P records into lines.
// It can be called again after EOF to pick up what was appended since.
type recordReader struct {
	r       *bufio.Reader
	pending map[string]*LogLine // partial lines by stream
	carry   string              // an incomplete record at EOF
}

func newRecordReader(f *os.File) *recordReader {
	return &recordReader{r: bufio.NewReader(f), pending: map[string]*LogLine{}}
}

func (rr *recordReader) each(emit func(LogLine) error) error {
	for {
		s, err := rr.r.ReadString('\n')
		if err != nil {
			rr.carry += s
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		record := rr.carry + strings.TrimSuffix(s, "\n")
		rr.carry = ""
		ts, rest, ok1 := strings.Cut(record, " ")
		stream, rest, ok2 := strings.Cut(rest, " ")
		flag, text, ok3 := strings.Cut(rest, " ")
		if !ok1 || !ok2 || !ok3 {
			continue // not ours: skip rather than fail the whole log
		}
		t, _ := time.Parse(time.RFC3339Nano, ts)
		p := rr.pending[stream]
		if p == nil {
			p = &LogLine{Time: t, Stream: stream}
		}
		p.Text += text
		if flag == "P" {
			rr.pending[stream] = p
			continue
		}
		delete(rr.pending, stream)
		if err := emit(*p); err != nil {
			return err
		}
	}
}

// flushPartial emits lines still waiting for their end, marked Partial.
func (rr *recordReader) flushPartial(emit func(LogLine) error) {
	for _, stream := range []string{"stdout", "stderr"} {
		if p := rr.pending[stream]; p != nil {
			p.Partial = true
			_ = emit(*p)
			delete(rr.pending, stream)
		}
	}
}
