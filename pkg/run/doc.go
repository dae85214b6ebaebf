// Package run is ctr's container runtime: given a mounted root filesystem
// and an OCI runtime spec it creates the container's namespaces, mounts,
// pivots into the root, sets hostname, rlimits, user, capabilities,
// no_new_privs and seccomp, and executes the process; it then waits for and
// signals it.
//
// The container process starts as a re-execution of this binary (argv[0]
// InitName) from a sealed, read-only view of the executable, so the
// container cannot rewrite ctr through /proc/<pid>/exe (CVE-2019-5736).
// The caller must already run as root in a user namespace (or as real root)
// and must register Init with its re-exec dispatcher.
//
// Exec runs another process in a running container, from the host side: a
// C constructor (package nsenter, imported for its side effect) joins the
// container's namespaces before the Go runtime starts, and ExecInit (argv[0]
// ExecName) confines the process as Init confines the container's command.
//
// The package knows nothing of registries, storage or networking helpers:
// the caller passes a rootfs path and a spec, and wires the network itself.
// It needs no cgroups; a caller that has one may start the init in it
// (Options.CgroupDir). A network namespace given by path in the spec is
// joined by the init in package nsjoin's constructor.
package run
