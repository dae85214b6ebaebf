package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// HelperName is argv[0] of the ctr binary when a monitor runs it for what
// needs go.podman.io/storage: unmounting the root filesystem or removing
// the container when it ends, and ctr cp into or out of the running
// container (storage's chrooted archiver). Linking storage into the
// monitor would multiply the memory of every idle monitor; running the ctr
// binary costs only when it is needed. The binary is the one that started
// the monitor, held open as Config.HelperFd (a newer ctr installed
// meanwhile does not matter), and it runs in the monitor's namespaces,
// where the root filesystem is mounted. A binary that serves monitors
// dispatches HelperName to its helper (engine.HelperMain).
const HelperName = "ctr-monitor-helper"

// Helper operations.
const (
	HelperUnmount = "unmount" // unmount the root filesystem
	HelperRemove  = "remove"  // remove the container (--rm)
	HelperCopy    = "copy"    // serve the copy client on fd 3
)

// HelperRequest is what the monitor sends the helper on its standard
// input; the helper's exit status says whether it succeeded.
type HelperRequest struct {
	Op string `json:"op"`
	ID string `json:"id"`
	// Store is Config.HelperStore.
	Store  json.RawMessage `json:"store,omitempty"`
	Rootfs string          `json:"rootfs,omitempty"`
	// Frame and Payload are a copy client's first frame, the request;
	// the helper answers the client itself.
	Frame   byte   `json:"frame,omitempty"`
	Payload []byte `json:"payload,omitempty"`
}

// runHelper runs the ctr binary for req and waits for it. The files in
// extra become its fds 3, 4, ...; its output goes to the monitor's log.
func runHelper(cfg *Config, req HelperRequest, extra ...*os.File) error {
	if cfg.HelperFd <= ControlFd {
		return errors.New("no ctr binary to run: the monitor was started without one")
	}
	req.ID, req.Store = cfg.ID, cfg.HelperStore
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", cfg.HelperFd),
		Args:       []string{HelperName},
		Stdin:      bytes.NewReader(b),
		Stdout:     os.Stderr,
		Stderr:     os.Stderr,
		ExtraFiles: extra,
		Dir:        "/",
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ctr helper %s: %w", req.Op, err)
	}
	return nil
}
