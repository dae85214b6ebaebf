//go:build linux && cgo

// Package nsjoin joins namespaces before the Go runtime starts, for a
// process that its parent starts with _CTR_SETNS in the environment. Go
// cannot do this itself: setns(2) of a user namespace is refused to a
// multithreaded process, and a network namespace joined by one thread is
// not joined by the others, so it must happen while the process still has
// one thread, in a constructor.
//
// The protocol, shared by pkg/rootless (a ctr invocation that must live in
// another container's user namespace, for --network container:NAME) and
// pkg/run (a container init that shares another container's network
// namespace):
//
//	_CTR_SETNS=FD:TYPE[,FD:TYPE...]   setns(FD, TYPE) in order, then close FD;
//	                                  TYPE is user, net, ipc or uts; FD is a
//	                                  namespace file or a pidfd
//	_CTR_SETNS_UNSHARE=mnt            then unshare the mount namespace
//
// Both variables are removed once done. On failure the process writes why
// to stderr and exits with status 125, before any Go code runs. A binary
// that should honour the protocol imports this package for its side
// effect:
//
//	import _ "github.com/ctr-project/ctr/pkg/rootless/nsjoin"
package nsjoin

/*
#cgo CFLAGS: -Wall -Wextra -O2
extern void ctr_setns(void);

__attribute__((constructor)) static void ctr_setns_init(void) { ctr_setns(); }
*/
import "C"
