// Package e2e drives the built ctr binary through testscript files in
// testdata/, as the unprivileged test user, against Debian's real registry
// started on 127.0.0.1.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ctr-project/ctr/internal/testutil"
	"github.com/ctr-project/ctr/pkg/cgroups"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite testscript files with actual output")

// Shared by every script: the ctr binary and the registries.
var (
	ctrBin   string
	registry *testutil.Registry
	proxy    *faultProxy
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the scripts skip themselves
	}
	testutil.MainAsUser(m, func(stage string) error {
		return buildCtr(filepath.Join(stage, "bin"))
	})
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ctr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	if ctrBin, err = locateCtr(dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: build ctr:", err)
		return 1
	}
	registry, err = testutil.StartRegistry(filepath.Join(dir, "registry"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer registry.Close()
	udpecho, err := os.ReadFile(filepath.Join(filepath.Dir(ctrBin), "udpecho"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: test helper:", err)
		return 1
	}
	helper := testutil.TarEntry{Name: "bin/udpecho", Mode: 0o755, Body: udpecho}
	if err := testutil.PushTestImages(registry.Addr, runtime.GOARCH, helper); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: push test images:", err)
		return 1
	}
	corrupt, err := testutil.LastLayerDigest(runtime.GOARCH)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	proxy, err = startFaultProxy(registry.Addr, corrupt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer proxy.Close()
	return m.Run()
}

// buildCtr builds ctr and ctr-monitor from this module into dir, side by
// side as ctr expects them (as root, before the tests re-run as the test
// user, who may have no Go toolchain).
func buildCtr(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	args := []string{"build", "-tags", buildTags(), "-o", dir + string(filepath.Separator)}
	if os.Getenv("GOCOVERDIR") != "" {
		args = append(args, "-cover", "-coverpkg=github.com/ctr-project/ctr/...")
	}
	cmd := exec.Command(gobin, append(args, "github.com/ctr-project/ctr/cmd/ctr", "github.com/ctr-project/ctr/cmd/ctr-monitor")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	// A static helper for the test images (busybox's nc has no UDP).
	helper := exec.Command(gobin, "build", "-o", filepath.Join(dir, "udpecho"), "github.com/ctr-project/ctr/test/tools/udpecho")
	helper.Env = append(os.Environ(), "CGO_ENABLED=0")
	helper.Stdout, helper.Stderr = os.Stderr, os.Stderr
	return helper.Run()
}

// buildTags are the tags the Makefile builds with.
func buildTags() string {
	if t := os.Getenv("CTR_BUILDTAGS"); t != "" {
		return t
	}
	return "exclude_graphdriver_btrfs,containers_image_openpgp"
}

// locateCtr finds the binary staged by MainAsUser, or builds one.
func locateCtr(tmp string) (string, error) {
	staged := filepath.Join("..", "bin", "ctr")
	if _, err := os.Stat(staged); err == nil {
		return filepath.Abs(staged)
	}
	dir := filepath.Join(tmp, "bin")
	if err := buildCtr(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, "ctr"), nil
}

func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping end-to-end tests in -short mode (they build ctr and start a registry)")
	}
	testutil.RequireUserNS(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup:               setupScript,
		Cmds:                scriptCommands,
		Condition:           scriptCondition,
	})
}

// setupScript gives every script its own home, store and runtime dir, so
// scripts run in parallel without sharing state.
func setupScript(env *testscript.Env) error {
	home := filepath.Join(env.WorkDir, "home")
	run := filepath.Join(env.WorkDir, "run")
	for _, d := range []string{home, run} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_RUNTIME_DIR", run)
	env.Setenv("XDG_DATA_HOME", "")
	env.Setenv("XDG_CONFIG_HOME", "")
	env.Setenv("CTR_STORAGE_DRIVER", "")
	env.Setenv("USER", os.Getenv("USER"))
	env.Setenv("PATH", filepath.Dir(ctrBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	env.Setenv("CTRBIN", filepath.Dir(ctrBin))
	env.Setenv("REGISTRY", registry.Addr)
	env.Setenv("PROXY", proxy.Addr())
	env.Setenv("BUSYBOX", registry.Addr+"/"+testutil.BusyboxRepo)
	env.Setenv("MULTILAYER", registry.Addr+"/"+testutil.MultiLayerRepo)
	env.Setenv("MULTIARCH", registry.Addr+"/"+testutil.IndexRepo)
	env.Setenv("GOARCH", runtime.GOARCH)
	env.Setenv("UID", strconv.Itoa(os.Getuid()))
	// Free ports for scripts that need fixed ones.
	for _, name := range []string{"HOSTPORT", "BUSYPORT", "RANGE"} {
		p, err := testutil.FreePort()
		if err != nil {
			return err
		}
		env.Setenv(name, strconv.Itoa(p))
		if name == "RANGE" {
			env.Setenv("RANGEEND", strconv.Itoa(p+1))
		}
	}
	if d := os.Getenv("GOCOVERDIR"); d != "" {
		env.Setenv("GOCOVERDIR", d)
	}
	// Containers a script leaves (it failed half-way, say) must not
	// outlive it: their monitors would keep running after the tests.
	env.Defer(func() {
		cmd := exec.Command(ctrBin, "rm", "--force", "--all")
		cmd.Env = env.Vars
		if out, err := cmd.CombinedOutput(); err != nil {
			env.T().Log("cleanup: ctr rm --force --all:", err, string(out))
		}
	})
	return nil
}

func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "amd64", "arm64":
		return runtime.GOARCH == cond, nil
	case "cgroup2-delegated":
		_, err := cgroups.OwnCgroup()
		return err == nil, nil
	}
	if tool, ok := strings.CutPrefix(cond, "tool:"); ok {
		_, err := exec.LookPath(tool)
		return err == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
