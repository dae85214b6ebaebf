package rootless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrUserNSDisabled is matched by errors.Is when the kernel or a security
// module does not let unprivileged users create user namespaces.
var ErrUserNSDisabled = errors.New("user namespaces are disabled for unprivileged users")

// DisabledError names the setting that disables user namespaces and how to
// change it.
type DisabledError struct {
	Setting string // e.g. "user.max_user_namespaces"
	Value   string
	Fix     string
	Err     error // the error seen when trying
}

func (e *DisabledError) Error() string {
	return fmt.Sprintf("%v: %s=%s (%v)", ErrUserNSDisabled, e.Setting, e.Value, e.Err)
}

// Is makes errors.Is(err, ErrUserNSDisabled) true.
func (e *DisabledError) Is(target error) bool { return target == ErrUserNSDisabled }

func (e *DisabledError) Unwrap() error { return e.Err }

// userNSSwitches are the sysctls known to turn unprivileged user namespaces
// off, with the value that means "off" and the fix.
var userNSSwitches = []struct {
	file, setting, off, fix string
}{
	{"user/max_user_namespaces", "user.max_user_namespaces", "0",
		"sudo sysctl -w user.max_user_namespaces=28633 (and set it in /etc/sysctl.d/ to keep it)"},
	{"kernel/unprivileged_userns_clone", "kernel.unprivileged_userns_clone", "0",
		"sudo sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"},
	{"kernel/apparmor_restrict_unprivileged_userns", "kernel.apparmor_restrict_unprivileged_userns", "1",
		"allow ctr in an AppArmor profile (`userns,` rule, see ctr(1) ROOTLESS) or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"},
}

// diagnoseUserNS explains a failure to create or use a user namespace by
// the sysctl that caused it, reading them under procSys (normally
// /proc/sys). It returns nil when no known switch is off or when cause is not
// the kind of error such a switch produces.
func diagnoseUserNS(procSys string, cause error) *DisabledError {
	if !errors.Is(cause, syscall.EPERM) && !errors.Is(cause, syscall.EACCES) &&
		!errors.Is(cause, syscall.ENOSPC) && !errors.Is(cause, syscall.EINVAL) {
		return nil
	}
	for _, s := range userNSSwitches {
		b, err := os.ReadFile(filepath.Join(procSys, s.file))
		if err != nil {
			continue
		}
		if v := strings.TrimSpace(string(b)); v == s.off {
			return &DisabledError{Setting: s.setting, Value: v, Fix: s.fix, Err: cause}
		}
	}
	return nil
}

// hasFileCaps reports whether path carries a security.capability xattr.
func hasFileCaps(path string) bool {
	sz, err := unix.Getxattr(path, "security.capability", nil)
	return err == nil && sz > 0
}

func toSyscall(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}
