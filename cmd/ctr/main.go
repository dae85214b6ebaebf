// Command ctr is a rootless, daemonless container tool with a
// podman-compatible command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctr-project/ctr/pkg/engine"
	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/rootless"
	_ "github.com/ctr-project/ctr/pkg/rootless/nsjoin" // joins a container's user or network namespace, before the Go runtime starts
	"github.com/ctr-project/ctr/pkg/run"
	_ "github.com/ctr-project/ctr/pkg/run/nsenter" // joins containers for run.Exec, before the Go runtime starts
	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// Every re-exec of this binary (the user-namespace child, storage's
	// untar and mount helpers, a monitor's helper) is dispatched here by
	// argv[0].
	reexec.Register(rootless.ChildName, userNSChildMain)
	reexec.Register(run.InitName, run.Init)
	reexec.Register(run.ExecName, run.ExecInit)
	// Only when ctr-monitor is not installed next to ctr.
	reexec.Register(monitor.Name, monitor.Main)
	reexec.Register(monitor.HelperName, engine.HelperMain)
	if reexec.Init() {
		return
	}
	os.Exit(runCLI(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// userNSChildMain runs the same command line again, now inside the user
// namespace the parent prepared.
func userNSChildMain() {
	if err := rootless.ChildInit(); err != nil {
		os.Exit(reportError(os.Stderr, err))
	}
	os.Exit(runCLI(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func runCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand(args, stdin, stdout, stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", errInterrupted, err)
	}
	return reportError(stderr, err)
}
