//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -O2
extern void ctr_nsenter(void);

// Runs while the dynamic loader starts the process, before the Go runtime
// (and its threads) exist: see nsenter.c.
__attribute__((constructor)) static void ctr_nsenter_init(void) { ctr_nsenter(); }
*/
import "C"
