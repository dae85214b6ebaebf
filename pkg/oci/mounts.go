package oci

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// devBinds are the device nodes bind mounted from the host: a rootless
// process cannot mknod, so /dev is a tmpfs with these binds (podman and
// runc's rootless spec do the same). They must not get nodev.
var devBinds = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// readOnlyTmpfs are the tmpfs mounts --read-only adds, as podman's default
// --read-only-tmpfs=true does.
var readOnlyTmpfs = []string{"/tmp", "/var/tmp", "/run"}

// etcFileOptions are the options of the EtcFiles binds: podman binds these
// files rbind and rprivate; nosuid, noexec and nodev cost nothing on a plain
// file and close a door.
var etcFileOptions = []string{"rbind", "rprivate", "nosuid", "noexec", "nodev"}

// defaultMounts returns the mounts every container gets, in mount order.
func defaultMounts(network string, mappedGIDs uint32) []specs.Mount {
	pts := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	// gid=5 is the conventional tty group; it exists only with a subordinate
	// range, and devpts refuses a gid that is not mapped.
	if mappedGIDs > 5 {
		pts = append(pts, "gid=5")
	}
	sys := specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
	if network == NetworkHost {
		// sysfs may only be mounted by the owner of the network namespace;
		// without our own, bind the existing one read-only instead.
		sys = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: pts},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		sys,
		// The runtime mounts this best effort: without a delegated cgroup
		// v2 tree there may be nothing useful to mount.
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
	}
	for _, d := range devBinds {
		m = append(m, specs.Mount{Destination: d, Type: "bind", Source: d, Options: []string{"bind", "nosuid", "noexec"}})
	}
	return m
}

// mounts assembles the container's mount list: the defaults, then the
// EtcFiles binds, the user mounts and the --read-only tmpfs mounts, the last
// three stably sorted by destination depth so that a mount never hides one
// below it (podman sorts the same way). A user mount replaces a default,
// EtcFiles or --read-only mount with the same destination.
func mounts(o Options) ([]specs.Mount, error) {
	user := make([]specs.Mount, 0, len(o.Mounts))
	seen := map[string]bool{}
	for _, m := range o.Mounts {
		sm, err := checkUserMount(m)
		if err != nil {
			return nil, err
		}
		if seen[m.Destination] {
			return nil, fmt.Errorf("%s: %w", m.Destination, ErrDuplicateMountDestination)
		}
		seen[m.Destination] = true
		user = append(user, sm)
	}

	var out []specs.Mount
	defaults := map[string]bool{}
	for _, m := range defaultMounts(o.Network, o.MappedGIDs) {
		defaults[m.Destination] = true
		if !seen[m.Destination] {
			out = append(out, m)
		}
	}

	var tail []specs.Mount
	etc := make([]string, 0, len(o.EtcFiles))
	for dst := range o.EtcFiles {
		etc = append(etc, dst)
	}
	slices.Sort(etc)
	for _, dst := range etc {
		src := o.EtcFiles[dst]
		if err := checkDestination(dst); err != nil {
			return nil, fmt.Errorf("generated file %q: %w", short(dst), err)
		}
		if defaults[dst] {
			return nil, fmt.Errorf("generated file %s: %w: it would replace a default mount", dst, ErrInvalidMount)
		}
		if !path.IsAbs(src) || strings.IndexByte(src, 0) >= 0 {
			return nil, fmt.Errorf("generated file %s: %w: source %q is not an absolute path", dst, ErrInvalidMount, short(src))
		}
		if !seen[dst] {
			tail = append(tail, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: slices.Clone(etcFileOptions)})
		}
	}
	tail = append(tail, user...)
	if o.ReadOnly {
		for _, dst := range readOnlyTmpfs {
			if !seen[dst] {
				tail = append(tail, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "rprivate", "nosuid", "nodev"}})
			}
		}
	}
	slices.SortStableFunc(tail, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return append(out, tail...), nil
}

// checkUserMount validates a Mount from the caller and converts it.
func checkUserMount(m Mount) (specs.Mount, error) {
	if err := checkDestination(m.Destination); err != nil {
		return specs.Mount{}, fmt.Errorf("mount on %q: %w", short(m.Destination), err)
	}
	wrap := func(format string, a ...any) error {
		return fmt.Errorf("mount on %s: %w: "+format, append([]any{m.Destination, ErrInvalidMount}, a...)...)
	}
	switch m.Type {
	case "bind":
		if !path.IsAbs(m.Source) || strings.IndexByte(m.Source, 0) >= 0 {
			return specs.Mount{}, wrap("source %q is not an absolute path", short(m.Source))
		}
	case "tmpfs":
	default:
		return specs.Mount{}, wrap("type %q is not bind or tmpfs", short(m.Type))
	}
	for _, opt := range m.Options {
		if opt == "" || strings.ContainsAny(opt, "\x00") {
			return specs.Mount{}, wrap("empty option or option with a NUL byte")
		}
	}
	src := m.Source
	if m.Type == "tmpfs" && src == "" {
		src = "tmpfs"
	}
	return specs.Mount{Destination: m.Destination, Type: m.Type, Source: src, Options: slices.Clone(m.Options)}, nil
}

