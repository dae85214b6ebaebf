package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
)

func TestReportError(t *testing.T) {
	disabled := &rootless.DisabledError{
		Setting: "user.max_user_namespaces", Value: "0",
		Fix: "sudo sysctl -w user.max_user_namespaces=28633", Err: syscall.EPERM,
	}
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantOut  string
	}{
		{"no error", nil, exitOK, ""},
		{"child exit status passes silently", exitStatus{code: 3}, 3, ""},
		{"child exit status 0", exitStatus{code: 0}, 0, ""},
		{"wrapped child exit status", fmt.Errorf("run: %w", exitStatus{code: 137}), 137, ""},
		{"plain error", errors.New("boom"), exitCtrFailed, "Error: boom\n"},
		{
			"wrapped chain is printed whole",
			fmt.Errorf("pull busybox: %w", errors.New("connection refused")),
			exitCtrFailed, "Error: pull busybox: connection refused\n",
		},
		{"explicit exit code", &withExitCode{code: exitRmiInUse, err: errors.New("image is in use")}, exitRmiInUse, "Error: image is in use\n"},
		{"exit code 127", &withExitCode{code: exitNotFound, err: errors.New("unshare: exec: \"nope\": executable file not found in $PATH")}, exitNotFound, "Error: unshare: exec"},
		{"wrapped explicit exit code", fmt.Errorf("rmi: %w", &withExitCode{code: exitRmiNotFound, err: storage.ErrImageUnknown}), exitRmiNotFound, "Error: rmi: image not known\n"},
		{
			"usage error points at help",
			&usageError{err: errors.New("unknown flag: --bogus"), commandPath: "ctr pull"},
			exitCtrFailed, "Error: unknown flag: --bogus\nSee 'ctr pull --help'\n",
		},
		{"interrupted", fmt.Errorf("%w: %w", errInterrupted, context.Canceled), exitInterrupted, "Error: interrupted: context canceled\n"},
		{
			"user namespaces disabled has the fix",
			fmt.Errorf("start user namespace: %w", disabled),
			exitCtrFailed, "\nTo fix: sudo sysctl -w user.max_user_namespaces=28633\n",
		},
		{
			"insecure registry has a hint",
			fmt.Errorf("pull: %w to 10.0.0.1:5000", storage.ErrInsecureRegistry),
			exitCtrFailed, "\nHint: registries other than loopback ones must use HTTPS",
		},
		{"no home has a hint", rootless.ErrNoHome, exitCtrFailed, "\nHint: set HOME (or XDG_DATA_HOME)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			code := reportError(&buf, tt.err)
			if code != tt.wantCode {
				t.Errorf("reportError(%v) = %d, want %d", tt.err, code, tt.wantCode)
			}
			out := buf.String()
			switch {
			case tt.wantOut == "" && out != "":
				t.Errorf("reportError(%v) printed %q, want nothing", tt.err, out)
			case tt.wantOut != "" && !strings.Contains(out, tt.wantOut):
				t.Errorf("reportError(%v) printed %q, want it to contain %q", tt.err, out, tt.wantOut)
			case tt.wantOut != "" && !strings.HasPrefix(out, "Error: "):
				t.Errorf("reportError(%v) printed %q, want it to start with \"Error: \"", tt.err, out)
			}
		})
	}
}

func TestUsageError(t *testing.T) {
	cause := errors.New(`unknown command "x" for "ctr image"`)
	err := error(&usageError{err: cause, commandPath: "ctr image"})
	want := "unknown command \"x\" for \"ctr image\"\nSee 'ctr image --help'"
	if err.Error() != want {
		t.Errorf("usageError.Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, %v) = false, want true", err, cause)
	}
}

func TestExitStatusAndWithExitCode(t *testing.T) {
	if got, want := (exitStatus{code: 42}).Error(), "exit status 42"; got != want {
		t.Errorf("exitStatus{42}.Error() = %q, want %q", got, want)
	}
	cause := storage.ErrImageInUse
	err := error(&withExitCode{code: 2, err: cause})
	if err.Error() != cause.Error() || !errors.Is(err, cause) {
		t.Errorf("withExitCode{2, %v} = %q, errors.Is = %v, want the cause's text and true", cause, err, errors.Is(err, cause))
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"y", "y\n", true},
		{"yes", "yes\n", true},
		{"upper-case Y with spaces", "  Y  \n", true},
		{"YES", "YES\n", true},
		{"y at end of input without newline", "y", true},
		{"end of input", "", false},
		{"empty line", "\n", false},
		{"no", "no\n", false},
		{"n", "n\n", false},
		{"anything else", "sure\n", false},
		{"only the first line counts", "no\ny\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got := confirm(strings.NewReader(tt.input), &out, "WARNING! This removes things.")
			if got != tt.want {
				t.Errorf("confirm(%q) = %v, want %v", tt.input, got, tt.want)
			}
			if !strings.HasPrefix(out.String(), "WARNING! This removes things.\nAre you sure you want to continue? [y/N] ") {
				t.Errorf("confirm(%q) printed %q, want the warning and the question", tt.input, out.String())
			}
		})
	}

	t.Run("read error counts as no", func(t *testing.T) {
		var out bytes.Buffer
		if confirm(iotest.ErrReader(errors.New("tty gone")), &out, "W") {
			t.Errorf("confirm(ErrReader) = true, want false")
		}
	})
}
