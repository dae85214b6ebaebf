package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/ctr-project/ctr/pkg/run/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecName is argv[0] of the process Exec starts to join a container, whose
// Go stage is ExecInit. The caller registers ExecInit under this name with
// its re-exec dispatcher, and imports github.com/ctr-project/ctr/pkg/run/nsenter
// for the C constructor that joins the namespaces before the Go runtime
// starts.
const ExecName = "ctr-exec"

// How Exec works (process P calls it, outside every ctr user namespace):
//
//  1. P pins the container's init with a pidfd and records the identity of
//     its namespaces.
//  2. P re-executes its binary (ExecName) with the target pid in the
//     environment. Before the Go runtime starts, the nsenter constructor
//     joins the container's user namespace, becomes root in it, re-executes
//     from a read-only overlay view of the binary, or a sealed memfd copy
//     where overlay fails (CVE-2019-5736: see nsenter.c), joins the other
//     namespaces and forks the joined process
//     with CLONE_PARENT, so that it is P's child; the intermediate process
//     reports the child's pid on the sync pipe and exits.
//  3. Only then does P send the configuration (the process, and the seccomp
//     filter it compiled meanwhile): every failure from here on can kill
//     the joined process, and nothing runs in the container on behalf of a
//     process P does not know.
//  4. ExecInit checks it is in the container's namespaces, sets up the
//     console, rlimits and umask, and shares finalize with Init: fds, seccomp,
//     user and capabilities, working directory, no_new_privs, then execve.
//     The status socket reports failures and closes on exec, as for Start.
//
// The joiner keeps stdio and fds 3..6 (after Init's configFd and statusFd);
// the C stage closes every fd above the last of these.
const (
	syncFd  = 5 // pipe from the C stages: "pid N SEAL" or "error MSG", then EOF
	pidfdFd = 6 // P's pidfd of the target, for the C stage's liveness check
)

// The environment the nsenter constructor reads (nsenter.c).
const (
	envNsenterPid   = "_CTR_NSENTER_PID"
	envNsenterSync  = "_CTR_NSENTER_SYNC"
	envNsenterPidfd = "_CTR_NSENTER_PIDFD"
	envNsenterSeal  = "_CTR_NSENTER_SEAL"
)

// execNamespaces are the namespaces of the container a joined process must
// share, by their /proc/PID/ns names.
var execNamespaces = []string{"user", "mnt", "uts", "ipc", "net", "pid", "cgroup"}

// sealMode "memfd" makes the joiner copy the binary into a sealed memfd
// instead of trying the overlay first (tests and benchmarks).
var sealMode string

// testHookJoined, when set, runs with the joined process's pid after it
// exists and before it is sent its configuration, i.e. while it waits in
// its Go stage (tests).
var testHookJoined func(pid int)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	// ConsoleSize sizes the pty of a process with a terminal.
	ConsoleSize *unix.Winsize
	// Pid is the container's init (or any of its processes), as seen from
	// the caller. The caller must hold privilege over its namespaces: on
	// the host, the user who created the container's user namespace.
	Pid int
	// Process is what to run: args, env, cwd, user (uid, gid, additional
	// gids, umask), capabilities, noNewPrivileges, terminal and rlimits.
	// The rest of the runtime-spec Process (AppArmor, SELinux, OOM score,
	// scheduling) is ignored, as Start ignores it.
	Process *specs.Process
	// Seccomp is the container's filter; nil means none.
	Seccomp *specs.LinuxSeccomp
	// Stdin, Stdout and Stderr become the process's stdio when it has no
	// terminal. Nil means /dev/null.
	Stdin, Stdout, Stderr *os.File
	// Executable is the binary that joins the container: one that imports
	// package nsenter and dispatches ExecName to ExecInit. Empty means
	// this process's own; a smaller binary starts faster.
	Executable string
}