// checkDestination rejects mount destinations that are not absolute and
// clean, and those that would hide or replace / , /proc, /sys (including
// anything under them: CVE-2019-16884, a mount over /proc/self/attr) or
// /dev itself.
func checkDestination(dst string) error {
	switch {
	case !path.IsAbs(dst) || strings.IndexByte(dst, 0) >= 0:
		return fmt.Errorf("%w: destination %q is not an absolute path", ErrInvalidMount, short(dst))
	case path.Clean(dst) != dst:
		return fmt.Errorf("%w: destination %q is not clean (want %q)", ErrInvalidMount, short(dst), path.Clean(dst))
	case dst == "/":
		return fmt.Errorf("%w: cannot mount over /", ErrInvalidMount)
	case dst == "/proc" || strings.HasPrefix(dst, "/proc/") || dst == "/sys" || strings.HasPrefix(dst, "/sys/"):
		return fmt.Errorf("%w: %s: mounts on or under /proc and /sys are not allowed", ErrInvalidMount, dst)
	case dst == "/dev":
		return fmt.Errorf("%w: cannot mount over /dev", ErrInvalidMount)
	}
	return nil
}

// volumeName is podman's name grammar for volumes (and containers).
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ParseVolume parses a -v/--volume value HOST:CTR[:OPTIONS] into a bind
// mount. cwd is the caller's absolute working directory.
//
// A HOST starting with "/" is an absolute path; one starting with "." or
// containing a "/" is relative to cwd (joined and cleaned, with string
// operations only). Anything else is a volume name and returns an error
// wrapping ErrNamedVolume, as does a lone CTR (an anonymous volume). CTR
// must be an absolute path and may not be /, /dev, or on or under /proc or
// /sys.
//
// OPTIONS is a comma-separated list of ro|rw, bind|rbind (default rbind), a
// propagation mode ([r]private (default rprivate), [r]shared, [r]slave,
// [r]unbindable), [no]suid, [no]dev, [no]exec, and z|Z, accepted and ignored
// (ctr does no SELinux relabelling). Two options of the same kind are an
// error (contradictory like ro,rw, or repeated); anything else is unknown
// and an error.
func ParseVolume(spec, cwd string) (Mount, error) {
	wrap := func(err error) error { return fmt.Errorf("volume %q: %w", short(spec), err) }
	if strings.IndexByte(spec, 0) >= 0 {
		return Mount{}, wrap(fmt.Errorf("%w: contains a NUL byte", ErrInvalidMount))
	}
	parts := strings.Split(spec, ":")
	if len(parts) > 3 || slices.Contains(parts, "") {
		return Mount{}, wrap(fmt.Errorf("%w: want HOST-PATH:CONTAINER-PATH[:OPTIONS]", ErrInvalidMount))
	}
	if len(parts) == 1 {
		return Mount{}, wrap(ErrNamedVolume)
	}
	src, dst := parts[0], parts[1]
	switch {
	case strings.HasPrefix(src, "/"):
		src = path.Clean(src)
	case strings.HasPrefix(src, ".") || strings.Contains(src, "/"):
		if !path.IsAbs(cwd) {
			return Mount{}, wrap(fmt.Errorf("%w: relative host path and no absolute working directory to resolve it (%q)", ErrInvalidMount, cwd))
		}
		src = path.Join(cwd, src)
	case volumeName.MatchString(src):
		return Mount{}, wrap(ErrNamedVolume)
	default:
		return Mount{}, wrap(fmt.Errorf("%w: %q is neither a host path (starting with / or ./) nor a volume name", ErrInvalidMount, src))
	}
	if err := checkDestination(path.Clean(dst)); err != nil {
		return Mount{}, wrap(err)
	}
	dst = path.Clean(dst)

	var given []string
	if len(parts) == 3 {
		given = strings.Split(parts[2], ",")
	}
	opts, kinds, err := parseMountOptions(given, bindOptionKinds)
	if err != nil {
		return Mount{}, wrap(err)
	}
	opts = slices.DeleteFunc(opts, func(o string) bool { return o == "z" || o == "Z" })
	if !kinds["bind"] {
		opts = append([]string{"rbind"}, opts...)
	}
	if !kinds["propagation"] {
		opts = append(opts, "rprivate")
	}
	return Mount{Type: "bind", Source: src, Destination: dst, Options: opts}, nil
}

