package engine

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/storage"
)

// HelperMain is what a container's monitor runs this binary for
// (monitor.HelperName): the work that needs the store, which the monitor
// does not link. It reads a monitor.HelperRequest on standard input and
// runs in the monitor's user and mount namespaces. It does not return.
func HelperMain() {
	var req monitor.HelperRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "ctr helper: read request:", err)
		os.Exit(1)
	}
	if err := serveHelper(req); err != nil {
		fmt.Fprintf(os.Stderr, "ctr helper %s: %v\n", req.Op, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveHelper(req monitor.HelperRequest) (retErr error) {
	if req.Op == monitor.HelperCopy {
		conn := os.NewFile(3, "copy-client")
		defer conn.Close()
		// A failed copy is the client's answer, not the helper's failure.
		_ = serveCopy(conn, req.Rootfs, req.Frame, req.Payload)
		return nil
	}
	var opts storage.Options
	if err := json.Unmarshal(req.Store, &opts); err != nil {
		return fmt.Errorf("store options: %w", err)
	}
	store, err := storage.Open(opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	switch req.Op {
	case monitor.HelperUnmount:
		return store.UnmountContainer(req.ID)
	case monitor.HelperRemove:
		return store.DeleteContainer(req.ID)
	}
	return fmt.Errorf("unknown request %q", req.Op)
}
