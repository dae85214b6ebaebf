package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// Name for the new image; empty leaves it dangling. Short names go
	// under localhost/.
	Name string
	// Config is the image config to start from (Env, Cmd, ...); the
	// rootfs, history and platform are filled in.
	Config ocispec.ImageConfig
	// Message is recorded in the image history.
	Message string
	// Source describes where the tarball came from, for the history.
	Source string
}

// Import creates a single-layer image from a root filesystem tarball
// (optionally gzip, zstd, bzip2 or xz compressed) read from r. On failure
// nothing is left in the store.
func (s *Store) Import(r io.Reader, opts ImportOptions) (_ *Image, retErr error) {
	var names []string
	if opts.Name != "" {
		ref, err := ParseLocalReference(opts.Name)
		if err != nil {
			return nil, err
		}
		if ref.Digest() != "" {
			return nil, fmt.Errorf("%w %q: an image name cannot contain a digest", ErrInvalidReference, opts.Name)
		}
		names = []string{ref.String()}
	}
	// The chain ID is unknown until the content is read; a random ID is
	// fine for a layer no registry names.
	layerID := digest.FromString(uuid.NewString()).Encoded()
	layer, _, err := s.s.PutLayer(layerID, "", nil, "", false, nil, r)
	if err != nil {
		return nil, fmt.Errorf("import layer: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = s.s.DeleteLayer(layerID)
		}
	}()
	if layer.UncompressedDigest == "" {
		return nil, errors.New("import layer: the store did not compute the layer digest")
	}

	now := time.Now().UTC()
	createdBy := "/bin/sh -c #(nop) ADD file:" + layer.UncompressedDigest.Encoded() + " in / "
	config := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   opts.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.UncompressedDigest}},
		History:  []ocispec.History{{Created: &now, CreatedBy: createdBy, Comment: opts.Message}},
	}
	rawConfig, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	configDigest := digest.FromBytes(rawConfig)
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: configDigest, Size: int64(len(rawConfig))},
		// The layer is stored uncompressed; push compresses it.
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: layer.UncompressedDigest, Size: layer.UncompressedSize}},
	}
	rawManifest, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	manifestDigest := digest.FromBytes(rawManifest)
	metadata, err := json.Marshal(imageMetadata{Platform: "linux/" + runtime.GOARCH})
	if err != nil {
		return nil, err
	}
	id := configDigest.Encoded()
	err = s.createImage(id, names, layerID, string(metadata), &cstorage.ImageOptions{
		CreationDate: now,
		Digest:       manifestDigest,
		BigData: []cstorage.ImageBigDataOption{
			{Key: configDigest.String(), Data: rawConfig, Digest: configDigest},
			{Key: manifestBigDataKey(manifestDigest), Data: rawManifest, Digest: manifestDigest},
			{Key: "manifest", Data: rawManifest, Digest: manifestDigest},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("record image: %w", err)
	}
	return s.Image(id)
}