// ParseTmpfs parses a --tmpfs value PATH[:OPTIONS] into a tmpfs mount.
// PATH follows the rules of ParseVolume's CTR. OPTIONS is a comma-separated
// list of ro|rw, [no]exec, [no]suid, [no]dev, one of atime, noatime,
// relatime, strictatime, and size=, nr_blocks=, nr_inodes= (a number with
// an optional k, m or g suffix; size also N%), mode= (octal), uid=, gid=.
// Unset kinds default to rw,noexec,nosuid,nodev.
func ParseTmpfs(spec string) (Mount, error) {
	wrap := func(err error) error { return fmt.Errorf("tmpfs %q: %w", short(spec), err) }
	dst, optStr, hasOpts := strings.Cut(spec, ":")
	if strings.IndexByte(spec, 0) >= 0 {
		return Mount{}, wrap(fmt.Errorf("%w: contains a NUL byte", ErrInvalidMount))
	}
	if err := checkDestination(path.Clean(dst)); err != nil {
		return Mount{}, wrap(err)
	}
	var given []string
	if hasOpts {
		given = strings.Split(optStr, ",")
	}
	opts, kinds, err := parseMountOptions(given, tmpfsOptionKinds)
	if err != nil {
		return Mount{}, wrap(err)
	}
	for _, d := range []struct{ kind, opt string }{{"rw", "rw"}, {"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}} {
		if !kinds[d.kind] {
			opts = append(opts, d.opt)
		}
	}
	return Mount{Type: "tmpfs", Source: "tmpfs", Destination: path.Clean(dst), Options: opts}, nil
}

// Option kinds: each kind may appear once in a mount's options.
var (
	commonOptionKinds = map[string]string{
		"ro": "rw", "rw": "rw",
		"suid": "suid", "nosuid": "suid",
		"dev": "dev", "nodev": "dev",
		"exec": "exec", "noexec": "exec",
	}
	bindOptionKinds = with(commonOptionKinds, map[string]string{
		"bind": "bind", "rbind": "bind",
		"z": "selinux", "Z": "selinux",
		"private": "propagation", "rprivate": "propagation",
		"shared": "propagation", "rshared": "propagation",
		"slave": "propagation", "rslave": "propagation",
		"unbindable": "propagation", "runbindable": "propagation",
	})
	tmpfsOptionKinds = with(commonOptionKinds, map[string]string{
		"atime": "atime", "noatime": "atime", "relatime": "atime", "strictatime": "atime",
		"size=": "size", "nr_blocks=": "nr_blocks", "nr_inodes=": "nr_inodes",
		"mode=": "mode", "uid=": "uid", "gid=": "gid",
	})
	// podman options ctr does not implement, named so the error says so.
	unsupportedOptions = []string{"U", "O", "idmap", "copy", "nocopy", "chown", "tmpcopyup", "notmpcopyup", "noswap"}
)

// with returns a copy of base with extra added.
func with(base, extra map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, extra)
	return m
}

var (
	sizeValue  = regexp.MustCompile(`^[0-9]+([kKmMgG]|%)?$`)
	modeValue  = regexp.MustCompile(`^[0-7]{1,4}$`)
	countValue = regexp.MustCompile(`^[0-9]+[kKmMgG]?$`)
)

// parseMountOptions checks options against kinds (a "key=" entry stands for
// a valued option) and returns them in order plus the set of kinds seen.
func parseMountOptions(opts []string, kinds map[string]string) ([]string, map[string]bool, error) {
	seen := map[string]string{} // kind -> option
	out := make([]string, 0, len(opts)+2)
	for _, opt := range opts {
		key, val, valued := strings.Cut(opt, "=")
		lookup := opt
		if valued {
			lookup = key + "="
		}
		kind, ok := kinds[lookup]
		if !ok {
			if opt == "" {
				return nil, nil, fmt.Errorf("%w: empty option", ErrInvalidMount)
			}
			if slices.Contains(unsupportedOptions, lookup) {
				return nil, nil, fmt.Errorf("%w: option %q is not supported by ctr", ErrInvalidMount, short(opt))
			}
			return nil, nil, fmt.Errorf("%w: unknown option %q", ErrInvalidMount, short(opt))
		}
		if prev, dup := seen[kind]; dup {
			if prev == opt {
				return nil, nil, fmt.Errorf("%w: option %q given twice", ErrInvalidMount, short(opt))
			}
			return nil, nil, fmt.Errorf("%w: options %q and %q contradict each other", ErrInvalidMount, short(prev), short(opt))
		}
		if valued {
			if err := checkOptionValue(key, val); err != nil {
				return nil, nil, err
			}
		}
		seen[kind] = opt
		out = append(out, opt)
	}
	set := make(map[string]bool, len(seen))
	for k := range seen {
		set[k] = true
	}
	return out, set, nil
}

func checkOptionValue(key, val string) error {
	ok := false
	switch key {
	case "size":
		ok = sizeValue.MatchString(val)
	case "nr_blocks", "nr_inodes":
		ok = countValue.MatchString(val)
	case "mode":
		ok = modeValue.MatchString(val)
	case "uid", "gid":
		_, err := strconv.ParseUint(val, 10, 31)
		ok = err == nil && looksNumeric(val) && val[0] != '+'
	}
	if !ok {
		return fmt.Errorf("%w: invalid value %q for %s", ErrInvalidMount, short(val), key)
	}
	return nil
}
