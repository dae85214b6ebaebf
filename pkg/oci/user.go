package oci

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxID is the largest uid or gid accepted, runc's limit. Anything larger
// (4294967296 wraps to 0 in a uint32) is an error, never a name to look up
// (containerd CVE-2024-40635).
const MaxID = 1<<31 - 1

// MaxIDFileSize caps the /etc/passwd and /etc/group contents accepted by
// ResolveUser and Generate (CVE-2024-9676: a passwd symlinked to /dev/zero).
const MaxIDFileSize = 4 << 20

// User is a resolved container user.
type User struct {
	// UID and GID are the process's ids inside the container.
	UID, GID uint32
	// AdditionalGids are the supplementary groups: the groups of the image's
	// /etc/group that list the user's name. Never the host's groups.
	AdditionalGids []uint32
	// Name is the passwd entry's name, "" when the uid has no entry.
	Name string
	// Home is the passwd entry's home directory; without one, /root for
	// uid 0 and / for everyone else.
	Home string
}

// ResolveUser resolves a docker/podman user specification (name, uid,
// name:group, uid:gid, name:gid, uid:group; "" means root) against the
// contents of the image's /etc/passwd and /etc/group (nil when absent).
//
// A string that looks numeric (optional sign and digits) is always an id,
// never a name, and must be in 0..MaxID. A uid alone takes its gid from its
// passwd entry, or 0 without one. Supplementary groups come from the group
// file whenever the user has a passwd entry, also when the group is given
// explicitly (CVE-2023-25173). Malformed lines in either file are skipped
// (the first well-formed match wins), except that a name whose only
// matching lines are malformed is an error, not "unknown".
func ResolveUser(spec string, passwd, group []byte) (User, error) {
	if len(passwd) > MaxIDFileSize {
		return User{}, fmt.Errorf("/etc/passwd: %w (%d bytes, limit %d)", ErrFileTooLarge, len(passwd), MaxIDFileSize)
	}
	if len(group) > MaxIDFileSize {
		return User{}, fmt.Errorf("/etc/group: %w (%d bytes, limit %d)", ErrFileTooLarge, len(group), MaxIDFileSize)
	}
	wrap := func(err error) error { return fmt.Errorf("user %q: %w", spec, err) }
	if spec == "" {
		spec = "0"
	}
	if strings.ContainsAny(spec, "\x00\n") {
		return User{}, wrap(fmt.Errorf("%w: contains a NUL byte or newline", ErrInvalidUser))
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" || (hasGroup && groupPart == "") || strings.Contains(groupPart, ":") {
		return User{}, wrap(fmt.Errorf("%w: want user, uid, user:group or uid:gid", ErrInvalidUser))
	}

	users := parseColonFile(passwd, 4)
	var (
		u     User
		entry []string
	)
	if looksNumeric(userPart) {
		uid, err := parseID(userPart, "uid")
		if err != nil {
			return User{}, wrap(err)
		}
		u.UID = uid
		for _, e := range users {
			if id, err := parseID(e[2], "uid"); err == nil && id == uid {
				if _, err := parseID(e[3], "gid"); err == nil {
					entry = e
					break
				}
			}
		}
	} else {
		var malformed error
		for _, e := range users {
			if e[0] != userPart {
				continue
			}
			uid, err := parseID(e[2], "uid")
			if err == nil {
				_, err = parseID(e[3], "gid")
			}
			if err != nil {
				malformed = cmp.Or(malformed, err)
				continue
			}
			entry, u.UID = e, uid
			break
		}
		if entry == nil && malformed != nil {
			return User{}, wrap(fmt.Errorf("passwd entry: %w", malformed))
		}
		if entry == nil {
			return User{}, wrap(ErrUserNotFound)
		}
	}
	if entry != nil {
		u.GID, _ = parseID(entry[3], "gid") // checked above
		u.Name = entry[0]
		if len(entry) > 5 {
			u.Home = entry[5]
		}
	}
	if u.Home == "" {
		u.Home = "/"
		if u.UID == 0 {
			u.Home = "/root"
		}
	}

	groups := parseColonFile(group, 3)
	if hasGroup {
		if looksNumeric(groupPart) {
			gid, err := parseID(groupPart, "gid")
			if err != nil {
				return User{}, wrap(err)
			}
			u.GID = gid
		} else {
			var malformed error
			found := false
			for _, g := range groups {
				if g[0] != groupPart {
					continue
				}
				gid, err := parseID(g[2], "gid")
				if err != nil {
					malformed = cmp.Or(malformed, err)
					continue
				}
				u.GID, found = gid, true
				break
			}
			if !found && malformed != nil {
				return User{}, wrap(fmt.Errorf("group entry %q: %w", groupPart, malformed))
			}
			if !found {
				return User{}, wrap(fmt.Errorf("group %q: %w", groupPart, ErrGroupNotFound))
			}
		}
	}

	// Supplementary groups only by name: a uid without a passwd entry has no
	// name a group file could list. They are set explicitly (possibly to
	// none) so the process never keeps the groups of the process that
	// started it (CVE-2022-2989).
	u.AdditionalGids = []uint32{}
	if u.Name != "" {
		for _, g := range groups {
			if len(g) < 4 || !isMember(g[3], u.Name) {
				continue
			}
			gid, err := parseID(g[2], "gid")
			if err != nil || slices.Contains(u.AdditionalGids, gid) {
				continue // tolerate a malformed line that is not asked for by name
			}
			u.AdditionalGids = append(u.AdditionalGids, gid)
		}
	}
	return u, nil
}

// looksNumeric reports whether s is an optional sign followed by decimal
// digits. Such a string is always parsed as an id and never looked up as a
// name, so neither an out-of-range number nor a crafted passwd entry with a
// numeric-looking name can turn into another uid, such as root
// (RELIABILITY.md C1; CVE-2024-40635, CVE-2026-46680).
func looksNumeric(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseID parses a decimal uid or gid in 0..MaxID; kind names it in errors.
func parseID(s, kind string) (uint32, error) {
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("%w: %s %q is not in 0..%d", ErrInvalidUser, kind, s, MaxID)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > MaxID {
		return 0, fmt.Errorf("%w: %s %q is not in 0..%d", ErrInvalidUser, kind, s, MaxID)
	}
	return uint32(n), nil
}

// parseColonFile splits a passwd- or group-format file into the fields of
// each line that has at least minFields fields and a non-empty name.
// Parsing is tolerant: blank lines, comments, NIS compat lines (+ and -)
// and lines with a NUL byte are skipped.
func parseColonFile(data []byte, minFields int) [][]string {
	var out [][]string
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' || bytes.IndexByte(line, 0) >= 0 {
			continue
		}
		fields := strings.Split(string(line), ":")
		if len(fields) < minFields || fields[0] == "" {
			continue
		}
		out = append(out, fields)
	}
	return out
}

// isMember reports whether name is in a group file's comma-separated member
// list.
func isMember(members, name string) bool {
	for m := range strings.SplitSeq(members, ",") {
		if strings.TrimSpace(m) == name {
			return true
		}
	}
	return false
}
