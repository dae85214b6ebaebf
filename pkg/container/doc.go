// Package container holds what ctr and a container's monitor both read and
// write: a container's configuration and state records, the names of the
// files in its directories, the log format and the protocol of the
// monitor's attach socket.
//
// The monitor is a separate small binary (cmd/ctr-monitor) that stays
// alive for as long as its container, so this package must stay light: it
// never imports go.podman.io/storage, go-containerregistry or the CLI
// packages, and it opens no store. Callers pass the container's
// directories, which the store owns and ctr resolves.
package container
