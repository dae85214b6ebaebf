package rootless

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSignalFromHostWithoutAgent: on the host (or as real root) there is
// no agent to ask, and the signal is sent directly; a wrong start time
// never reaches the process.
func TestSignalFromHostWithoutAgent(t *testing.T) {
	t.Setenv(envHostAgent, "")
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // cleanup
	start, err := ProcessStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignalFromHost(cmd.Process.Pid, start+1, syscall.SIGTERM); !errors.Is(err, unix.ESRCH) {
		t.Errorf("signal with a wrong start time = %v, want ESRCH", err)
	}
	if err := SignalFromHost(cmd.Process.Pid, start, syscall.SIGTERM); err != nil {
		t.Fatalf("SignalFromHost = %v", err)
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("sleep ended with %v, want SIGTERM", err)
	}
}
