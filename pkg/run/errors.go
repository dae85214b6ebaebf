package run

import (
	"errors"
	"fmt"
)

// ErrCommandNotFound is matched by errors.Is when the container's command
// does not exist (exit status 127 by convention).
var ErrCommandNotFound = errors.New("executable file not found")

// ErrCannotExecute is matched by errors.Is when the command exists but
// cannot be executed: no permission, not an executable format (126).
var ErrCannotExecute = errors.New("cannot execute")

// ExecError reports that the container was set up but its process could
// not be executed.
type ExecError struct {
	Path string
	Err  error // ErrCommandNotFound or ErrCannotExecute, wrapping the errno text
	Msg  string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("exec %s: %s", e.Path, e.Msg)
}

func (e *ExecError) Unwrap() error { return e.Err }

// SetupError reports a failure inside the container before the process
// ran, e.g. a mount that could not be made.
type SetupError struct {
	Msg string
}

func (e *SetupError) Error() string { return e.Msg }

// statusMessage is what the init process reports on the status socket.
// A successful exec closes the socket without any message.
type statusMessage struct {
	Kind string `json:"kind"` // "console" (fd attached), "notfound", "cannotexec", "setup"
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg,omitempty"`
}

func (m statusMessage) err() error {
	switch m.Kind {
	case "notfound":
		return &ExecError{Path: m.Path, Err: ErrCommandNotFound, Msg: m.Msg}
	case "cannotexec":
		return &ExecError{Path: m.Path, Err: ErrCannotExecute, Msg: m.Msg}
	}
	return &SetupError{Msg: m.Msg}
}
