package oci

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so
// callers choose messages, hints and exit codes with errors.Is.
var (
	// ErrNoCommand means the entrypoint and the command are both empty.
	ErrNoCommand = errors.New("no command specified")

	// ErrInvalidCommand means an argument cannot be passed to execve: it
	// holds a NUL byte, or the program name is empty.
	ErrInvalidCommand = errors.New("invalid command")

	// ErrArgsTooLong means argv plus the environment would make execve fail
	// with E2BIG. It is reported before anything is started.
	ErrArgsTooLong = errors.New("argument list too long (E2BIG)")

	// ErrInvalidEnv means an environment entry has an empty name or a NUL
	// byte.
	ErrInvalidEnv = errors.New("invalid environment variable")

	// ErrInvalidUser means a user or group specification is malformed, or
	// an id is outside 0..2147483647.
	ErrInvalidUser = errors.New("invalid user")

	// ErrUserNotFound means a user name has no entry in the image's
	// /etc/passwd.
	ErrUserNotFound = errors.New("no matching entries in passwd file")

	// ErrGroupNotFound means a group name has no entry in the image's
	// /etc/group.
	ErrGroupNotFound = errors.New("no matching entries in group file")

	// ErrFileTooLarge means /etc/passwd, /etc/group or a seccomp profile
	// exceeds this package's size cap.
	ErrFileTooLarge = errors.New("file too large")

	// ErrIDNotMapped means the container's uid or gid is not mapped in
	// ctr's user namespace, so the runtime could not switch to it.
	ErrIDNotMapped = errors.New("not mapped in the user namespace")

	// ErrInvalidWorkingDir means the working directory is not an absolute
	// path or holds a NUL byte.
	ErrInvalidWorkingDir = errors.New("invalid working directory")

	// ErrInvalidMount means a -v, --tmpfs or generated mount is malformed,
	// has a forbidden destination, or has contradictory or unknown options.
	ErrInvalidMount = errors.New("invalid mount")

	// ErrNamedVolume means a -v source is a volume name (or a lone
	// container path, an anonymous volume) rather than a host path.
	ErrNamedVolume = errors.New("named and anonymous volumes are not supported yet " +
		"(they arrive in a later issue); give a host path starting with / or ./")

	// ErrDuplicateMountDestination means two user mounts share a
	// destination (podman's wording).
	ErrDuplicateMountDestination = errors.New("duplicate mount destination")

	// ErrInvalidCapability means a capability name is unknown, or the same
	// capability is both added and dropped.
	ErrInvalidCapability = errors.New("invalid capability")

	// ErrInvalidSeccompProfile means a custom seccomp profile cannot be
	// decoded or expanded.
	ErrInvalidSeccompProfile = errors.New("invalid seccomp profile")

	// ErrInvalidUlimit means a --ulimit is malformed or names an unknown
	// limit.
	ErrInvalidUlimit = errors.New("invalid ulimit")

	// ErrUlimitAboveHardLimit means a --ulimit asks for more than the
	// caller's current hard limit, which an unprivileged process cannot
	// raise.
	ErrUlimitAboveHardLimit = errors.New("above the current hard limit")

	// ErrInvalidOptions means another Options field is invalid: network
	// mode, hostname, ID counts, seccomp mode or kernel release.
	ErrInvalidOptions = errors.New("invalid options")
)
