package storage

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Reset deletes the store: every image, layer and container, and both
// directories. It works on a store that no longer opens.
func Reset(opts Options) error {
	if os.Geteuid() != 0 {
		return ErrNotInUserNamespace
	}
	var errs []error
	if s, err := Open(opts); err == nil {
		if _, err := s.s.Shutdown(true); err != nil {
			errs = append(errs, fmt.Errorf("unmount layers: %w", err))
		}
	}
	for _, dir := range []string{opts.RunRoot, opts.GraphRoot} {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir in this mount
// namespace, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		m := mounts[i].Mountpoint
		if m != dir && !strings.HasPrefix(m, dir+"/") {
			continue
		}
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, &os.PathError{Op: "unmount", Path: m, Err: err})
		}
	}
	return errors.Join(errs...)
}
