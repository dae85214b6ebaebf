package oci

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rlimitTypes maps docker's --ulimit names to the runtime-spec rlimit types.
var rlimitTypes = map[string]string{
	"as":         "RLIMIT_AS",
	"core":       "RLIMIT_CORE",
	"cpu":        "RLIMIT_CPU",
	"data":       "RLIMIT_DATA",
	"fsize":      "RLIMIT_FSIZE",
	"locks":      "RLIMIT_LOCKS",
	"memlock":    "RLIMIT_MEMLOCK",
	"msgqueue":   "RLIMIT_MSGQUEUE",
	"nice":       "RLIMIT_NICE",
	"nofile":     "RLIMIT_NOFILE",
	"nproc":      "RLIMIT_NPROC",
	"rss":        "RLIMIT_RSS",
	"rtprio":     "RLIMIT_RTPRIO",
	"rttime":     "RLIMIT_RTTIME",
	"sigpending": "RLIMIT_SIGPENDING",
	"stack":      "RLIMIT_STACK",
}

// ParseUlimit parses a --ulimit value TYPE=SOFT[:HARD] with docker's type
// names (as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile,
// nproc, rss, rtprio, rttime, sigpending, stack). A value is a decimal
// number, or -1 or "unlimited" for RLimInfinity. Without HARD the hard limit
// equals the soft one; soft above hard is an error.
func ParseUlimit(spec string) (Ulimit, error) {
	wrap := func(format string, a ...any) error {
		return fmt.Errorf("ulimit %q: %w: "+format, append([]any{short(spec), ErrInvalidUlimit}, a...)...)
	}
	name, vals, ok := strings.Cut(spec, "=")
	if !ok || vals == "" {
		return Ulimit{}, wrap("want TYPE=SOFT[:HARD]")
	}
	if _, ok := rlimitTypes[name]; !ok {
		return Ulimit{}, wrap("unknown type %q", short(name))
	}
	softStr, hardStr, hasHard := strings.Cut(vals, ":")
	soft, err := parseLimit(softStr)
	if err != nil {
		return Ulimit{}, wrap("soft limit: %v", err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit(hardStr); err != nil {
			return Ulimit{}, wrap("hard limit: %v", err)
		}
	}
	if soft > hard {
		return Ulimit{}, wrap("soft limit %s is above the hard limit %s", formatLimit(soft), formatLimit(hard))
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return RLimInfinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || s[0] == '+' {
		return 0, fmt.Errorf("%q is not a number, -1 or unlimited", short(s))
	}
	return n, nil
}

func formatLimit(n uint64) string {
	if n == RLimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// hostRlimit looks up name ("nofile") in the caller's limits, whose keys may
// be short names or RLIMIT_ names in any case.
func hostRlimit(host map[string]Ulimit, name string) (Ulimit, bool) {
	if v, ok := host[name]; ok {
		return v, true
	}
	if v, ok := host["RLIMIT_"+strings.ToUpper(name)]; ok {
		return v, true
	}
	for k, v := range host {
		if strings.TrimPrefix(strings.ToLower(k), "rlimit_") == name {
			return v, true
		}
	}
	return Ulimit{}, false
}

// rlimits converts the --ulimit values (a later one for the same type wins)
// and refuses any hard limit above the caller's: only CAP_SYS_RESOURCE in
// the initial user namespace can raise a hard limit. Without --ulimit
// nofile the container gets the caller's nofile limits, as podman rootless
// does.
func rlimits(o Options) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range o.Ulimits {
		typ, ok := rlimitTypes[u.Name]
		if !ok {
			return nil, fmt.Errorf("ulimit %q: %w: unknown type", short(u.Name), ErrInvalidUlimit)
		}
		if u.Soft > u.Hard {
			return nil, fmt.Errorf("ulimit %s: %w: soft limit %s is above the hard limit %s",
				u.Name, ErrInvalidUlimit, formatLimit(u.Soft), formatLimit(u.Hard))
		}
		if host, ok := hostRlimit(o.HostRlimits, u.Name); ok && u.Hard > host.Hard {
			return nil, fmt.Errorf("ulimit %s: hard limit %s is %w %s: a rootless process cannot raise it",
				u.Name, formatLimit(u.Hard), ErrUlimitAboveHardLimit, formatLimit(host.Hard))
		}
		r := specs.POSIXRlimit{Type: typ, Soft: u.Soft, Hard: u.Hard}
		if i := slices.IndexFunc(out, func(x specs.POSIXRlimit) bool { return x.Type == typ }); i >= 0 {
			out[i] = r
		} else {
			out = append(out, r)
		}
	}
	if !slices.ContainsFunc(out, func(x specs.POSIXRlimit) bool { return x.Type == "RLIMIT_NOFILE" }) {
		if host, ok := hostRlimit(o.HostRlimits, "nofile"); ok {
			out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: host.Soft, Hard: host.Hard})
		}
	}
	return out, nil
}

// stackLimit is the soft stack limit the container's execve will run
// under: the --ulimit stack, else the caller's, else the usual 8 MiB.
func stackLimit(o Options, rl []specs.POSIXRlimit) uint64 {
	if i := slices.IndexFunc(rl, func(x specs.POSIXRlimit) bool { return x.Type == "RLIMIT_STACK" }); i >= 0 {
		return rl[i].Soft
	}
	if host, ok := hostRlimit(o.HostRlimits, "stack"); ok {
		return host.Soft
	}
	return defaultStack
}
