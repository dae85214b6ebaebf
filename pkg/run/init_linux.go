package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/ctr-project/ctr/pkg/run/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Init is the container's first process. It runs in the new namespaces
// (see Start), reads its configuration, builds the container and executes
// the command, or becomes a reaper for it with Options.Init. It does not
// return.
func Init() {
	// Credentials, capabilities and the seccomp filter are per thread in
	// Linux; everything from here to execve happens on this one thread.
	runtime.LockOSThread()
	// Only failures return: a successful exec never does.
	exitWithFailure(initContainer())
}

// exitWithFailure reports err on the status socket and exits with the
// conventional status: 127 command not found, 126 not executable, 125
// anything else (the parent turns the message back into the error).
func exitWithFailure(err error) {
	msg := statusMessage{Kind: "setup", Msg: err.Error()}
	code := 125
	var execErr *ExecError
	if errors.As(err, &execErr) {
		msg.Path, msg.Msg = execErr.Path, execErr.Msg
		msg.Kind, code = "cannotexec", 126
		if errors.Is(err, ErrCommandNotFound) {
			msg.Kind, code = "notfound", 127
		}
	}
	_ = sendStatus(statusFd, msg, -1)
	os.Exit(code)
}

func initContainer() error {
	if os.Getenv("_CTR_SETNS") != "" {
		// Without the constructor this process would run in the
		// parent's network namespace instead of the one to share.
		return errors.New("the container init cannot join a network namespace: its binary must import github.com/ctr-project/ctr/pkg/rootless/nsjoin")
	}
	cf := os.NewFile(configFd, "config")
	var cfg initConfig
	err := json.NewDecoder(cf).Decode(&cfg)
	cf.Close()
	if err != nil {
		return fmt.Errorf("read container config: %w", err)
	}
	spec := cfg.Spec
	if spec == nil || spec.Process == nil {
		return errors.New("container config has no process")
	}
	if cfg.Created {
		// The namespaces exist: the parent may attach the network while
		// the root filesystem is built below.
		if err := sendStatus(statusFd, statusMessage{Kind: "created"}, -1); err != nil {
			return fmt.Errorf("report created: %w", err)
		}
	}
	var filter *seccomp.Filter
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		// Compiled before the root changes and privileges drop, loaded
		// last, right before execve.
		if filter, err = seccomp.Compile(spec.Linux.Seccomp); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
	}

	if err := setupRootfs(cfg.Rootfs, spec); err != nil {
		return err
	}
	if err := pivotRoot(cfg.Rootfs); err != nil {
		return err
	}
	if err := finishRootfs(spec); err != nil {
		return err
	}
	if err := setupConsole(spec.Process.Terminal, !cfg.Init); err != nil {
		return err
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remountReadonly("/"); err != nil {
			return err
		}
	}
	if spec.Hostname != "" && hasNamespace(spec, specs.UTSNamespace) {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if hasNamespace(spec, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := setRlimits(spec.Process.Rlimits); err != nil {
		return err
	}
	umask := 0o022
	if spec.Process.User.Umask != nil {
		umask = int(*spec.Process.User.Umask)
	}
	unix.Umask(umask)

	if cfg.WaitGo {
		if err := awaitGo(); err != nil {
			return err
		}
	}
	if cfg.Init {
		return reap(spec, filter)
	}
	path, err := finalize(spec.Process, filter)
	if err != nil {
		return err
	}
	if err := rearmParentDeath(); err != nil {
		return err
	}
	err = unix.Exec(path, spec.Process.Args, spec.Process.Env)
	return execError(spec.Process.Args[0], err)
}

// rearmParentDeath sets the parent-death signal again. The kernel clears
// it when a process changes its credentials, so a container running as a
// non-root user would otherwise outlive its monitor. If the parent died
// before this, the status socket's peer is gone: then give up, too.
func rearmParentDeath() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	fds := []unix.PollFd{{Fd: statusFd, Events: unix.POLLRDHUP}}
	if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0 {
		return errors.New("the parent exited while the container started")
	}
	return nil
}

// finalize switches this thread to the container's user and capabilities,
// closes inherited fds on exec, enters the working directory, sets
// no_new_privs and loads the seccomp filter. It returns the resolved
// command path. Nothing that needs privilege may follow it. Init and
// ExecInit share it, so a process exec'd into a container is confined
// exactly as the container's own.
func finalize(proc *specs.Process, filter *seccomp.Filter) (string, error) {
	// Every fd we inherited or opened (config, status socket, the root
	// handle, ...) must not reach the container process (CVE-2024-21626).
	if err := closeExecFrom(3); err != nil {
		return "", err
	}
	// Loading a filter without no_new_privs needs CAP_SYS_ADMIN, which
	// the container usually does not keep: then it is loaded before the
	// capabilities drop (the profile allows what remains: capset, setuid,
	// chdir, execve). With no_new_privs it is loaded as late as possible.
	if filter != nil && !proc.NoNewPrivileges {
		if err := seccomp.Load(filter); err != nil {
			return "", err
		}
	}
	if err := applyUserAndCaps(proc); err != nil {
		return "", err
	}
	if err := enterWorkdir(proc.Cwd); err != nil {
		return "", err
	}
	path, err := lookPath(proc.Args[0], proc.Env)
	if err != nil {
		return "", err
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if filter != nil && proc.NoNewPrivileges {
		if err := seccomp.Load(filter); err != nil {
			return "", err
		}
	}
	return path, nil
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// enterWorkdir changes into the process's working directory as the
// container user, then checks the kernel agrees we are inside the root:
// a directory reached through a leaked fd would show as "(unreachable)"
// (CVE-2024-21626, runc's verifyCwd).
func enterWorkdir(cwd string) error {
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("working directory %s: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("working directory %s: %w", cwd, err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working directory %s is outside the container (%s)", cwd, wd)
	}
	return nil
}

// lookPath finds the command in the container's PATH, as execvp would.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", execError(file, err)
		}
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var denied error
	for dir := range strings.SplitSeq(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, unix.EACCES) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", execError(file, denied)
	}
	return "", &ExecError{Path: file, Err: ErrCommandNotFound, Msg: "executable file not found in $PATH"}
}

func checkExecutable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EACCES
	}
	return unix.Access(p, unix.X_OK)
}

// execError classifies an execve failure: ENOENT is 127 (also for a missing
// interpreter or loader), the rest 126.
func execError(path string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return &ExecError{Path: path, Err: ErrCommandNotFound, Msg: "no such file or directory"}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &ExecError{Path: path, Err: ErrCannotExecute, Msg: errno.Error()}
	}
	return &ExecError{Path: path, Err: ErrCannotExecute, Msg: err.Error()}
}

// closeExecFrom marks every fd from minFd up close-on-exec (runc's
// CloseExecFrom): it cannot close them outright, the Go runtime owns some.
func closeExecFrom(minFd int) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	for _, e := range entries {
		var fd int
		if _, err := fmt.Sscanf(e.Name(), "%d", &fd); err != nil || fd < minFd {
			continue
		}
		// Errors are for fds that vanished since the listing (the one
		// ReadDir used).
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	return nil
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitNames[l.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %s", l.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("setrlimit %s=%d:%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}

// loopbackUp brings lo up in the container's new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// awaitGo blocks until the parent says "go" (its BeforeExec is done).
func awaitGo() error {
	msg, fd, err := readStatusFd(statusFd)
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		return fmt.Errorf("wait for the network: %w", err)
	}
	if msg.Kind != "go" {
		return fmt.Errorf("unexpected message %q from the parent", msg.Kind)
	}
	return nil
}
