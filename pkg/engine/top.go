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

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/rootless"
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

// TopPlan is what listing a container's processes needs. Like exec, top
// finishes on the host side: only there can ctr read the /proc/PID/ns
// links of the container's processes, which is how processes that ctr exec
// started (children of the exec caller, not of the container's init) are
// found too.
type TopPlan struct {
	Container   string   `json:"container"`
	Pid         int      `json:"pid"`
	PidStart    uint64   `json:"pidStart"`
	Descriptors []string `json:"descriptors"`
	Passwd      []byte   `json:"passwd,omitempty"`
	Group       []byte   `json:"group,omitempty"`
}

// PlanTop checks the container and descriptors for RunTop.
func (e *Engine) PlanTop(nameOrID string, descriptors []string) (*TopPlan, error) {
	c, err := e.Container(nameOrID)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, fmt.Errorf("%w: %s", container.ErrNotRunning, c.Name)
	}
	if len(descriptors) == 0 {
		descriptors = defaultTop
	}
	if _, err := topColumns(descriptors); err != nil {
		return nil, err
	}
	passwd, _ := e.store.ReadContainerFile(c.ID, container.PasswdCopy)
	group, _ := e.store.ReadContainerFile(c.ID, container.GroupCopy)
	return &TopPlan{Container: c.Name, Pid: c.State.Pid, PidStart: c.State.PidStart, Descriptors: descriptors, Passwd: passwd, Group: group}, nil
}

func topColumns(descriptors []string) ([]topDescriptor, error) {
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
	return cols, nil
}

// RunTop lists the processes in the container's PID namespace: a heading
// row, then one row per process. It reads /proc only; no program of the
// container's image is run on the host (CVE-2022-1227). It needs the
// host side (or real root) to read the namespace links.
func RunTop(plan *TopPlan) ([][]string, error) {
	if st, err := rootless.ProcessStartTime(plan.Pid); err != nil || st != plan.PidStart {
		return nil, fmt.Errorf("%w: %s has stopped", container.ErrNotRunning, plan.Container)
	}
	cols, err := topColumns(plan.Descriptors)
	if err != nil {
		return nil, err
	}
	procs, err := processesInNamespace(plan.Pid)
	if err != nil {
		return nil, err
	}
	// /proc shows host IDs here: map them back to the container's.
	uidMap := readIDMap(fmt.Sprintf("/proc/%d/uid_map", plan.Pid))
	gidMap := readIDMap(fmt.Sprintf("/proc/%d/gid_map", plan.Pid))
	for _, p := range procs {
		p.uid, p.gid = toContainerID(uidMap, p.uid), toContainerID(gidMap, p.gid)
	}
	heading := make([]string, len(cols))
	for i, col := range cols {
		heading[i] = col.heading
	}
	rows := [][]string{heading}
	for _, p := range procs {
		p.passwd, p.group = plan.Passwd, plan.Group
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = col.value(p)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// processesInNamespace returns the processes in the PID namespace of pid.
func processesInNamespace(pid int) ([]*procInfo, error) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return nil, fmt.Errorf("container's PID namespace: %w", err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	uptime := readUptime()
	const ticks = 100.0 // USER_HZ on Linux
	var out []*procInfo
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", n)); err != nil || l != ns {
			continue
		}
		p := &procInfo{pid: n}
		if p.read(uptime, ticks) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].nsPid < out[j].nsPid })
	return out, nil
}

type procInfo struct {
	pid, nsPid, nsPpid, uid, gid int
	comm, args, state, tty       string
	elapsed, cpu                 time.Duration
	passwd, group                []byte
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

// idRange is one line of a uid_map: container ID, host ID, count.
type idRange struct{ inside, outside, count int }

func readIDMap(path string) []idRange {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []idRange
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, _ := strconv.Atoi(f[0])
		outID, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		out = append(out, idRange{in, outID, n})
	}
	return out
}

// toContainerID maps a host ID into the container's user namespace; an ID
// outside the mapping is shown as the overflow ID, as the kernel does.
func toContainerID(m []idRange, host int) int {
	if m == nil {
		return host // real root: no user namespace
	}
	for _, r := range m {
		if host >= r.outside && host < r.outside+r.count {
			return r.inside + host - r.outside
		}
	}
	return 65534
}
