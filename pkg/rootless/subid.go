package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
)

// IDRange is one contiguous range of subordinate IDs from /etc/subuid or
// /etc/subgid: Count IDs starting at Start on the host.
type IDRange struct {
	Start uint32
	Count uint32
}

// SubIDs is the result of reading one subordinate ID file for one user.
type SubIDs struct {
	// Ranges holds the user's ranges in file order. Empty when the user has
	// none.
	Ranges []IDRange
	// Warnings describes lines that were skipped because they are malformed.
	// The caller decides whether to print them.
	Warnings []string
}

// Total returns the number of subordinate IDs in all ranges.
func (s SubIDs) Total() uint64 {
	var n uint64
	for _, r := range s.Ranges {
		n += uint64(r.Count)
	}
	return n
}

// ParseSubIDs reads a subuid(5)/subgid(5) file and returns the ranges that
// belong to the user, who may be named either by login name or numeric uid
// (shadow-utils accepts both). Comment and blank lines are ignored;
// malformed lines are skipped and reported in Warnings so one bad line
// written by hand does not lock the user out of every range.
func ParseSubIDs(r io.Reader, source, userName string, uid int) (SubIDs, error) {
	var out SubIDs
	uidString := strconv.Itoa(uid)
	sc := bufio.NewScanner(r)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s:%d: want NAME:START:COUNT, skipping %q", source, lineNo, line))
			continue
		}
		owner := fields[0]
		start, errStart := strconv.ParseUint(fields[1], 10, 32)
		count, errCount := strconv.ParseUint(fields[2], 10, 32)
		if owner == "" || errStart != nil || errCount != nil || count == 0 || start+count-1 > math.MaxUint32 {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s:%d: invalid range, skipping %q", source, lineNo, line))
			continue
		}
		if owner != userName && owner != uidString {
			continue
		}
		out.Ranges = append(out.Ranges, IDRange{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", source, err)
	}
	return out, nil
}

// ReadSubIDs is ParseSubIDs on a file. A missing file means no ranges.
func ReadSubIDs(path, userName string, uid int) (SubIDs, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return SubIDs{}, nil
		}
		return SubIDs{}, err
	}
	defer f.Close()
	return ParseSubIDs(f, path, userName, uid)
}
