package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
)

// Exit codes, as docker and podman use them.
const (
	exitOK          = 0
	exitCtrFailed   = 125 // ctr itself failed
	exitCannotRun   = 126 // the command cannot be invoked
	exitNotFound    = 127 // the command was not found
	exitInterrupted = 130
)

var errInterrupted = errors.New("interrupted")

// exitStatus carries an exit status through cobra without a message: the
// status of the re-executed child, or of a container.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// withExitCode gives err a specific exit code (e.g. rmi's 1 and 2).
type withExitCode struct {
	code int
	err  error
}

func (e *withExitCode) Error() string { return e.err.Error() }
func (e *withExitCode) Unwrap() error { return e.err }

// usageError marks flag and argument errors; the message ends with a
// pointer to the command's help.
type usageError struct {
	err         error
	commandPath string
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%v\nSee '%s --help'", e.err, e.commandPath)
}
func (e *usageError) Unwrap() error { return e.err }

// reportError is the only place that prints errors and picks exit codes.
func reportError(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return status.code
	}
	if errors.Is(err, rootless.ErrRerun) {
		// The host side runs the command again; that run reports.
		return exitOK
	}
	fmt.Fprintf(w, "Error: %v\n", err)
	if hint := hintFor(err); hint != "" {
		fmt.Fprintln(w, hint)
	}
	var coded *withExitCode
	switch {
	case errors.As(err, &coded):
		return coded.code
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	}
	return exitCtrFailed
}

// hintFor returns what the user can do about err, when ctr knows.
func hintFor(err error) string {
	var disabled *rootless.DisabledError
	switch {
	case errors.As(err, &disabled):
		return "To fix: " + disabled.Fix
	case errors.Is(err, storage.ErrInsecureRegistry):
		return "Hint: registries other than loopback ones must use HTTPS; pass --tls-verify=false only for a registry you trust."
	case errors.Is(err, rootless.ErrNoHome):
		return "Hint: set HOME (or XDG_DATA_HOME) to a directory you own."
	}
	return ""
}
