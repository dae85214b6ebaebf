package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSlimDependencies keeps the monitor small: one stays alive per
// detached container, and every package linked in costs memory in each of
// them (package init touches its pages). What needs these packages runs
// in the ctr binary (monitor.HelperName).
func TestSlimDependencies(t *testing.T) {
	forbidden := []string{
		"go.podman.io/storage",
		"github.com/google/go-containerregistry",
		"github.com/spf13/cobra",
		"github.com/spf13/pflag",
		"github.com/sirupsen/logrus",
		"github.com/ctr-project/ctr/pkg/engine",
		"github.com/ctr-project/ctr/pkg/storage",
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/ctr-project/ctr/cmd/ctr-monitor").Output()
	if err != nil {
		var stderr string
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			stderr = string(exitErr.Stderr)
		}
		t.Fatalf("go list -deps ./cmd/ctr-monitor: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps ./cmd/ctr-monitor listed nothing")
	}
	for _, dep := range deps {
		for _, bad := range forbidden {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("ctr-monitor depends on %s: the monitor binary must not link %s (run `go list -deps ./cmd/ctr-monitor` and `go mod why` to find the importer)", dep, bad)
			}
		}
	}
}
