package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctr-project/ctr/pkg/rootless"
	"go.podman.io/storage/pkg/reexec"
)

// TestMain dispatches re-executions of the test binary as main does, so a
// command that unexpectedly enters the user namespace runs the CLI in the
// child instead of running every test again.
func TestMain(m *testing.M) {
	reexec.Register(rootless.ChildName, userNSChildMain)
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// result is what one in-process ctr invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// runCtr runs ctr in-process with args and empty standard input.
func runCtr(t *testing.T, args ...string) result {
	t.Helper()
	return runCtrInput(t, "", args...)
}

func runCtrInput(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runCLI(args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// userDirs are the directories ctr could write to, all fresh and empty.
type userDirs struct {
	home, dataHome, runtimeDir, configHome, tmp string
}

func (d userDirs) all() []string {
	return []string{d.home, d.dataHome, d.runtimeDir, d.configHome, d.tmp}
}

// isolate points every directory ctr derives its paths from at empty temp
// directories and clears the variables that change its behaviour. Call it
// before any other t.TempDir in the test: TMPDIR changes.
func isolate(t *testing.T) userDirs {
	t.Helper()
	base := t.TempDir()
	d := userDirs{
		home:       filepath.Join(base, "home"),
		dataHome:   filepath.Join(base, "data"),
		runtimeDir: filepath.Join(base, "run"),
		configHome: filepath.Join(base, "config"),
		tmp:        filepath.Join(base, "tmp"),
	}
	for _, dir := range d.all() {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", d.home)
	t.Setenv("XDG_DATA_HOME", d.dataHome)
	t.Setenv("XDG_RUNTIME_DIR", d.runtimeDir)
	t.Setenv("XDG_CONFIG_HOME", d.configHome)
	t.Setenv("TMPDIR", d.tmp)
	for _, k := range []string{"_CTR_USERNS_MODE", "CTR_STORAGE_DRIVER", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"} {
		t.Setenv(k, "")
	}
	return d
}

// assertUntouched fails if anything was created in the isolated directories.
func (d userDirs) assertUntouched(t *testing.T, what string) {
	t.Helper()
	for _, dir := range d.all() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Errorf("%s: read %s: %v", what, dir, err)
			continue
		}
		if len(entries) != 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s created %q in %s, want nothing", what, names, dir)
		}
	}
}
