// Package storage owns everything under ctr's data directory: images,
// layers and container root filesystems, kept by go.podman.io/storage, plus
// pulling images from registries with go-containerregistry and parsing image
// references.
//
// It must run as uid 0: real root or inside ctr's user namespace (see
// package rootless). It never runs a container and never prints.
package storage
