package container

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    RestartPolicy
		wantErr bool
	}{
		{"", RestartPolicy{Name: "no"}, false},
		{"no", RestartPolicy{Name: "no"}, false},
		{"always", RestartPolicy{Name: "always"}, false},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, false},
		{"on-failure", RestartPolicy{Name: "on-failure"}, false},
		{"on-failure:3", RestartPolicy{Name: "on-failure", MaxRetries: 3}, false},
		{"on-failure:-1", RestartPolicy{}, true},
		{"always:3", RestartPolicy{}, true},
		{"sometimes", RestartPolicy{}, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseRestartPolicy(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRestartPolicy(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestStateFiles(t *testing.T) {
	t.Run("a container that never started reads as created", func(t *testing.T) {
		s, err := ReadState(t.TempDir())
		if err != nil || s.Status != StateCreated {
			t.Fatalf("ReadState(empty dir) = %+v, %v, want status %q", s, err, StateCreated)
		}
	})
	t.Run("written state reads back and leaves no temp file", func(t *testing.T) {
		dir := t.TempDir()
		want := State{Status: StateRunning, Pid: 42, RestartCount: 2, Health: &Health{Status: "healthy"}}
		if err := WriteState(dir, &want, true); err != nil {
			t.Fatal(err)
		}
		got, err := ReadState(dir)
		if err != nil || got.Status != want.Status || got.Pid != want.Pid || got.RestartCount != 2 || got.Health == nil || got.Health.Status != "healthy" {
			t.Fatalf("ReadState after WriteState(%+v) = %+v, %v", want, got, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != StateFile {
			t.Errorf("directory holds %v, want only %s", entries, StateFile)
		}
	})
	t.Run("a corrupt state file is an error", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadState(dir); err == nil {
			t.Error("ReadState(corrupt) = nil error, want one")
		}
	})
}

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid(), 0) {
		t.Errorf("Alive(self, 0) = false, want true")
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Errorf("Alive(0 or -1) = true, want false")
	}
	if Alive(os.Getpid(), 1) {
		t.Errorf("Alive(self, wrong start time) = true, want false")
	}
	s := State{Status: StateRunning, MonitorPid: os.Getpid()}
	if !s.Running() {
		t.Errorf("State{running, live monitor}.Running() = false, want true")
	}
	s.MonitorStart = 1
	if s.Running() {
		t.Errorf("State{running, recycled monitor pid}.Running() = true, want false")
	}
}

func TestLog(t *testing.T) {
	t.Run("complete and partial lines read back per stream", func(t *testing.T) {
		dir := t.TempDir()
		l, err := OpenLog(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct{ stream, data string }{
			{"stdout", "one\ntw"}, {"stderr", "err\n"}, {"stdout", "o\nthree"},
		} {
			if err := l.Write(w.stream, []byte(w.data)); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		f, err := os.Open(filepath.Join(dir, LogFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got []string
		emit := func(l LogLine) error {
			s := l.Stream + ":" + l.Text
			if l.Partial {
				s += "(partial)"
			}
			got = append(got, s)
			return nil
		}
		r := NewLogReader(f)
		if err := r.Each(emit); err != nil {
			t.Fatal(err)
		}
		r.FlushPartial(emit)
		want := "stdout:one stderr:err stdout:two stdout:three(partial)"
		if strings.Join(got, " ") != want {
			t.Errorf("log lines = %q, want %q", strings.Join(got, " "), want)
		}
	})
	t.Run("rotation keeps one old file", func(t *testing.T) {
		dir := t.TempDir()
		l, err := OpenLog(dir, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for range 5 {
			if err := l.Write("stdout", []byte(strings.Repeat("x", 30)+"\n")); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{LogFile, LogRotated} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.Size() == 0 || fi.Size() > 100 {
				t.Errorf("%s: %v, %v; want between 1 and 100 bytes", name, fi, err)
			}
		}
		n := 0
		for _, name := range []string{LogRotated, LogFile} {
			if err := ReadLogFile(filepath.Join(dir, name), func(LogLine) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 || n >= 5 {
			t.Errorf("rotated logs hold %d lines, want fewer than the 5 written (the oldest dropped)", n)
		}
	})
	t.Run("a record written in two pieces is read once complete", func(t *testing.T) {
		var buf bytes.Buffer
		r := NewLogReader(&buf)
		var got []LogLine
		emit := func(l LogLine) error { got = append(got, l); return nil }
		ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
		buf.WriteString(ts + " stdout F hal")
		if err := r.Each(emit); err != nil || len(got) != 0 {
			t.Fatalf("Each(half a record) emitted %v, %v; want nothing yet", got, err)
		}
		buf.WriteString("f\n")
		if err := r.Each(emit); err != nil || len(got) != 1 || got[0].Text != "half" || got[0].Time.Year() != 2024 {
			t.Fatalf("Each(rest of the record) emitted %+v, %v; want one line %q", got, err, "half")
		}
	})
	t.Run("a missing log has no lines", func(t *testing.T) {
		if err := ReadLogFile(filepath.Join(t.TempDir(), LogFile), func(LogLine) error { return errors.New("called") }); err != nil {
			t.Errorf("ReadLogFile(missing) = %v, want nil", err)
		}
	})
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	for _, f := range []struct {
		typ     byte
		payload string
	}{{FrameAttach, ""}, {FrameStdout, "hello"}, {FrameExit, "\x00\x00\x00\x07"}} {
		if err := WriteFrame(&buf, f.typ, []byte(f.payload)); err != nil {
			t.Fatal(err)
		}
		typ, payload, err := ReadFrame(&buf)
		if err != nil || typ != f.typ || string(payload) != f.payload {
			t.Errorf("ReadFrame(WriteFrame(%d, %q)) = %d, %q, %v", f.typ, f.payload, typ, payload, err)
		}
	}
	if _, _, err := ReadFrame(&buf); !errors.Is(err, io.EOF) {
		t.Errorf("ReadFrame(empty) = %v, want EOF", err)
	}
	big := []byte{FrameStdin, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := ReadFrame(bytes.NewReader(big)); err == nil {
		t.Errorf("ReadFrame(4 GiB frame) = nil error, want one")
	}
}
