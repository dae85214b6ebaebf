package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/ctr-project/ctr/pkg/container"
	"github.com/ctr-project/ctr/pkg/monitor"
	"github.com/ctr-project/ctr/pkg/netns"
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// A container started with --network container:NAME shares NAME's network
// namespace (its interfaces, addresses, ports and user-mode network): the
// basis of pods. A network namespace may be joined only with
// CAP_SYS_ADMIN in the user namespace that owns it, which is the one of the
// ctr invocation that started NAME; every invocation creates its own, a
// sibling with no capabilities over the others. So a command that starts
// such a container first checks where it runs and, unless it is NAME's
// user namespace, has the host side run it again there
// (rootless.RerunInUserNSOf); the container's monitor then lives there too,
// and its init joins the network namespace before the Go runtime starts
// (package nsjoin).

// ErrHasDependents is returned when removing a container whose network
// namespace others share.
var ErrHasDependents = errors.New("container has dependent containers")

// networkOwner returns the container whose network namespace a container
// with network configuration n shares.
func (e *Engine) networkOwner(n netns.Config) (*Container, error) {
	owner, err := e.Container(n.Container)
	if err != nil {
		return nil, fmt.Errorf("--network container:%s: %w", n.Container, err)
	}
	return owner, nil
}

// EnterNetworkOwner makes sure that a container with network configuration
// n can be started from this process: for --network container:NAME, NAME
// must be running, and this process must run in its user namespace. If it
// does not, the host side is asked to run the command again there and
// rootless.ErrRerun is returned: the caller must then exit at once,
// without output or side effects.
func (e *Engine) EnterNetworkOwner(n netns.Config) error {
	if n.Mode != netns.ModeContainer {
		return nil
	}
	owner, err := e.networkOwner(n)
	if err != nil {
		return err
	}
	if !owner.Running() {
		return fmt.Errorf("%w: %s: start it first, its network namespace is shared (--network container:%s)", container.ErrNotRunning, owner.Name, n.Container)
	}
	if e.mode == rootless.ModeRoot {
		return nil // no user namespaces: root may join any network namespace
	}
	same, err := rootless.SameUserNS(owner.State.MonitorPid)
	if err != nil {
		return fmt.Errorf("user namespace of %s: %w", owner.Name, err)
	}
	if same {
		return nil
	}
	return rootless.RerunInUserNSOf(owner.State.MonitorPid, owner.State.MonitorStart)
}

// joinSharedNetNS points the spec's network namespace at the one c shares,
// for one start; the caller closes the returned file after run.Start.
func (e *Engine) joinSharedNetNS(c *container.Config, spec *specs.Spec) (*os.File, error) {
	owner, err := e.networkOwner(c.Net)
	if err != nil {
		return nil, err
	}
	return monitor.JoinNetNS(spec, c.Name, owner.Name, &owner.State)
}

// networkDependents lists the containers that share c's network namespace.
func (e *Engine) networkDependents(c *Container) ([]string, error) {
	all, err := e.Containers()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range all {
		if d.Net.Mode == netns.ModeContainer && d.Net.Container == c.ID {
			names = append(names, d.Name)
		}
	}
	return names, nil
}
