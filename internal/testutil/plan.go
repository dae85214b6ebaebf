package testutil

import (
	"os"
	"os/user"
	"testing"

	"github.com/ctr-project/ctr/pkg/rootless"
)

// UserPlan returns the user-namespace plan for the user running the tests:
// its subordinate ranges, or with singleID only its own IDs (as for a user
// without /etc/subuid lines).
func UserPlan(t testing.TB, singleID bool) *rootless.Plan {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rootless.PlanConfig{UID: os.Getuid(), GID: os.Getgid(), User: u.Username}
	if singleID {
		cfg.SubUIDFile, cfg.SubGIDFile = os.DevNull, os.DevNull
	}
	plan, err := rootless.NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