// execConfig is what ExecInit reads from configFd.
type execConfig struct {
	Process *specs.Process `json:"process"`
	// Seccomp is the container's filter, compiled by Exec while the joiner
	// starts: the joined process neither decodes the profile (tens of KB
	// of JSON) nor compiles it, which took ~2 ms of the exec's latency.
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
	// Namespaces identify the container's namespaces by /proc/PID/ns
	// name: ExecInit refuses to run anywhere else.
	Namespaces map[string]nsID `json:"namespaces"`
}

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// Exec runs a process in the namespaces of the running container process
// o.Pid. It returns once the process has executed its command, or with an
// *ExecError (command not found, not executable) or *SetupError after it
// is gone. The returned Process is a child of the caller, which must wait
// for it (and must not reap children it did not start with wait(-1)). It
// has no parent-death signal: like a podman exec session, it outlives a
// caller that is killed, and the caller decides what to signal.
//
// Exec is meant for the host side, which owns every user namespace the
// user created: from a sibling user namespace (another ctr invocation's)
// joining fails with EPERM. The binary must import
// github.com/ctr-project/ctr/pkg/run/nsenter and dispatch ExecName to
// ExecInit.
func Exec(o ExecOptions) (_ *Process, retErr error) {
	if o.Process == nil || len(o.Process.Args) == 0 {
		return nil, errors.New("exec: no command")
	}
	if o.Pid <= 0 {
		return nil, fmt.Errorf("exec: bad container pid %d", o.Pid)
	}
	// The pidfd pins the target: the C stage checks that it is still
	// alive after opening its namespaces, so a recycled pid is caught.
	pidfd, err := unix.PidfdOpen(o.Pid, 0)
	if err != nil {
		return nil, fmt.Errorf("exec in container process %d: %w", o.Pid, err)
	}
	pidFile := os.NewFile(uintptr(pidfd), "pidfd")
	defer pidFile.Close()
	nss, err := namespaceIDs(fmt.Sprintf("/proc/%d/ns", o.Pid))
	if err != nil {
		return nil, fmt.Errorf("exec in container process %d: %w", o.Pid, err)
	}

	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer configR.Close()
	defer configW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncR.Close()
	defer syncW.Close()
	statusParent, statusChild, err := statusSocket("status-exec")
	if err != nil {
		return nil, err
	}
	defer statusParent.Close()
	defer statusChild.Close()

	env := []string{
		envNsenterPid + "=" + strconv.Itoa(o.Pid),
		envNsenterSync + "=" + strconv.Itoa(syncFd),
		envNsenterPidfd + "=" + strconv.Itoa(pidfdFd),
	}
	if sealMode != "" {
		env = append(env, envNsenterSeal+"="+sealMode)
	}
	exe := o.Executable
	if exe == "" {
		// The running binary, whatever its path now says.
		exe = "/proc/self/exe"
	}
	cmd := &exec.Cmd{
		// The C stage re-executes from a sealed view of it before
		// entering the container.
		Path: exe,
		Args: []string{ExecName},
		// Nothing of ours: the Go runtime of the joined process reads
		// GODEBUG and friends, and the command gets Process.Env.
		Env:        env,
		ExtraFiles: []*os.File{configR, statusChild, syncW, pidFile}, // fds 3, 4, 5, 6
	}
	if !o.Process.Terminal {
		if o.Stdin != nil {
			cmd.Stdin = o.Stdin
		}
		if o.Stdout != nil {
			cmd.Stdout = o.Stdout
		}
		if o.Stderr != nil {
			cmd.Stderr = o.Stderr
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the joining process: %w", err)
	}
	// The intermediate process exits right after its report; reaping it
	// can wait until the joined process runs.
	defer func() { _ = cmd.Wait() }()
	configR.Close()
	statusChild.Close()
	syncW.Close()
	pidFile.Close()

	type compiled struct {
		filter *seccomp.Filter
		err    error
	}
	filterc := make(chan compiled, 1)
	go func() {
		var c compiled
		if o.Seccomp != nil {
			c.filter, c.err = seccomp.Compile(o.Seccomp)
		}
		filterc <- c
	}()

	pid, seal, joinErr := readJoined(syncR)
	if joinErr != nil {
		// A joined process that exists anyway (the intermediate died
		// before reporting it) gets EOF for its configuration and exits.
		configW.Close()
		// Without the constructor, ExecInit ran in the intermediate
		// process and said why; else this is EOF once it has exited.
		if msg, _, err := readStatus(statusParent); err == nil {
			return nil, msg.err()
		}
		return nil, joinErr
	}
	// A pidfd when the kernel has them: the joined process is our child
	// and stays a zombie until we wait, so its pid cannot be reused.
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	p := &Process{proc: proc, Pid: pid, seal: seal}
	defer func() {
		if retErr != nil {
			_ = proc.Kill()
			_, _ = proc.Wait()
			if p.Console != nil {
				p.Console.Close()
			}
		}
	}()
	if testHookJoined != nil {
		testHookJoined(pid)
	}
	c := <-filterc
	if c.err != nil {
		return nil, fmt.Errorf("seccomp: %w", c.err)
	}
	cfg := execConfig{Process: o.Process, Namespaces: nss}
	if c.filter != nil {
		// Only what Load needs: not the lists of skipped syscalls.
		cfg.Seccomp = &seccomp.Filter{Program: c.filter.Program, Flags: c.filter.Flags, Arch: c.filter.Arch}
	}
	err = json.NewEncoder(configW).Encode(cfg)
	configW.Close()
	if err != nil {
		return nil, fmt.Errorf("send config to the joined process: %w", err)
	}
	if err := awaitExec(statusParent, p, "joined process", &gate{consoleSize: o.ConsoleSize}); err != nil {
		return nil, err
	}
	return p, nil
}

// readJoined reads the C stages' report: the joined process's pid and how
// the binary was sealed, or their error.
func readJoined(sync *os.File) (pid int, seal string, err error) {
	// One write of less than PIPE_BUF: one read gets all of it.
	buf := make([]byte, 1024)
	n, err := sync.Read(buf)
	if n == 0 {
		return 0, "", &SetupError{Msg: fmt.Sprintf("joining the container failed without a report (%v)", err)}
	}
	msg := string(buf[:n])
	if rest, ok := strings.CutPrefix(msg, "error "); ok {
		return 0, "", &SetupError{Msg: rest}
	}
	rest, ok := strings.CutPrefix(msg, "pid ")
	if !ok {
		return 0, "", &SetupError{Msg: fmt.Sprintf("joining the container: bad report %q", msg)}
	}
	num, seal, _ := strings.Cut(rest, " ")
	pid, err = strconv.Atoi(num)
	if err != nil || pid <= 0 {
		return 0, "", &SetupError{Msg: fmt.Sprintf("joining the container: bad report %q", msg)}
	}
	return pid, seal, nil
}

// namespaceIDs identifies the namespaces in dir (/proc/PID/ns).
func namespaceIDs(dir string) (map[string]nsID, error) {
	ids := make(map[string]nsID, len(execNamespaces))
	for _, name := range execNamespaces {
		var st unix.Stat_t
		p := dir + "/" + name
		if err := unix.Stat(p, &st); err != nil {
			return nil, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		ids[name] = nsID{Dev: st.Dev, Ino: st.Ino}
	}
	return ids, nil
}

// ExecInit is the Go stage of a process Exec runs: it starts inside every
// namespace of the container (the nsenter constructor put it there), as
// root in the container's user namespace with every capability in it. It
// reads its configuration, confines itself exactly as the container's init
// confines the container's command, and executes the command. It does not
// return.
func ExecInit() {
	// As in Init: credentials, capabilities and the seccomp filter are per
	// thread; everything up to execve stays on this one.
	runtime.LockOSThread()
	exitWithFailure(execCommand())
}

func execCommand() error {
	// The constructor removes its variables once it has joined. Still
	// here: it never ran (a binary built without cgo or without the
	// nsenter import), and this is the host. Say so before the parent
	// sends anything (it waits for the joined pid first).
	if os.Getenv(envNsenterPid) != "" {
		return errors.New("exec: the process did not join the container: build with cgo and import github.com/ctr-project/ctr/pkg/run/nsenter")
	}
	cf := os.NewFile(configFd, "config")
	var cfg execConfig
	err := json.NewDecoder(cf).Decode(&cfg)
	cf.Close()
	if err != nil {
		return fmt.Errorf("read exec config: %w", err)
	}
	if err := checkNamespaces(cfg.Namespaces); err != nil {
		return err
	}
	proc := cfg.Process
	if proc == nil || len(proc.Args) == 0 {
		return errors.New("exec config has no command")
	}
	if err := setupExecConsole(proc.Terminal); err != nil {
		return err
	}
	if err := setRlimits(proc.Rlimits); err != nil {
		return err
	}
	umask := 0o022
	if proc.User.Umask != nil {
		umask = int(*proc.User.Umask)
	}
	unix.Umask(umask)
	// finalize loads the filter (see there for when).
	path, err := finalize(proc, cfg.Seccomp)
	if err != nil {
		return err
	}
	err = unix.Exec(path, proc.Args, proc.Env)
	return execError(proc.Args[0], err)
}

// checkNamespaces verifies that this process is in the namespaces the
// parent found the container in. /proc is the container's by now: the
// mount namespace was joined.
func checkNamespaces(want map[string]nsID) error {
	if len(want) != len(execNamespaces) {
		return errors.New("exec config does not identify the container's namespaces")
	}
	got, err := namespaceIDs("/proc/self/ns")
	if err != nil {
		return err
	}
	for _, name := range execNamespaces {
		if got[name] != want[name] {
			return fmt.Errorf("exec: the process is not in the container's %s namespace", name)
		}
	}
	return nil
}
