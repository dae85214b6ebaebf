package monitor

import (
	"slices"
	"testing"
	"time"

	"github.com/ctr-project/ctr/pkg/container"
)

func TestRestartBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {9, 25600 * time.Millisecond}, {10, 30 * time.Second}, {100, 30 * time.Second}} {
		if got := restartBackoff(tc.n); got != tc.want {
			t.Errorf("restartBackoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestRestartPolicyApplies(t *testing.T) {
	onFailure2 := container.RestartPolicy{Name: "on-failure", MaxRetries: 2}
	for _, tc := range []struct {
		name     string
		p        container.RestartPolicy
		code     int
		restarts int
		want     bool
	}{
		{"no never restarts", container.RestartPolicy{Name: "no"}, 1, 0, false},
		{"always restarts a success", container.RestartPolicy{Name: "always"}, 0, 5, true},
		{"unless-stopped restarts", container.RestartPolicy{Name: "unless-stopped"}, 1, 0, true},
		{"on-failure skips a success", onFailure2, 0, 0, false},
		{"on-failure restarts a failure", onFailure2, 1, 1, true},
		{"on-failure stops at its maximum", onFailure2, 1, 2, false},
		{"on-failure without a maximum goes on", container.RestartPolicy{Name: "on-failure"}, 1, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := restartPolicyApplies(tc.p, tc.code, tc.restarts); got != tc.want {
				t.Errorf("restartPolicyApplies(%+v, %d, %d) = %v, want %v", tc.p, tc.code, tc.restarts, got, tc.want)
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"added when unset", []string{"HOME=/h"}, []string{"HOME=/h", "GODEBUG=disablethp=1"}},
		{"empty GODEBUG", []string{"GODEBUG="}, []string{"GODEBUG=disablethp=1"}},
		{"the user's settings come later and win", []string{"GODEBUG=disablethp=0,gctrace=1", "A=b"}, []string{"GODEBUG=disablethp=1,disablethp=0,gctrace=1", "A=b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Environ(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Environ(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
