// The C half of run.Exec: joining a running container's namespaces before
// the Go runtime starts. See nsenter.go for why this cannot be Go, and
// exec_linux.go in pkg/run for the Go half and the protocol.
//
// run.Exec (the host-side parent, P) re-executes its binary with
// _CTR_NSENTER_PID set. The constructor below then runs in two stages of
// one process, the "joiner", plus a fork:
//
//   stage 1 (executed from P's own binary, host namespaces):
//     drop fds P leaked, open /proc/PID/ns/*, check PID is still the
//     process P pinned with a pidfd, join the user namespace, become root
//     in it, make a read-only overlay view of the binary in a private mount
//     namespace (or a sealed memfd copy), re-execute from it;
//   stage 2 (executed from the sealed view, still outside the container's
//     PID namespace and so invisible to the container):
//     join the other namespaces, fork with CLONE_PARENT, report the child's
//     pid to P and exit;
//   the child returns from the constructor into the Go runtime, inside every
//     namespace of the container: run.ExecInit.
//
// Every failure writes "error <what>: <errno text>" to the sync pipe and
// exits 125; success writes "pid <pid> <seal>". Without _CTR_NSENTER_PID
// the constructor does nothing, so every other start of the binary is
// unaffected.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

// The new mount API (Linux 5.2). glibc older than 2.36 has no wrappers and
// its headers may lack the constants; the syscall numbers are the same on
// every architecture since 5.1 unified them.
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

// The environment protocol with run.Exec (exec_linux.go) and between the
// two stages. The values are decimal numbers unless said otherwise.
#define ENV_PID "_CTR_NSENTER_PID"     // target pid, as P sees it
#define ENV_SYNC "_CTR_NSENTER_SYNC"   // fd: the pipe to P
#define ENV_PIDFD "_CTR_NSENTER_PIDFD" // fd: P's pidfd of the target (stage 1)
#define ENV_SEAL "_CTR_NSENTER_SEAL"   // "memfd" forces the copy (tests); stage 2: what stage 1 used
#define ENV_FDS "_CTR_NSENTER_FDS"     // stage 2: namespace fds, -1 for skipped, in table order

extern char **environ;

static int sync_fd = -1;
static int target_pid;
// The step of seal_overlay that failed, for the fallback's report.
static const char *seal_step = "";

// fail reports to P and exits. The message names what failed; err, when not
// zero, is appended as the errno text.
static void fail(int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(int err, const char *fmt, ...)
{
	char msg[1024];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "error ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (err != 0)
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	n = strlen(msg);
	// One write, smaller than PIPE_BUF: P reads it whole or not at all.
	if (sync_fd < 0 || write(sync_fd, msg, n) < 0) {
		msg[n++] = '\n';
		if (write(STDERR_FILENO, msg, n) < 0) {
			// Nothing left to report to.
		}
	}
	_exit(125);
}

static int env_int(const char *name, int required)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL) {
		if (required)
			fail(0, "%s is not set", name);
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		fail(0, "bad %s=%.32s", name, s);
	return (int)v;
}

// The namespaces, in the order they are joined. User first: joining it
// gives every capability in it, which the others require (they belong to
// it). Mount last: setns(CLONE_NEWNS) moves root and cwd into the
// container, after which the host's /proc/self is out of reach. This is
// the order nsenter(1) uses. The time namespace is left alone: ctr never
// creates one.
static struct {
	const char *name; // as in /proc/PID/ns
	int type;
	int fd;
} nss[] = {
	{"user", CLONE_NEWUSER, -1}, {"cgroup", CLONE_NEWCGROUP, -1}, {"ipc", CLONE_NEWIPC, -1},
	{"uts", CLONE_NEWUTS, -1},   {"net", CLONE_NEWNET, -1},       {"pid", CLONE_NEWPID, -1},
	{"mnt", CLONE_NEWNS, -1},
};
#define NNS (sizeof(nss) / sizeof(nss[0]))

