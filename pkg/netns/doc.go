// Package netns gives containers a user-mode network: it starts
// slirp4netns (from inside the container's user namespace) or pasta (from
// the host side) for a container's network namespace, publishes ports
// with rootlesskit's builtin port driver or the helper's own forwarding,
// and writes resolv.conf and hosts content.
//
// It knows nothing of images or storage: callers pass a PID, addresses and
// ports, and get back something to Close.
package netns
