// Package oci turns an OCI image config plus the user's run options into a
// runtime-spec [specs.Spec] for ctr's own runtime (package run).
//
// It owns the container's defaults and the rules that combine image and
// command line: the docker/podman ENTRYPOINT and CMD rules, environment
// merging, user and group resolution against the image's /etc/passwd and
// /etc/group, the working directory, the capability sets, namespaces, the
// default mounts (/proc, /dev, /sys, ...), masked and read-only paths, the
// seccomp profile, rlimits, and the parsing of -v, --tmpfs and --ulimit.
//
// It is a pure function of its inputs: it performs no system calls and no
// disk I/O. Files it needs (the image's /etc/passwd and /etc/group, a seccomp
// profile) arrive as bytes, and facts about the host (its rlimits, its kernel
// release, how many IDs the user namespace maps) arrive as values. The
// caller reads files inside the container root with size caps and in-root
// path resolution; this package never sees a host path it would open.
// Because of that the whole package is covered by table and golden tests
// (go test ./pkg/oci -update rewrites testdata/*.json).
//
// It refuses to: run anything, mount anything, create directories (the
// working directory and mount targets are created in-root by the runtime),
// look anything up on the host (user names, groups, environment: a "-e KEY"
// without a value is resolved only through Options.HostEnv), and import any
// other ctr package: it is a leaf.
//
// Process model assumed: ctr already runs as uid 0 inside a user namespace
// that maps the user's subordinate IDs, so the spec has no user namespace
// and no ID mappings. The container gets new mount, pid, uts, ipc and cgroup
// namespaces, and a network namespace unless the network mode is "host".
package oci
