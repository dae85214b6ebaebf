// Package testutil holds helpers shared by ctr's tests: a real registry,
// hermetic test images, and running tests as an unprivileged user.
package testutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// DefaultTestUser is the unprivileged account rootless tests run as when
// started by root. .ci/run creates it with /etc/subuid and /etc/subgid
// ranges; CTR_TEST_USER overrides the name.
const DefaultTestUser = "ctrtest"

// envStaged marks a test binary that MainAsUser already re-ran.
const envStaged = "_CTR_TEST_STAGED"

// StageFunc prepares files in the world-readable stage directory before the
// tests re-run there as the test user (e.g. build the ctr binary).
type StageFunc func(stage string) error

// MainAsUser makes a package's tests rootless even when `go test` runs as
// root, as CI does: a rootless tool tested as root would take the rootful
// path. As root it copies the test binary and the package's testdata into a
// fresh directory the test user can read, runs prepare there, re-runs the
// binary as that user and exits with its status. As any other user it
// returns and the tests run in place.
func MainAsUser(m *testing.M, prepare StageFunc) {
	if os.Geteuid() != 0 || os.Getenv(envStaged) != "" {
		return
	}
	os.Exit(rerunAsUser(prepare))
}

func rerunAsUser(prepare StageFunc) int {
	name := os.Getenv("CTR_TEST_USER")
	if name == "" {
		name = DefaultTestUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: tests must not run as root and the unprivileged test user %q does not exist: %v\n"+
			"Create it with subordinate IDs (sudo bash .ci/run does), or run the tests as a normal user.\n", name, err)
		return 1
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	stage, err := os.MkdirTemp("", "ctr-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(stage)
	if err := setupStage(stage, prepare); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: stage tests for", name+":", err)
		return 1
	}
	if err := chownTree(stage, uid, gid); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}

	cmd := exec.Command(filepath.Join(stage, "test.bin"), userArgs(os.Args[1:])...)
	cmd.Dir = filepath.Join(stage, "pkg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = userEnv(stage, u)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "FAIL: run tests as", name+":", err)
		return 1
	}
	return 0
}

func setupStage(stage string, prepare StageFunc) error {
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"pkg", "tmp", "home"} {
		if err := os.Mkdir(filepath.Join(stage, d), 0o755); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := copyFile(self, filepath.Join(stage, "test.bin"), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat("testdata"); err == nil {
		if err := os.CopyFS(filepath.Join(stage, "pkg", "testdata"), os.DirFS("testdata")); err != nil {
			return err
		}
	}
	if prepare != nil {
		return prepare(stage)
	}
	return nil
}

// userArgs drops flags naming files in root's private build directory.
func userArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-test.testlogfile=") || strings.HasPrefix(a, "-test.coverprofile=") ||
			strings.HasPrefix(a, "-test.gocoverdir=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func userEnv(stage string, u *user.User) []string {
	env := []string{
		envStaged + "=1",
		"HOME=" + filepath.Join(stage, "home"),
		"USER=" + u.Username,
		"LOGNAME=" + u.Username,
		"TMPDIR=" + filepath.Join(stage, "tmp"),
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"LANG=C.UTF-8",
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CTR_") || strings.HasPrefix(kv, "GOCOVERDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RequireUserNS skips the test, saying why, when this process cannot
// create a user namespace.
func RequireUserNS(t testing.TB) {
	t.Helper()
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		t.Skipf("skipping: cannot create a user namespace here (%v); see `ctr info` for the fix", err)
	}
}
