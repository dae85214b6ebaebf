package oci

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPath is the PATH of a container whose image sets none (podman's
// and docker's default).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// command applies docker's ENTRYPOINT/CMD rules: argv is the entrypoint
// followed by the command; --entrypoint replaces the image's entrypoint and
// drops the image's Cmd; non-empty args replace the Cmd.
func command(img ocispec.ImageConfig, entrypoint *string, args []string) ([]string, error) {
	ep, cmd := img.Entrypoint, img.Cmd
	if entrypoint != nil {
		ep = parseEntrypoint(*entrypoint)
		cmd = nil
	}
	if len(args) > 0 {
		cmd = args
	}
	argv := append(slices.Clone(ep), cmd...)
	if len(argv) == 0 {
		return nil, ErrNoCommand
	}
	if argv[0] == "" {
		return nil, fmt.Errorf("%w: the program name is empty", ErrInvalidCommand)
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("%w: argument %d %q contains a NUL byte", ErrInvalidCommand, i, short(a))
		}
	}
	return argv, nil
}

// parseEntrypoint turns --entrypoint into an argv as podman does: "" is no
// entrypoint, a JSON array of strings is an argv, anything else (including
// a string that starts with "[" but is not such an array) is one program.
func parseEntrypoint(s string) []string {
	if s == "" {
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err == nil {
			return argv
		}
	}
	return []string{s}
}

// envList is an environment with unique keys that keeps the position of a
// key's first appearance when a later entry overrides its value.
type envList struct {
	keys []string
	vals map[string]string
}

func (e *envList) set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) has(k string) bool {
	_, ok := e.vals[k]
	return ok
}

func (e *envList) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// environment merges the container's environment. Precedence, lowest
// first: defaults (PATH, HOSTNAME, TERM=xterm with a terminal), the image's
// Env, container=ctr (an image cannot override it, as with podman), the
// user's -e entries; HOME comes from the resolved user when still unset.
//
// An image entry without "=" is dropped: it is not a variable, and looking
// it up on the host would let an image read the host's environment. A user
// entry without "=" takes its value from hostEnv, or is dropped.
func environment(o Options, home string) ([]string, error) {
	var env envList
	env.set("PATH", DefaultPath)
	if o.Hostname != "" {
		env.set("HOSTNAME", o.Hostname)
	}
	if o.Terminal {
		env.set("TERM", "xterm")
	}
	for _, kv := range o.Image.Env {
		k, v, ok := strings.Cut(kv, "=")
		if err := checkEnvEntry(k, kv); err != nil {
			return nil, fmt.Errorf("image env entry %q: %w", short(kv), err)
		}
		if ok {
			env.set(k, v)
		}
	}
	env.set("container", "ctr")
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if err := checkEnvEntry(k, kv); err != nil {
			return nil, fmt.Errorf("env entry %q: %w", short(kv), err)
		}
		if !ok {
			if o.HostEnv == nil {
				continue
			}
			if v, ok = o.HostEnv(k); !ok {
				continue
			}
			if strings.IndexByte(v, 0) >= 0 {
				return nil, fmt.Errorf("env entry %q: %w: the host value contains a NUL byte", k, ErrInvalidEnv)
			}
		}
		env.set(k, v)
	}
	if !env.has("HOME") {
		env.set("HOME", home)
	}
	return env.list(), nil
}

func checkEnvEntry(key, entry string) error {
	if key == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidEnv)
	}
	if strings.IndexByte(entry, 0) >= 0 {
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidEnv)
	}
	return nil
}

// Limits execve(2) enforces (fs/exec.c). A single argument or environment
// string, NUL included, may not exceed MAX_ARG_STRLEN (32 pages; 4 KiB pages
// assumed, the smallest). All strings plus one pointer each may not exceed
// a quarter of the stack rlimit, clamped to [ARG_MAX, 3/4 of _STK_LIM]:
// 2 MiB with the usual 8 MiB stack.
const (
	maxArgStrlen  = 32 * 4096
	minArgMax     = 128 << 10
	maxArgMax     = 6 << 20
	defaultStack  = 8 << 20
	argHeadroom   = 4096 // the executable's path, copied too
	argPointerLen = 8
)

// checkArgMax reports, before anything is forked, whether execve would fail
// with E2BIG for argv and env under the given stack soft limit.
func checkArgMax(argv, env []string, stackSoft uint64) error {
	limit := min(stackSoft/4, maxArgMax)
	limit = max(limit, minArgMax)
	var total uint64
	for _, list := range [][]string{argv, env} {
		for _, s := range list {
			n := uint64(len(s)) + 1
			if n > maxArgStrlen {
				return fmt.Errorf("%w: one argument or environment entry is %d bytes, the kernel allows %d (%q)",
					ErrArgsTooLong, n, maxArgStrlen, short(s))
			}
			total += n + argPointerLen
		}
	}
	if total+argHeadroom > limit {
		return fmt.Errorf("%w: arguments and environment need %d bytes, the limit is %d (a quarter of the stack limit)",
			ErrArgsTooLong, total+argHeadroom, limit)
	}
	return nil
}

// workingDir returns the cleaned working directory: -w must be absolute; a
// relative image WORKDIR is taken relative to "/", as docker does.
func workingDir(o Options) (string, error) {
	if wd := o.WorkingDir; wd != "" {
		if strings.IndexByte(wd, 0) >= 0 || !path.IsAbs(wd) {
			return "", fmt.Errorf("%q: %w: it must be an absolute path", short(wd), ErrInvalidWorkingDir)
		}
		return path.Clean(wd), nil
	}
	wd := o.Image.WorkingDir
	if strings.IndexByte(wd, 0) >= 0 {
		return "", fmt.Errorf("image WORKDIR %q: %w: contains a NUL byte", short(wd), ErrInvalidWorkingDir)
	}
	return path.Join("/", wd), nil
}

// short shortens s for an error message: untrusted input can be megabytes.
func short(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
