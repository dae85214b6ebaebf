// Command ctr-monitor is a detached container's monitor (see package
// monitor). ctr starts it; it is not meant to be run by hand.
//
// It is also what the container's init and a healthcheck's joining
// process execute (package run re-executes the running binary), so it
// links the C constructors those need and dispatches on argv[0] itself:
// storage's reexec package would be the one piece of go.podman.io/storage
// in this binary, which must stay small (see deps_test.go).
package main

import (
	"fmt"
	"os"

	"github.com/ctr-project/ctr/pkg/monitor"
	_ "github.com/ctr-project/ctr/pkg/rootless/nsjoin" // joins the shared network namespace (--network container:NAME), before the Go runtime starts
	"github.com/ctr-project/ctr/pkg/run"
	_ "github.com/ctr-project/ctr/pkg/run/nsenter" // joins the container for healthchecks (run.Exec), before the Go runtime starts
)

func main() {
	switch os.Args[0] {
	case run.InitName:
		run.Init()
	case run.ExecName:
		run.ExecInit()
	case monitor.Name:
		monitor.Main()
	default:
		fmt.Fprintln(os.Stderr, "ctr-monitor: started by ctr for each detached container, not by hand")
		os.Exit(2)
	}
}
