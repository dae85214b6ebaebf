package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// topDescriptor computes one column of `ctr top` from a process's /proc.
type topDescriptor struct {
	heading string
	value   func(p *procInfo) string
}

var topDescriptors = map[string]topDescriptor{
	"user":  {"USER", func(p *procInfo) string { return p.userName() }},
	"uid":   {"UID", func(p *procInfo) string { return strconv.Itoa(p.uid) }},
	"gid":   {"GID", func(p *procInfo) string { return strconv.Itoa(p.gid) }},
	"group": {"GROUP", func(p *procInfo) string { return p.groupName() }},
	"pid":   {"PID", func(p *procInfo) string { return strconv.Itoa(p.nsPid) }},
	"ppid":  {"PPID", func(p *procInfo) string { return strconv.Itoa(p.nsPpid) }},
	"hpid":  {"HPID", func(p *procInfo) string { return strconv.Itoa(p.pid) }},
	"pcpu": {"%CPU", func(p *procInfo) string {
		if p.elapsed <= 0 {
			return "0.000"
		}
		return fmt.Sprintf("%.3f", 100*p.cpu.Seconds()/p.elapsed.Seconds())
	}},
	"etime": {"ELAPSED", func(p *procInfo) string { return p.elapsed.Truncate(time.Millisecond).String() }},
	"time":  {"TIME", func(p *procInfo) string { return p.cpu.Truncate(time.Second).String() }},
	"tty":   {"TTY", func(p *procInfo) string { return p.tty }},
	"args":  {"COMMAND", func(p *procInfo) string { return p.args }},
	"comm":  {"COMMAND", func(p *procInfo) string { return p.comm }},
	"state": {"STATE", func(p *procInfo) string { return p.state }},
}

var defaultTop = []string{"user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"}

// TopDescriptors lists the descriptors Top accepts.
func TopDescriptors() []string {
	names := make([]string, 0, len(topDescriptors))
	for n := range topDescriptors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Top lists the processes in a running container's PID namespace: a
// heading row, then one row per process. It reads the host's /proc only;
// no program of the container's image is run on the host (CVE-2022-1227).
func (e *Engine) Top(nameOrID string, descriptors []string) ([][]string, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, c.Name)
	}
	if len(descriptors) == 0 {
		descriptors = defaultTop
	}
	var cols []topDescriptor
	for _, d := range descriptors {
		for _, part := range strings.Split(d, ",") {
			td, ok := topDescriptors[strings.TrimPrefix(part, "-")]
			if !ok {
				return nil, fmt.Errorf("unknown top descriptor %q (known: %s)", part, strings.Join(TopDescriptors(), ", "))
			}
			cols = append(cols, td)
		}
	}
	procs, err := processTree(c.State.Pid)
	if err != nil {
		return nil, err
	}
	heading := make([]string, len(cols))
	for i, col := range cols {
		heading[i] = col.heading
	}
	rows := [][]string{heading}
	passwd, _ := e.store.ReadContainerFile(c.ID, passwdCopy)
	group, _ := e.store.ReadContainerFile(c.ID, groupCopy)
	for _, p := range procs {
		p.passwd, p.group = passwd, group
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = col.value(p)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

type procInfo struct {
	pid, nsPid, nsPpid, uid, gid int
	comm, args, state, tty       string
	elapsed, cpu                 time.Duration
	passwd, group                []byte
}

// processTree returns the container's processes: its init and every
// descendant (orphans in the container are re-parented to the init, so
// they stay in the tree). It reads only world-readable /proc files: from
// this sibling user namespace the container's /proc/PID/ns and root links
// are off limits, and they are not needed.
func processTree(initPid int) ([]*procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			parent[pid] = ppid
		}
	}
	inTree := func(pid int) bool {
		for range 4096 { // bounds a cycle from PID reuse while we read
			if pid == initPid {
				return true
			}
			p, ok := parent[pid]
			if !ok || p <= 1 {
				return false
			}
			pid = p
		}
		return false
	}
	uptime := readUptime()
	const ticks = 100.0 // USER_HZ on Linux
	var out []*procInfo
	for pid := range parent {
		if !inTree(pid) {
			continue
		}
		p := &procInfo{pid: pid}
		if p.read(uptime, ticks) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no process %d", ErrNotRunning, initPid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].nsPid < out[j].nsPid })
	return out, nil
}

func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

func (p *procInfo) read(uptime, ticks float64) bool {
	dir := filepath.Join("/proc", strconv.Itoa(p.pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(v)
		switch {
		case k == "Uid" && len(f) > 0:
			// /proc shows IDs as this user namespace maps them, which is
			// how the container's (an identical mapping) sees them.
			p.uid, _ = strconv.Atoi(f[0])
		case k == "Gid" && len(f) > 0:
			p.gid, _ = strconv.Atoi(f[0])
		case k == "NSpid" && len(f) > 0:
			p.nsPid, _ = strconv.Atoi(f[len(f)-1])
		case k == "State" && len(f) > 0:
			p.state = f[0]
		}
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	if j := bytes.IndexByte(stat, '('); j >= 0 && i > j {
		p.comm = string(stat[j+1 : i])
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) > 20 {
		ppid, _ := strconv.Atoi(f[1])
		p.nsPpid = nsPidOf(ppid)
		if ttyNr, _ := strconv.Atoi(f[4]); ttyNr != 0 {
			p.tty = fmt.Sprintf("pts/%d", unix.Minor(uint64(ttyNr)))
		} else {
			p.tty = "?"
		}
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		start, _ := strconv.ParseFloat(f[19], 64)
		p.cpu = time.Duration((utime + stime) / ticks * float64(time.Second))
		p.elapsed = time.Duration((uptime - start/ticks) * float64(time.Second))
	}
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	p.args = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.args == "" {
		p.args = "[" + p.comm + "]"
	}
	return true
}

// nsPidOf returns pid's number in its innermost PID namespace (0 when it is
// outside the container, e.g. the container init's parent).
func nsPidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			if len(f) < 2 {
				return 0 // only in the host namespace: not the container's
			}
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

func readUptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func (p *procInfo) userName() string { return lookupName(p.passwd, p.uid) }

func (p *procInfo) groupName() string { return lookupName(p.group, p.gid) }

// lookupName finds an id's name in passwd/group content, else the number.
func lookupName(db []byte, id int) string {
	for line := range strings.SplitSeq(string(db), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == strconv.Itoa(id) {
			return f[0]
		}
	}
	if id == 0 {
		return "root"
	}
	return strconv.Itoa(id)
}
