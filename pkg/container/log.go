package container

import (
	"bufio"
	"bytes"
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
// an F record, which ends the line. The monitor writes the log; ctr reads it.

// The log files, in the container's persistent directory.
const (
	LogFile    = "ctr.log"
	LogRotated = "ctr.log.1"
)

// LogWriter appends records to a container's log, rotating it to
// LogRotated when it would grow past its maximum size.
type LogWriter struct {
	mu      sync.Mutex
	dir     string
	f       *os.File
	size    int64
	maxSize int64
}

// OpenLog opens the log in the container directory dir for appending;
// maxSize 0 never rotates.
func OpenLog(dir string, maxSize int64) (*LogWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &LogWriter{dir: dir, f: f, size: fi.Size(), maxSize: maxSize}, nil
}

// Write records data from stream ("stdout" or "stderr"): complete lines
// as F records, a trailing partial line as a P record.
func (l *LogWriter) Write(stream string, data []byte) error {
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

func (l *LogWriter) rotate() error {
	if err := os.Rename(filepath.Join(l.dir, LogFile), filepath.Join(l.dir, LogRotated)); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(l.dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f, l.size = f, 0
	return nil
}

// Close closes the log.
func (l *LogWriter) Close() error {
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

// ReadLogFile emits every complete line of the log file at path; a
// missing file has none.
func ReadLogFile(path string, emit func(LogLine) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return NewLogReader(f).Each(emit)
}

// LogReader parses k8s-file records, joining P records into lines. Each
// can be called again after EOF to pick up what was appended since.
type LogReader struct {
	r       *bufio.Reader
	pending map[string]*LogLine // partial lines by stream
	carry   string              // an incomplete record at EOF
}

// NewLogReader reads records from r.
func NewLogReader(r io.Reader) *LogReader {
	return &LogReader{r: bufio.NewReader(r), pending: map[string]*LogLine{}}
}

// Each emits the complete lines up to the end of what is written so far.
func (rr *LogReader) Each(emit func(LogLine) error) error {
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

// FlushPartial emits lines still waiting for their end, marked Partial.
func (rr *LogReader) FlushPartial(emit func(LogLine) error) {
	for _, stream := range []string{"stdout", "stderr"} {
		if p := rr.pending[stream]; p != nil {
			p.Partial = true
			_ = emit(*p)
			delete(rr.pending, stream)
		}
	}
}
