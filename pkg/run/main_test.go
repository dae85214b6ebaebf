package run

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/ctr-project/ctr/internal/testutil"
	"github.com/ctr-project/ctr/pkg/rootless"
	_ "github.com/ctr-project/ctr/pkg/rootless/nsjoin" // the init joins a network namespace to share
	_ "github.com/ctr-project/ctr/pkg/run/nsenter"     // Exec's C stage
	"github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/storage/pkg/reexec"
)

// TestMain dispatches the re-executions of the test binary as cmd/ctr's
// main does (the container's init, the joined process of Exec, and
// testMonitor in its user namespace), serves exeProbe when the binary runs
// inside a container, and otherwise runs the tests as the unprivileged
// test user.
func TestMain(m *testing.M) {
	reexec.Register(InitName, Init)
	reexec.Register(ExecName, ExecInit)
	reexec.Register(rootless.ChildName, testMonitor)
	if reexec.Init() {
		return
	}
	if os.Getenv(envExeProbe) != "" {
		os.Exit(exeProbe())
	}
	testutil.MainAsUser(m, nil)
	os.Exit(m.Run())
}

// testMonitor plays ctr's monitor: in the user namespace rootless.Reexec
// made, it starts the container whose spec is in the file os.Args[1] on the
// root filesystem os.Args[2] (scratch directory os.Args[3]), prints the
// container's pid on stdout, and waits for it.
func testMonitor() {
	if err := rootless.ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(125)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(125)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(125)
	}
	p, err := Start(Options{Rootfs: os.Args[2], Spec: &spec, Scratch: os.Args[3], Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor: start:", err)
		os.Exit(125)
	}
	fmt.Println(p.Pid)
	code, err := p.Wait()
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitor: wait:", err)
	}
	os.Exit(code)
}
