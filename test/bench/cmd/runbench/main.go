// Command runbench is the helper of the `ctr run` benchmark (test/bench/run.sh).
// It has no dependencies outside the standard library.
//
//	runbench stats FILE...          medians of hyperfine --export-json files (or of
//	                                text files with one wall time in seconds a line)
//	runbench maxrss [-n N] -- CMD   run CMD N times; print ru_maxrss of each run
//	runbench trace -ctr PATH FILE   analyse a tracefs trace of `ctr run` processes:
//	                                phases, sync-type syscalls and peak RSS per process
//	runbench inittrace FILE...      summarise GODEBUG=inittrace=1 outputs
//	runbench nop                    exit at once: the start cost of a small Go binary
//
// maxrss: the rusage wait4(2) returns for a child holds the maximum RSS of
// the child and of every descendant that was waited for, so for `ctr run` it
// is the largest of the host process, ctr-userns (the host waits for it),
// newuidmap/newgidmap, the container init before and after its execve
// (ctr-userns waits for it; the kernel keeps the pre-exec high-water mark in
// the process's maxrss) and the container's command.
//
// trace reads the text output of a tracefs instance that recorded, with
// options/record-tgid and options/event-fork, the events sched_process_fork,
// sched_process_exec, sched_process_exit and optionally kmem:rss_stat and
// syscalls:sys_{enter,exit}_* for a process tree that ran `ctr run` one or
// more times. rss_stat reports every change of an mm's RSS counters, so the
// peak of each address space is exact (not sampled), including the container
// init's Go image before it executes the command.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "stats":
		err = cmdStats(os.Args[2:])
	case "maxrss":
		err = cmdMaxRSS(os.Args[2:])
	case "trace":
		err = cmdTrace(os.Args[2:])
	case "inittrace":
		err = cmdInitTrace(os.Args[2:])
	case "nop":
		// The floor for a Go binary's start (runtime, no package inits
		// to speak of).
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "runbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: runbench stats FILE... | maxrss [-n N] -- CMD [ARG...] | trace -ctr PATH FILE | inittrace FILE... | nop")
	os.Exit(2)
}

// ---------------------------------------------------------------- stats

type hyperfineJSON struct {
	Results []struct {
		Command   string    `json:"command"`
		Times     []float64 `json:"times"`
		User      float64   `json:"user"`
		System    float64   `json:"system"`
		ExitCodes []*int    `json:"exit_codes"`
	} `json:"results"`
}

// cmdStats merges the runs of all files and prints one line:
// "runs median min max mean cpu" in seconds, where cpu is the mean user +
// system time per run (NaN when the files do not say).
func cmdStats(args []string) error {
	if len(args) == 0 {
		return errors.New("stats: no files")
	}
	var times []float64
	cpuSum, cpuRuns := 0.0, 0
	for _, f := range args {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.HasSuffix(f, ".json") {
			var h hyperfineJSON
			if err := json.Unmarshal(b, &h); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, r := range h.Results {
				for i, c := range r.ExitCodes {
					if c == nil || *c != 0 {
						return fmt.Errorf("%s: run %d of %q failed", f, i+1, r.Command)
					}
				}
				times = append(times, r.Times...)
				cpuSum += (r.User + r.System) * float64(len(r.Times))
				cpuRuns += len(r.Times)
			}
			continue
		}
		// Text: "WALL [CPU]" a line.
		for line := range strings.SplitSeq(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) == 0 {
				continue
			}
			v, err := strconv.ParseFloat(fs[0], 64)
			if err != nil {
				return fmt.Errorf("%s: %q: %w", f, line, err)
			}
			times = append(times, v)
			if len(fs) > 1 {
				if c, err := strconv.ParseFloat(fs[1], 64); err == nil {
					cpuSum += c
					cpuRuns++
				}
			}
		}
	}
	if len(times) == 0 {
		return errors.New("stats: no runs")
	}
	sort.Float64s(times)
	mean := 0.0
	for _, t := range times {
		mean += t
	}
	mean /= float64(len(times))
	cpu := math.NaN()
	if cpuRuns == len(times) {
		cpu = cpuSum / float64(cpuRuns)
	}
	fmt.Printf("%d %.6f %.6f %.6f %.6f %.6f\n", len(times), median(times), times[0], times[len(times)-1], mean, cpu)
	return nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ---------------------------------------------------------------- maxrss