// open_namespaces opens every namespace of the target before joining any,
// so that all of them belong to the same process, and drops the ones this
// process is already in: setns into one's own user namespace is EINVAL, and
// joining a namespace the container shares with the host (--network=host)
// would need privilege over the host's.
static void open_namespaces(int pidfd)
{
	char path[64];
	struct stat target, self;
	size_t i;

	for (i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", target_pid, nss[i].name);
		nss[i].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (nss[i].fd < 0)
			fail(errno, "open %s namespace of container process %d", nss[i].name, target_pid);
	}
	// P opened the pidfd before starting us. If the process it names is
	// still alive now, the pid was never reused in between, so the files
	// above are the container's, not those of a process that got its pid.
	if (syscall(__NR_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		fail(errno, "container process %d", target_pid);
	close(pidfd);
	for (i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", nss[i].name);
		if (fstat(nss[i].fd, &target) < 0 || stat(path, &self) < 0)
			fail(errno, "stat %s namespace", nss[i].name);
		if (target.st_dev == self.st_dev && target.st_ino == self.st_ino) {
			close(nss[i].fd);
			nss[i].fd = -1;
		}
	}
}

// become_root makes every id 0 in the user namespace just joined, and
// drops the host user's supplementary groups where the namespace allows
// setgroups (it does not in single-ID mode: then the groups stay, as they
// do for the container's own processes, which inherit them the same way).
static void become_root(void)
{
	if (setresgid(0, 0, 0) < 0)
		fail(errno, "setresgid 0 in the container's user namespace");
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(errno, "setgroups in the container's user namespace");
	if (setresuid(0, 0, 0) < 0)
		fail(errno, "setresuid 0 in the container's user namespace");
}

// seal_overlay returns an O_PATH fd for a read-only view of this binary, or
// -1 with errno set. The container's processes can reach the executable of
// anything running in their PID namespace through /proc/PID/exe, and the
// command may itself be /proc/self/exe: with the real file, a container
// root (the file's owner, rootless) could rewrite ctr on the host
// (CVE-2019-5736). Stage 2 and the Go stage therefore run from an overlayfs
// with two lower layers and no upper: no write can ever reach the file
// through it, whatever mount flags a process might later change.
//
// Mounting needs a mount namespace owned by a user namespace we have
// CAP_SYS_ADMIN in: a private one, unshared now, owned by the container's
// user namespace (joined above). It dies when stage 2 joins the container's
// mount namespace; the exec'd file keeps the overlay alive, detached.
//
// Nothing needs a free directory: the scratch tmpfs holding the empty
// layer and the overlay's mount point is created detached (fsopen/fsmount)
// and attached over the binary's own directory, by fd. The overlay still
// reads that directory through the fd opened before, which names what was
// under the tmpfs (magic links do not cross mounts), and the mount is
// invisible outside this short-lived namespace. Measured here: 0.36 ms,
// where the memfd copy costs 5.2 ms for a 9 MB binary (it grows with the
// size: ~0.6 ms per MB).
static int seal_overlay(int joined_userns)
{
	char exe[PATH_MAX], opts[128], path[64];
	char *name, *slash;
	struct stat st, self;
	ssize_t n;
	int dirfd, fsfd, tmpfd, mergedfd, fd, saved;

	// First: every mount and fd below must be in the new namespace (an fd
	// opened before names the host's mounts, which we cannot touch).
	seal_step = "unshare the mount namespace";
	if (unshare(CLONE_NEWNS) < 0)
		return -1;
	// A copy made by a namespace owned by a less privileged user namespace
	// has its shared mounts turned into slaves: nothing we attach
	// propagates back. Real root (no user namespace joined) gets a plain
	// copy, still peer of the host's mounts: make it private first.
	if (!joined_userns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	seal_step = "readlink /proc/self/exe";
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL) {
		errno = EINVAL;
		return -1;
	}
	*slash = '\0';
	name = slash + 1;
	seal_step = "open the executable's directory";
	dirfd = open(exe[0] != '\0' ? exe : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	// The path must still name the running binary: after an upgrade it
	// names the new one (or nothing: readlink says "(deleted)").
	seal_step = "find the executable in its directory";
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || stat("/proc/self/exe", &self) < 0 ||
	    st.st_dev != self.st_dev || st.st_ino != self.st_ino) {
		close(dirfd);
		errno = ESTALE;
		return -1;
	}
	seal_step = "create a tmpfs";
	fsfd = (int)syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		goto fail_dir;
	if (syscall(__NR_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		saved = errno;
		close(fsfd);
		errno = saved;
		goto fail_dir;
	}
	tmpfd = (int)syscall(__NR_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	saved = errno;
	close(fsfd);
	errno = saved;
	if (tmpfd < 0)
		goto fail_dir;
	// Overlay takes only attached layers before Linux 6.15.
	seal_step = "attach the tmpfs";
	if (syscall(__NR_move_mount, tmpfd, "", dirfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail_tmp;
	seal_step = "make the overlay directories";
	if (mkdirat(tmpfd, "empty", 0700) < 0 || mkdirat(tmpfd, "merged", 0700) < 0)
		goto fail_tmp;
	// Fd paths also spare us overlayfs's ':' and ',' escaping rules.
	snprintf(opts, sizeof(opts), "lowerdir=/proc/self/fd/%d:/proc/self/fd/%d/empty", dirfd, tmpfd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d/merged", tmpfd);
	seal_step = "mount the overlay";
	if (mount("overlay", path, "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID, opts) < 0)
		goto fail_tmp;
	// Looked up again: the path now crosses into the overlay.
	seal_step = "open the overlay";
	mergedfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mergedfd < 0)
		goto fail_tmp;
	fd = openat(mergedfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	close(mergedfd);
	close(tmpfd);
	close(dirfd);
	errno = saved;
	return fd;

fail_tmp:
	saved = errno;
	close(tmpfd);
	errno = saved;
fail_dir:
	saved = errno;
	close(dirfd);
	errno = saved;
	return -1;
}

// seal_memfd is the fallback: a sealed in-memory copy of the binary, as
// Start's memfdExecutable makes (a kernel-side copy here).
static int seal_memfd(void)
{
	struct stat st;
	off_t off = 0;
	ssize_t n;
	int src, fd;

	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		fail(errno, "open /proc/self/exe");
	// MFD_EXEC: kernels with vm.memfd_noexec (6.3+) may refuse to execute
	// a memfd created without it; older kernels refuse the flag.
	fd = memfd_create("ctr-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("ctr-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		fail(errno, "memfd_create");
	while (off < st.st_size) {
		n = sendfile(fd, src, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(n < 0 ? errno : EIO, "copy the executable into a memfd");
	}
	close(src);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		fail(errno, "seal the executable's memfd");
	return fd;
}

static void stage1(void)
{
	char fds[NNS * 12], seal[128];
	char *argv[] = {program_invocation_name, NULL};
	const char *want = getenv(ENV_SEAL);
	size_t i, off = 0;
	int pidfd = env_int(ENV_PIDFD, 1), exefd = -1, joined_userns = 0;

	// Exec passes stdio, the Go stage's config and status fds, then ours,
	// last. Anything above is a descriptor of P's that was not marked
	// close-on-exec: it must not enter the container, even for the short
	// life of the Go stage (CVE-2024-21626 leaked a host directory that
	// way). Before Linux 5.9 this fails, and closeExecFrom in the Go stage
	// still keeps them from the command.
	syscall(__NR_close_range, (sync_fd > pidfd ? sync_fd : pidfd) + 1, ~0U, 0);
	open_namespaces(pidfd);
	if (nss[0].fd >= 0) {
		if (setns(nss[0].fd, CLONE_NEWUSER) < 0)
			fail(errno, "join user namespace of container process %d", target_pid);
		close(nss[0].fd);
		joined_userns = 1;
	}
	become_root();

	snprintf(seal, sizeof(seal), "memfd");
	if (want == NULL || strcmp(want, "memfd") != 0) {
		exefd = seal_overlay(joined_userns);
		// The reason travels to P (Exec keeps it for tests and
		// debugging): the fallback is correct but slow.
		if (exefd < 0)
			snprintf(seal, sizeof(seal), "memfd (overlay: %s: %s)", seal_step, strerror(errno));
		else
			snprintf(seal, sizeof(seal), "overlay");
	}
	if (exefd < 0)
		exefd = seal_memfd();
	for (i = 1; i < NNS; i++) {
		// Kept open across the exec: stage 2 joins them.
		if (nss[i].fd >= 0 && fcntl(nss[i].fd, F_SETFD, 0) < 0)
			fail(errno, "keep %s namespace fd", nss[i].name);
		off += (size_t)snprintf(fds + off, sizeof(fds) - off, "%s%d", i > 1 ? "," : "", nss[i].fd);
	}
	if (setenv(ENV_FDS, fds, 1) < 0 || setenv(ENV_SEAL, seal, 1) < 0)
		fail(errno, "setenv");
	unsetenv(ENV_PIDFD);
	// argv is exactly [run.ExecName]: Exec passes nothing else.
	fexecve(exefd, argv, environ);
	fail(errno, "execute the sealed executable (%s)", seal);
}

static void stage2(const char *fds)
{
	const char *p = fds;
	char msg[192], *end, *seal = getenv(ENV_SEAL);
	size_t i;
	long v;
	pid_t pid;

	// The exec made us dumpable again. Nothing in the container can see
	// us yet (we are outside its PID namespace), but the child we fork
	// will be, while it runs ctr's code as root in the container. As long
	// as it holds capabilities a container process lacks, the kernel
	// already refuses that process ptrace and the /proc/PID files that
	// need it (exe, mem, fd); non-dumpable extends that to the moment
	// after the Go stage drops to the container's capabilities, until the
	// execve of the command resets it (runc does the same). A container
	// granted CAP_SYS_PTRACE passes both checks, as with rootless runc:
	// the child's memory belongs to the container's user namespace, where
	// stage 2 was executed. It then reaches the sealed binary, no more.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(errno, "prctl(PR_SET_DUMPABLE)");
	for (i = 1; i < NNS; i++) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || end == p || (*end != ',' && *end != '\0') || v < -1 || v > INT_MAX)
			fail(0, "bad %s=%.64s", ENV_FDS, fds);
		p = *end == ',' ? end + 1 : end;
		if (v < 0)
			continue;
		if (setns((int)v, nss[i].type) < 0)
			fail(errno, "join %s namespace of container process %d", nss[i].name, target_pid);
		close((int)v);
	}
	// setns(CLONE_NEWPID) only decides the PID namespace of our children
	// (and forbids us threads: the Go runtime must not start here), so
	// fork. CLONE_PARENT makes the child P's, not ours: P waits for it
	// with plain wait semantics and gets its exit status, and we need not
	// stay around. A raw clone, like runc's clone_parent: glibc's fork has
	// no CLONE_PARENT.
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(errno, "fork into the pid namespace of container process %d", target_pid);
	if (pid == 0) {
		// The child: the Go stage. The sync pipe is ours alone, so
		// that the pid P reads cannot come from code running in the
		// container. unsetenv edits the environment block in place,
		// which is where the Go runtime reads it from.
		close(sync_fd);
		unsetenv(ENV_PID);
		unsetenv(ENV_SYNC);
		unsetenv(ENV_FDS);
		unsetenv(ENV_SEAL);
		return;
	}
	snprintf(msg, sizeof(msg), "pid %d %s", (int)pid, seal != NULL ? seal : "?");
	if (write(sync_fd, msg, strlen(msg)) < 0) {
		// P is gone; the child fails reading its configuration.
	}
	_exit(0);
}

// ctr_nsenter runs as a constructor, before the Go runtime, in every start
// of a binary that links this package.
void ctr_nsenter(void)
{
	const char *fds;

	if (getenv(ENV_PID) == NULL)
		return;
	sync_fd = env_int(ENV_SYNC, 1);
	target_pid = env_int(ENV_PID, 1);
	// First of all: from here on we may hold capabilities over the
	// container, and its processes must not be able to ptrace us or open
	// our /proc files (see stage2).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(errno, "prctl(PR_SET_DUMPABLE)");
	fds = getenv(ENV_FDS);
	if (fds == NULL)
		stage1();
	else
		stage2(fds);
}
