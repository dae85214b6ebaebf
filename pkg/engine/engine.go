// Package engine is the orchestration layer between the command line and
// the leaf packages: it resolves (and pulls) images, creates containers in
// the store, generates their spec, runs them with package run and keeps
// their state. cmd/ctr is its only importer.
package engine

import (
	"github.com/ctr-project/ctr/pkg/rootless"
	"github.com/ctr-project/ctr/pkg/storage"
	"github.com/ctr-project/ctr/pkg/volume"
)

// Engine acts on one store from inside ctr's user namespace.
type Engine struct {
	Reader
	store   *storage.Store
	volumes *volume.Store
	mode    rootless.Mode
	// mappedUIDs/GIDs is how many IDs the namespace maps.
	mappedUIDs, mappedGIDs uint32
}

// New returns an engine on an open store. mode is the user-namespace mode
// the process runs in; it decides how many container IDs exist.
func New(store *storage.Store, mode rootless.Mode) (*Engine, error) {
	vols, err := volume.NewStore(volumesDir(store.GraphRoot()))
	if err != nil {
		return nil, err
	}
	e := &Engine{Reader: Reader{src: store, volumesDir: volumesDir(store.GraphRoot())}, store: store, volumes: vols, mode: mode}
	uids, gids, err := rootless.CurrentMappings()
	if err != nil {
		return nil, err
	}
	e.mappedUIDs, e.mappedGIDs = uint32(min(rootless.MappedIDs(uids), 1<<31)), uint32(min(rootless.MappedIDs(gids), 1<<31))
	return e, nil
}

// Store returns the engine's store.
func (e *Engine) Store() *storage.Store { return e.store }
