// Command nothp runs a command with transparent huge pages disabled for it
// and for every process it starts: prctl(PR_SET_THP_DISABLE) is inherited by
// children and kept across execve. lifecycle.sh and network.sh (--no-thp)
// start containers through it, so that the memory of ctr's monitor, conmon,
// slirp4netns, pasta and rootlessport can be compared without the huge pages
// that a system with THP "always" gives to whichever of them touches part of
// a 2 MiB region (Go heaps, pasta's buffers). It has no dependencies outside
// the standard library.
//
//	nothp CMD [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

const prSetTHPDisable = 41 // PR_SET_THP_DISABLE, linux/prctl.h

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nothp CMD [ARG...]")
		os.Exit(2)
	}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetTHPDisable, 1, 0, 0, 0, 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "nothp: prctl(PR_SET_THP_DISABLE): %v\n", errno)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nothp: %v\n", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "nothp: %s: %v\n", path, err)
	os.Exit(126)
}