func cmdMaxRSS(args []string) error {
	fs := flag.NewFlagSet("maxrss", flag.ContinueOnError)
	n := fs.Int("n", 1, "runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return errors.New("maxrss: no command")
	}
	var kib []float64
	for i := 0; i < *n; i++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, io.Discard, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("maxrss: run %d: %w", i+1, err)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return errors.New("maxrss: no rusage")
		}
		kib = append(kib, float64(ru.Maxrss))
	}
	runs := slices.Clone(kib)
	sort.Float64s(kib)
	// "median max runs..." in KiB.
	fmt.Printf("%.0f %.0f", median(kib), kib[len(kib)-1])
	for _, v := range runs {
		fmt.Printf(" %.0f", v)
	}
	fmt.Println()
	return nil
}

// ---------------------------------------------------------------- inittrace

var initRe = regexp.MustCompile(`^init (\S+) @([\d.]+) ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// cmdInitTrace summarises one GODEBUG=inittrace=1 output per file: the
// medians over the files of the total and of each package.
func cmdInitTrace(args []string) error {
	if len(args) == 0 {
		return errors.New("inittrace FILE...")
	}
	type pkg struct {
		clock, bytes, allocs []float64
	}
	pkgs := map[string]*pkg{}
	var clock, bytes, allocs, done, count []float64
	for _, f := range args {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var c, by, al, last, n float64
		for line := range strings.SplitSeq(string(b), "\n") {
			m := initRe.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			at, _ := strconv.ParseFloat(m[2], 64)
			pc, _ := strconv.ParseFloat(m[3], 64)
			pb, _ := strconv.ParseFloat(m[4], 64)
			pa, _ := strconv.ParseFloat(m[5], 64)
			p := pkgs[m[1]]
			if p == nil {
				p = &pkg{}
				pkgs[m[1]] = p
			}
			p.clock, p.bytes, p.allocs = append(p.clock, pc), append(p.bytes, pb), append(p.allocs, pa)
			c, by, al, n = c+pc, by+pb, al+pa, n+1
			last = max(last, at+pc)
		}
		if n == 0 {
			return fmt.Errorf("inittrace: no `init` lines in %s (was GODEBUG=inittrace=1 set?)", f)
		}
		clock, bytes, allocs, done, count = append(clock, c), append(bytes, by), append(allocs, al), append(done, last), append(count, n)
	}
	med := func(v []float64) float64 { v = slices.Clone(v); sort.Float64s(v); return median(v) }
	fmt.Printf("  medians of %d runs: %.0f packages with init work, %.2f ms in init functions, %.0f KiB in %.0f allocations;\n"+
		"  the last init ends %.2f ms after the runtime started\n",
		len(args), med(count), med(clock), med(bytes)/1024, med(allocs), med(done))
	type row struct {
		name                 string
		clock, bytes, allocs float64
	}
	var rows []row
	for name, p := range pkgs {
		rows = append(rows, row{name, med(p.clock), med(p.bytes), med(p.allocs)})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].clock != rows[j].clock {
			return rows[i].clock > rows[j].clock
		}
		return rows[i].bytes > rows[j].bytes
	})
	fmt.Printf("  %-58s %8s %10s %7s\n", "slowest package inits (medians)", "ms", "bytes", "allocs")
	for _, r := range rows[:min(12, len(rows))] {
		fmt.Printf("  %-58s %8.3f %10.0f %7.0f\n", r.name, r.clock, r.bytes, r.allocs)
	}
	return nil
}

// ---------------------------------------------------------------- trace

// A trace line: "COMM-PID (TGID) [CPU] FLAGS TIMESTAMP: EVENT: DATA".
var lineRe = regexp.MustCompile(`^\s*(.*)-(\d+)\s+\(\s*([\d-]+)\)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+([\w]+)(.*)$`)

var kvRe = regexp.MustCompile(`(\w+)=(\S*)`)

type proc struct {
	tgid     int
	parent   int     // tgid of the forking process, 0 if unknown
	forkAt   float64 // NaN if not seen
	exitAt   float64 // group_dead exit, NaN if not seen
	execs    []execEvent
	mms      []*mmLife // address spaces owned, in order of first use
	children []int
}

type execEvent struct {
	at       float64
	filename string
}

// mmLife is one address space. The kernel names it by a hash of the
// mm_struct's address, which is reused once it is freed: a life ends when
// every counter is back to 0 (teardown), and the next event with that
// mm_id starts a new one.
type mmLife struct {
	member [4]int64 // bytes: FILE, ANON, SWAPENTS, SHMEM
	peak   int64
	atPeak [4]int64 // member at the peak
	owned  bool
}

type syscallSpan struct {
	tgid       int
	name       string
	args       string // as the enter event printed them
	start, end float64
}

type tracer struct {
	procs    map[int]*proc
	tidTgid  map[int]int
	mm       map[uint64]*mmLife  // live address spaces by mm_id
	open     map[int]syscallSpan // by tid
	syscalls []syscallSpan
	hasRSS   bool
	hasSys   bool
}

func (t *tracer) proc(tgid int) *proc {
	p := t.procs[tgid]
	if p == nil {
		p = &proc{tgid: tgid, forkAt: math.NaN(), exitAt: math.NaN()}
		t.procs[tgid] = p
	}
	return p
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func (t *tracer) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	// Fork events name the child's pid, which is a thread or a process; a
	// thread's later events show its tgid. Remember the forker until then.
	type forkInfo struct {
		parentTgid int
		at         float64
	}
	pending := map[int]forkInfo{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tid, at, event, data := atoi(m[2]), 0.0, m[6], strings.TrimPrefix(m[7], ":")
		at, _ = strconv.ParseFloat(m[5], 64)
		tgid := tid
		if !strings.HasPrefix(m[3], "-") {
			tgid = atoi(m[3])
		}
		t.tidTgid[tid] = tgid
		p := t.proc(tgid)
		if fi, ok := pending[tid]; ok {
			delete(pending, tid)
			if tgid == tid { // a new process, not a thread
				p.parent, p.forkAt = fi.parentTgid, fi.at
				t.proc(fi.parentTgid).children = append(t.proc(fi.parentTgid).children, tgid)
			}
		}
		kv := map[string]string{}
		for _, x := range kvRe.FindAllStringSubmatch(data, -1) {
			kv[x[1]] = x[2]
		}
		switch {
		case event == "sched_process_fork":
			pending[atoi(kv["child_pid"])] = forkInfo{parentTgid: tgid, at: at}
		case event == "sched_process_exec":
			p.execs = append(p.execs, execEvent{at: at, filename: kv["filename"]})
		case event == "sched_process_exit":
			if kv["group_dead"] == "true" || (kv["group_dead"] == "" && tid == tgid) {
				p.exitAt = at
			}
		case event == "rss_stat":
			t.hasRSS = true
			id, _ := strconv.ParseUint(kv["mm_id"], 10, 64)
			member := map[string]int{"MM_FILEPAGES": 0, "MM_ANONPAGES": 1, "MM_SWAPENTS": 2, "MM_SHMEMPAGES": 3}[kv["type"]]
			size, _ := strconv.ParseInt(strings.TrimSuffix(kv["size"], "B"), 10, 64)
			st := t.mm[id]
			if st == nil {
				st = &mmLife{}
				t.mm[id] = st
			}
			st.member[member] = size
			if sum := st.member[0] + st.member[1] + st.member[3]; sum > st.peak {
				st.peak, st.atPeak = sum, st.member
			}
			// The first task that runs on it owns it (a vfork child
			// runs on its parent's, already owned).
			if kv["curr"] == "1" && !st.owned {
				st.owned = true
				p.mms = append(p.mms, st)
			}
			if st.member == [4]int64{} {
				delete(t.mm, id)
			}
		case strings.HasPrefix(event, "sys_"):
			t.hasSys = true
			if strings.HasPrefix(data, "(") || strings.HasPrefix(strings.TrimSpace(data), "(") {
				t.open[tid] = syscallSpan{tgid: tgid, name: strings.TrimPrefix(event, "sys_"), args: data, start: at}
			} else if strings.Contains(data, "->") {
				if s, ok := t.open[tid]; ok && s.name == strings.TrimPrefix(event, "sys_") {
					s.end = at
					t.syscalls = append(t.syscalls, s)
					delete(t.open, tid)
				}
			}
		}
	}
	return sc.Err()
}

// image is one program a process ran: the address space after an execve,
// or the copy it started with when it forked without CLONE_VM.
type image struct {
	label string
	peak  int64 // bytes
	file  int64 // file-backed and anonymous (+ shmem) bytes at the peak
	anon  int64
}

// images aligns a process's owned address spaces with its execs: the last
// len(execs) address spaces are the exec'd programs; one more in front is
// the fork copy.
func (t *tracer) images(p *proc) []image {
	var out []image
	extra := len(p.mms) - len(p.execs)
	for i, st := range p.mms {
		label := "(fork copy before exec)"
		if k := i - extra; k >= 0 && k < len(p.execs) {
			label = p.execs[k].filename
		}
		out = append(out, image{label: label, peak: st.peak, file: st.atPeak[0], anon: st.atPeak[1] + st.atPeak[3]})
	}
	return out
}

func (p *proc) execOf(re *regexp.Regexp) (execEvent, int, bool) {
	for i, e := range p.execs {
		if re.MatchString(e.filename) {
			return e, i, true
		}
	}
	return execEvent{}, -1, false
}

// run is one `ctr run` found in the trace.
type run struct {
	host, userns, init *proc
	uidmap, gidmap     *proc
	other              []*proc // other processes in the tree
}

var (
	reProcExe = regexp.MustCompile(`^/proc/self/exe$`)
	reFdExe   = regexp.MustCompile(`^/proc/self/fd/\d+$`)
	reUIDMap  = regexp.MustCompile(`/newuidmap$`)
	reGIDMap  = regexp.MustCompile(`/newgidmap$`)
)

func (t *tracer) runs(ctrPath string) []*run {
	reCtr := regexp.MustCompile("^" + regexp.QuoteMeta(ctrPath) + "$")
	var hosts []*proc
	for _, p := range t.procs {
		if _, _, ok := p.execOf(reCtr); !ok {
			continue
		}
		// An outer ctr (`ctr unshare sh -c 'ctr run ...'`) is not a run
		// unless it has a container init of its own.
		hosts = append(hosts, p)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].execs[0].at < hosts[j].execs[0].at })
	var out []*run
	for _, h := range hosts {
		r := &run{host: h}
		var walk func(p *proc)
		walk = func(p *proc) {
			for _, c := range p.children {
				cp := t.procs[c]
				switch {
				case p == h && r.userns == nil && hasExec(cp, reProcExe):
					r.userns = cp
				case p == h && hasExec(cp, reUIDMap):
					r.uidmap = cp
				case p == h && hasExec(cp, reGIDMap):
					r.gidmap = cp
				case r.init == nil && (p == h || p == r.userns) && hasExec(cp, reFdExe):
					r.init = cp
				default:
					if _, _, ok := cp.execOf(reCtr); ok {
						continue // a nested run, reported on its own
					}
					if len(cp.execs) > 0 {
						r.other = append(r.other, cp)
					}
				}
				walk(cp)
			}
		}
		walk(h)
		if r.init == nil {
			continue // not a run (e.g. the outer `ctr unshare`)
		}
		out = append(out, r)
	}
	return out
}

func hasExec(p *proc, re *regexp.Regexp) bool { _, _, ok := p.execOf(re); return ok }

type phase struct {
	name string
	ms   []float64
}

type phases struct {
	order []string
	by    map[string]*phase
}

func (ps *phases) add(name string, from, to float64) {
	if math.IsNaN(from) || math.IsNaN(to) {
		return
	}
	if ps.by == nil {
		ps.by = map[string]*phase{}
	}
	p := ps.by[name]
	if p == nil {
		p = &phase{name: name}
		ps.by[name] = p
		ps.order = append(ps.order, name)
	}
	p.ms = append(p.ms, (to-from)*1000)
}

var mountArgsRe = regexp.MustCompile(`flags: (0x[0-9a-f]+|\d+), data: (0x[0-9a-f]+|\d+)`)

// mountArgs returns the flags of a traced mount(2) and whether it passed
// data (options).
func mountArgs(s syscallSpan) (flags uint64, data bool, ok bool) {
	m := mountArgsRe.FindStringSubmatch(s.args)
	if m == nil {
		return 0, false, false
	}
	flags, err := strconv.ParseUint(m[1], 0, 64)
	return flags, m[2] != "0", err == nil
}

// firstSyscall returns the start of the first syscall of tgid in [from, to]
// that match accepts, or NaN.
func (t *tracer) firstSyscall(tgid int, from, to float64, match func(syscallSpan) bool) float64 {
	for _, s := range t.syscalls {
		if s.tgid == tgid && s.start >= from && s.start <= to && match(s) {
			return s.start
		}
	}
	return math.NaN()
}

// lastSyscall is firstSyscall's mirror; it returns the end of the call.
func (t *tracer) lastSyscall(tgid int, from, to float64, match func(syscallSpan) bool) float64 {
	out := math.NaN()
	for _, s := range t.syscalls {
		if s.tgid == tgid && s.start >= from && s.start <= to && match(s) {
			out = s.end
		}
	}
	return out
}

// Mount flags the markers look for.
const (
	msRdonly = 0x1
	msBind   = 0x1000
	msRec    = 0x4000
	msSlave  = 0x80000
)

// syscallsOf sums the traced syscalls of tgid that started between from
// and to, by name.
func (t *tracer) syscallsOf(tgid int, from, to float64) map[string]syscallSum {
	out := map[string]syscallSum{}
	for _, s := range t.syscalls {
		if s.tgid == tgid && s.start >= from && s.start <= to {
			x := out[s.name]
			x.ms += (s.end - s.start) * 1000
			x.n++
			out[s.name] = x
		}
	}
	return out
}

type syscallSum struct {
	ms float64
	n  int
}

// syscallTable collects, per role and syscall, one sum per run.
type syscallTable struct {
	roles []string
	runs  map[string]int
	by    map[string]map[string][]syscallSum
}

func (st *syscallTable) add(role string, sums map[string]syscallSum) {
	if st.by == nil {
		st.by, st.runs = map[string]map[string][]syscallSum{}, map[string]int{}
	}
	if _, ok := st.by[role]; !ok {
		st.by[role] = map[string][]syscallSum{}
		st.roles = append(st.roles, role)
	}
	st.runs[role]++
	for name, x := range sums {
		st.by[role][name] = append(st.by[role][name], x)
	}
}

func (st *syscallTable) print() {
	fmt.Printf("  %-62s %9s %9s\n", "traced syscalls by process (median over runs)", "ms", "calls")
	for _, role := range st.roles {
		type row struct {
			name  string
			ms, n float64
		}
		var rows []row
		for name, xs := range st.by[role] {
			var ms, n []float64
			for _, x := range xs {
				ms, n = append(ms, x.ms), append(n, float64(x.n))
			}
			// Runs without the call count as 0.
			for len(ms) < st.runs[role] {
				ms, n = append(ms, 0), append(n, 0)
			}
			sort.Float64s(ms)
			sort.Float64s(n)
			rows = append(rows, row{name, median(ms), median(n)})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].ms > rows[j].ms })
		fmt.Printf("    %s\n", role)
		for _, r := range rows {
			fmt.Printf("      %-58s %9.2f %9.0f\n", r.name, r.ms, r.n)
		}
	}
}

func cmdTrace(args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	ctrPath := fs.String("ctr", "", "path of the ctr binary as executed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ctrPath == "" || fs.NArg() != 1 {
		return errors.New("trace -ctr PATH FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	t := &tracer{procs: map[int]*proc{}, tidTgid: map[int]int{}, mm: map[uint64]*mmLife{}, open: map[int]syscallSpan{}}
	if err := t.parse(f); err != nil {
		return err
	}
	runs := t.runs(*ctrPath)
	if len(runs) == 0 {
		return errors.New("trace: no `ctr run` with a container init found (was the trace filtered to the right pid?)")
	}
	var ps phases
	var sc syscallTable
	rss := map[string][][3]float64{} // peak, file, anon (KiB)
	var rssOrder []string
	addRSS := func(role string, im image) {
		if im.peak <= 0 {
			return
		}
		if _, ok := rss[role]; !ok {
			rssOrder = append(rssOrder, role)
		}
		rss[role] = append(rss[role], [3]float64{float64(im.peak) / 1024, float64(im.file) / 1024, float64(im.anon) / 1024})
	}
	nested := 0
	for _, r := range runs {
		h, u, in := r.host, r.userns, r.init
		hExec, _, _ := h.execOf(regexp.MustCompile("^" + regexp.QuoteMeta(*ctrPath) + "$"))
		t0 := hExec.at
		iExec, k, _ := in.execOf(reFdExe)
		cmdExec, cmdExit := math.NaN(), in.exitAt
		if k+1 < len(in.execs) {
			cmdExec = in.execs[k+1].at
		}
		// The process that created the container init: ctr-userns, or the
		// ctr process itself when it already ran in the namespace.
		mon := h
		if u != nil {
			mon = u
		} else {
			nested++
		}
		ps.add("total: ctr exec -> ctr exit", t0, h.exitAt)
		isMount := func(want func(flags uint64, data bool) bool) func(syscallSpan) bool {
			return func(s syscallSpan) bool {
				if s.name != "mount" {
					return false
				}
				f, d, ok := mountArgs(s)
				return ok && want(f, d)
			}
		}
		// Markers in the process that creates the container (traced
		// syscalls only: NaN when the events were not recorded).
		childInit := t.firstSyscall(mon.tgid, t0, in.forkAt, isMount(func(f uint64, d bool) bool { return f&(msRec|msSlave) == msRec|msSlave }))
		storeOpen := t.firstSyscall(mon.tgid, t0, in.forkAt, isMount(func(f uint64, d bool) bool { return f&msBind != 0 }))
		rootfsMounted := t.firstSyscall(mon.tgid, t0, in.forkAt, isMount(func(f uint64, d bool) bool { return f == 0 && d }))
		sealed := t.firstSyscall(mon.tgid, t0, in.forkAt, isMount(func(f uint64, d bool) bool { return f&msRdonly != 0 && d }))
		initFirstMount := t.firstSyscall(in.tgid, iExec.at, cmdExec, func(s syscallSpan) bool { return s.name == "mount" })
		unmounted := t.firstSyscall(mon.tgid, cmdExit, mon.exitAt, func(s syscallSpan) bool { return s.name == "umount" })
		deleted := t.lastSyscall(mon.tgid, cmdExit, mon.exitAt, func(s syscallSpan) bool { return s.name == "unlinkat" })

		if u != nil {
			mapsDone := u.execs[0].at
			if r.uidmap != nil {
				mapsDone = max(mapsDone, r.uidmap.exitAt)
			}
			if r.gidmap != nil {
				mapsDone = max(mapsDone, r.gidmap.exitAt)
			}
			uExec, _, _ := u.execOf(reProcExe)
			ps.add("1 ctr (host): exec -> clone of ctr-userns", t0, u.forkAt)
			ps.add("2 userns entry: clone -> ID maps written", u.forkAt, mapsDone)
			ps.add("  2a clone (fork, no CLONE_VM) -> execve done", u.forkAt, uExec.at)
			if r.uidmap != nil {
				ps.add("  2b newuidmap: fork -> exit", r.uidmap.forkAt, r.uidmap.exitAt)
			}
			if r.gidmap != nil {
				ps.add("  2c newgidmap: fork -> exit", r.gidmap.forkAt, r.gidmap.exitAt)
			}
			ps.add("  (ctr-userns Go start: execve -> ChildInit, overlaps 2)", uExec.at, childInit)
			ps.add("3 ctr-userns: ID maps written -> clone of ctr-init", mapsDone, in.forkAt)
			ps.add("  3a -> ChildInit done (its rslave mount)", mapsDone, childInit)
		} else {
			ps.add("3 ctr (in the namespace): exec -> clone of ctr-init", t0, in.forkAt)
			ps.add("  3a -> first mount (Go start, cobra)", t0, childInit)
		}
		ps.add("  3b -> store open (overlay driver's private bind mount)", childInit, storeOpen)
		ps.add("  3c -> rootfs mounted (image lookup, create, mount)", storeOpen, rootfsMounted)
		ps.add("  3d -> sealed init mounted (spec, /etc files, config)", rootfsMounted, sealed)
		ps.add("  3e -> clone of ctr-init", sealed, in.forkAt)
		ps.add("4 ctr-init: clone -> execve of the command", in.forkAt, cmdExec)
		ps.add("  4a clone (vfork) -> execve of the sealed ctr done", in.forkAt, iExec.at)
		ps.add("  4b -> first mount (Go start, package init, config)", iExec.at, initFirstMount)
		ps.add("  4c -> execve of the command (mounts, pivot_root, seccomp)", initFirstMount, cmdExec)
		ps.add("5 the command (busybox true)", cmdExec, cmdExit)
		ps.add("6 teardown: command exit -> "+roleName(u != nil)+" exit", cmdExit, mon.exitAt)
		ps.add("  6a -> rootfs unmounted (wait, state saved)", cmdExit, unmounted)
		ps.add("  6b -> layer deleted (last unlinkat)", unmounted, deleted)
		ps.add("  6c -> exit (store records, close, Go exit)", deleted, mon.exitAt)
		if u != nil {
			ps.add("7 ctr (host): ctr-userns exit -> exit", u.exitAt, h.exitAt)
		}
		if t.hasSys {
			// Per process role, the traced syscalls' time and count.
			roles := []struct {
				name     string
				tgid     int
				from, to float64
			}{
				{"ctr (host)", h.tgid, t0, h.exitAt},
				{roleName(u != nil) + ", before ctr-init", mon.tgid, t0, in.forkAt},
				{roleName(u != nil) + ", after the command", mon.tgid, cmdExit, mon.exitAt},
				{"ctr-init", in.tgid, in.forkAt, cmdExec},
			}
			if u == nil {
				roles = roles[1:]
			}
			for _, ro := range roles {
				sc.add(ro.name, t.syscallsOf(ro.tgid, ro.from, ro.to))
			}
		}
		if t.hasRSS {
			for _, im := range t.images(h) {
				if im.label == *ctrPath {
					addRSS("ctr (host process)", im)
				}
			}
			if u != nil {
				for _, im := range t.images(u) {
					if reProcExe.MatchString(im.label) {
						addRSS("ctr-userns (user-namespace child)", im)
					} else if !strings.HasPrefix(im.label, "/") {
						addRSS("ctr-userns fork copy before its execve", im)
					}
				}
			}
			for _, im := range t.images(in) {
				switch {
				case reFdExe.MatchString(im.label):
					addRSS("ctr-init (container init, before exec)", im)
				case strings.HasPrefix(im.label, "/"):
					addRSS("the command ("+im.label+")", im)
				}
			}
			for _, x := range []*proc{r.uidmap, r.gidmap} {
				if x != nil {
					for _, im := range t.images(x) {
						if strings.HasPrefix(im.label, "/") {
							addRSS(im.label, im)
						}
					}
				}
			}
			for _, o := range r.other {
				for _, im := range t.images(o) {
					if strings.HasPrefix(im.label, "/") {
						addRSS("other: "+im.label, im)
					}
				}
			}
		}
	}
	fmt.Printf("  %d runs traced", len(runs))
	if nested > 0 {
		fmt.Printf(" (%d already inside the user namespace)", nested)
	}
	fmt.Println()
	fmt.Printf("  %-62s %9s %9s %9s\n", "phase (ms; from sched/syscall tracepoints)", "median", "min", "max")
	for _, name := range ps.order {
		v := slices.Clone(ps.by[name].ms)
		sort.Float64s(v)
		fmt.Printf("  %-62s %9.2f %9.2f %9.2f\n", name, median(v), v[0], v[len(v)-1])
	}
	if t.hasSys {
		sc.print()
	}
	if t.hasRSS {
		fmt.Printf("  %-62s %9s %9s %9s %9s\n", "peak RSS per address space (KiB; kmem:rss_stat, exact)", "median", "max", "file", "anon")
		for _, role := range rssOrder {
			var peak, file, anon []float64
			for _, x := range rss[role] {
				peak, file, anon = append(peak, x[0]), append(file, x[1]), append(anon, x[2])
			}
			sort.Float64s(peak)
			sort.Float64s(file)
			sort.Float64s(anon)
			fmt.Printf("  %-62s %9.0f %9.0f %9.0f %9.0f\n", role, median(peak), peak[len(peak)-1], median(file), median(anon))
		}
		fmt.Printf("  %-62s\n", "(file and anon: medians of the split at the peak; anon includes shmem)")
	}
	return nil
}

func roleName(userns bool) string {
	if userns {
		return "ctr-userns"
	}
	return "ctr"
}
