// Package monitor is a detached container's monitor (podman's conmon): the
// one process that stays alive for as long as its container. It starts the
// container's process with package run and is its parent: it keeps the
// exit status, writes the log, serves attach and copy clients, applies the
// restart policy, runs healthchecks, attaches the user-mode network and
// writes the container's state.
//
// It runs as its own small binary, cmd/ctr-monitor, so that one idle
// monitor per container costs a few megabytes: it must never import
// go.podman.io/storage, go-containerregistry, cobra or pkg/engine (a test
// in cmd/ctr-monitor checks). What needs the store (unmounting the root
// filesystem, removing a --rm container) or storage's chrooted archiver
// (ctr cp) it hands to the ctr binary, which it runs as HelperName. The
// starting ctr mounts the root filesystem before it starts the monitor,
// which inherits that mount namespace: the mount lives as long as the
// monitor does.
//
// The monitor runs in the user namespace of the ctr invocation that
// started it, in its own session (no controlling terminal, immune to the
// terminal's hangup), and outlives that invocation. If it is killed, the
// container dies with it (the init has Pdeathsig) and later commands read
// the container as exited.
package monitor
