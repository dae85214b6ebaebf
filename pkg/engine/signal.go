package engine

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal accepts a signal by name (TERM, SIGTERM, any case) or number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: out of range 1-64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return syscall.Signal(34 + n), nil
		}
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// commonSignals are the signals users and tools send to a foreground
// command; relaySignals catches them before anything else.
var commonSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// relaySignals routes every signal to ch, as podman's and docker's signal
// proxies do, and returns the function that stops it. The Go runtime
// enables and disables each signal with a round trip to a thread of its
// own, ~20 µs each: all 65 took 1-1.3 ms to enable and as long to disable,
// on the path of every `ctr exec` and `ctr run`. So the common ones are
// enabled before relaySignals returns and the rest from a goroutine, and
// stop disables them from a goroutine too: a process that is about to exit
// need not wait for it.
func relaySignals(ch chan<- os.Signal) (stop func()) {
	signal.Notify(ch, commonSignals...)
	enabled := make(chan struct{})
	go func() {
		signal.Notify(ch)
		close(enabled)
	}()
	return func() {
		go func() {
			<-enabled
			signal.Stop(ch)
		}()
	}
}
