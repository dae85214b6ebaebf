package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
)

// ErrImageUnknown is matched by errors.Is when no image has the given name
// or ID.
var ErrImageUnknown = errors.New("image not known")

// ErrImageInUse is matched by errors.Is when an image cannot be removed
// because containers use it.
var ErrImageInUse = errors.New("image is in use by a container")

// ErrAmbiguousImage is matched by errors.Is when an ID prefix or removal
// request matches more than one thing.
var ErrAmbiguousImage = errors.New("ambiguous image reference")

// Image is an image in the store.
type Image struct {
	ID       string
	Names    []string // repo:tag and repo@digest references
	Digest   digest.Digest
	Digests  []digest.Digest
	Created  time.Time
	TopLayer string
	// Size is the sum of the uncompressed sizes of the image's layers.
	Size     int64
	Platform string
	// Intermediate is true for a nameless image whose layers another image
	// builds on (a build step); listings hide these by default.
	Intermediate bool
}

// RepoTags returns the image's tagged names.
func (i *Image) RepoTags() []string {
	var tags []string
	for _, n := range i.Names {
		if !strings.Contains(n, "@") {
			tags = append(tags, n)
		}
	}
	return tags
}

// RepoDigests returns repo@digest for every repository the image is known
// under and every manifest digest it was pulled by.
func (i *Image) RepoDigests() []string {
	var out []string
	for _, n := range i.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range i.Digests {
			rd := named.Name() + "@" + d.String()
			if !slices.Contains(out, rd) {
				out = append(out, rd)
			}
		}
	}
	return out
}

// Dangling reports whether the image has no name.
func (i *Image) Dangling() bool { return len(i.Names) == 0 }

// Images lists every image in the store, newest first.
func (s *Store) Images() ([]*Image, error) {
	res, err := s.s.MultiList(cstorage.MultiListOptions{Images: true, Layers: true})
	if err != nil {
		return nil, err
	}
	layers := make(map[string]*cstorage.Layer, len(res.Layers))
	for i := range res.Layers {
		layers[res.Layers[i].ID] = &res.Layers[i]
	}
	out := make([]*Image, 0, len(res.Images))
	// Which images each layer is part of, to find intermediate images.
	usedBy := map[string]int{}
	for i := range res.Images {
		for id := res.Images[i].TopLayer; id != ""; id = parentOf(layers, id) {
			usedBy[id]++
		}
	}
	for i := range res.Images {
		img := newImage(&res.Images[i], layers)
		img.Intermediate = img.Dangling() && img.TopLayer != "" && usedBy[img.TopLayer] > 1
		out = append(out, img)
	}
	slices.SortStableFunc(out, func(a, b *Image) int { return b.Created.Compare(a.Created) })
	return out, nil
}

func parentOf(layers map[string]*cstorage.Layer, id string) string {
	if l, ok := layers[id]; ok {
		return l.Parent
	}
	return ""
}

func newImage(ci *cstorage.Image, layers map[string]*cstorage.Layer) *Image {
	img := &Image{
		ID:       ci.ID,
		Names:    ci.Names,
		Digest:   ci.Digest,
		Digests:  ci.Digests,
		Created:  ci.Created,
		TopLayer: ci.TopLayer,
	}
	var md imageMetadata
	if json.Unmarshal([]byte(ci.Metadata), &md) == nil {
		img.Platform = md.Platform
	}
	for id := ci.TopLayer; id != ""; {
		l, ok := layers[id]
		if !ok {
			break
		}
		if l.UncompressedSize > 0 {
			img.Size += l.UncompressedSize
		}
		id = l.Parent
	}
	return img
}

// Image returns the image with exactly this ID.
func (s *Store) Image(id string) (*Image, error) {
	ci, err := s.s.Image(id)
	if err != nil {
		if errors.Is(err, cstorage.ErrImageUnknown) {
			return nil, fmt.Errorf("%w: %s", ErrImageUnknown, id)
		}
		return nil, err
	}
	return s.withLayers(ci)
}

func (s *Store) withLayers(ci *cstorage.Image) (*Image, error) {
	layers := map[string]*cstorage.Layer{}
	for id := ci.TopLayer; id != ""; {
		l, err := s.s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", ci.ID, id, err)
		}
		layers[id] = l
		id = l.Parent
	}
	return newImage(ci, layers), nil
}

// LookupImage finds an image by name (short names also match localhost/),
// name@digest, full ID or unique ID prefix.
func (s *Store) LookupImage(nameOrID string) (*Image, error) {
	img, _, err := s.lookupImage(nameOrID)
	return img, err
}

// ResolveImage is LookupImage that also returns the store name nameOrID
// matched: localhost/busybox:latest for busybox, say; "" when the image was
// found by ID or digest.
func (s *Store) ResolveImage(nameOrID string) (*Image, string, error) {
	return s.lookupImage(nameOrID)
}

// lookupImage returns the image and, when nameOrID was resolved as a name,
// the store name it matched.
func (s *Store) lookupImage(nameOrID string) (*Image, string, error) {
	id := strings.TrimPrefix(nameOrID, "sha256:")
	if ref, err := ParseReference(nameOrID); err == nil {
		for _, cand := range ref.candidates() {
			if ci, err := s.s.Image(cand); err == nil && slices.Contains(ci.Names, cand) {
				img, err := s.withLayers(ci)
				return img, cand, err
			}
		}
		if d := ref.Digest(); d != "" {
			if img, err := s.imageByDigest(ref, d); err == nil {
				return img, "", nil
			}
		}
	}
	if isHexPrefix(id) {
		images, err := s.s.Images()
		if err != nil {
			return nil, "", err
		}
		var match *cstorage.Image
		for i := range images {
			if strings.HasPrefix(images[i].ID, id) {
				if match != nil {
					return nil, "", fmt.Errorf("%w: %q matches images %.12s and %.12s", ErrAmbiguousImage, nameOrID, match.ID, images[i].ID)
				}
				match = &images[i]
			}
		}
		if match != nil {
			img, err := s.withLayers(match)
			return img, "", err
		}
	}
	return nil, "", fmt.Errorf("%w: %s", ErrImageUnknown, nameOrID)
}

func (s *Store) imageByDigest(ref Reference, d digest.Digest) (*Image, error) {
	images, err := s.s.ImagesByDigest(d)
	if err != nil {
		return nil, err
	}
	for _, ci := range images {
		img, err := s.withLayers(ci)
		if err != nil {
			return nil, err
		}
		for _, rd := range img.RepoDigests() {
			if slices.Contains(ref.candidates(), rd) {
				return img, nil
			}
		}
	}
	return nil, ErrImageUnknown
}

func isHexPrefix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Tag adds names to an image. Short names go under localhost/, as podman
// does; a name held by another image moves to this one.
func (s *Store) Tag(nameOrID string, newNames ...string) error {
	img, err := s.LookupImage(nameOrID)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range newNames {
		ref, err := ParseLocalReference(n)
		if err != nil {
			return err
		}
		if ref.Digest() != "" {
			return fmt.Errorf("%w %q: a tag cannot contain a digest", ErrInvalidReference, n)
		}
		names = append(names, ref.String())
	}
	return s.s.AddNames(img.ID, names)
}

// RemoveReport says what RemoveImage did.
type RemoveReport struct {
	Untagged []string
	Deleted  []string
}

// RemoveImage removes one name of an image, or the image itself when it is
// named by ID or by its last name. An image used by containers, or named by
// ID while it has several names, is removed only with force.
func (s *Store) RemoveImage(nameOrID string, force bool) (RemoveReport, error) {
	var rep RemoveReport
	img, matched, err := s.lookupImage(nameOrID)
	if err != nil {
		return rep, err
	}
	if matched != "" && len(img.Names) > 1 {
		if err := s.s.RemoveNames(img.ID, []string{matched}); err != nil {
			return rep, err
		}
		rep.Untagged = append(rep.Untagged, matched)
		return rep, nil
	}
	if matched == "" && len(img.RepoTags()) > 1 && !force {
		return rep, fmt.Errorf("%w: image %.12s has several names (%s): remove them one by one or use --force",
			ErrAmbiguousImage, img.ID, strings.Join(img.RepoTags(), ", "))
	}
	users, err := s.containersUsing(img.ID)
	if err != nil {
		return rep, err
	}
	if len(users) > 0 {
		if !force {
			return rep, fmt.Errorf("%w: image %.12s is used by container(s) %s: remove them first or use --force",
				ErrImageInUse, img.ID, strings.Join(shortIDs(users), ", "))
		}
		for _, c := range users {
			if err := s.s.DeleteContainer(c); err != nil {
				return rep, fmt.Errorf("remove container %.12s using image %.12s: %w", c, img.ID, err)
			}
		}
	}
	if _, err := s.s.DeleteImage(img.ID, true); err != nil {
		return rep, err
	}
	rep.Untagged = append(rep.Untagged, img.RepoTags()...)
	rep.Deleted = append(rep.Deleted, img.ID)
	return rep, nil
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(12, len(id))]
	}
	return out
}

func (s *Store) containersUsing(imageID string) ([]string, error) {
	cs, err := s.s.Containers()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range cs {
		if c.ImageID == imageID {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// PruneImages removes dangling images (all unused images with all) that no
// container uses, and returns their IDs.
func (s *Store) PruneImages(all bool) ([]string, error) {
	images, err := s.s.Images()
	if err != nil {
		return nil, err
	}
	cs, err := s.s.Containers()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		used[c.ImageID] = true
	}
	var removed []string
	var errs []error
	for _, img := range images {
		if used[img.ID] || (!all && len(img.Names) > 0) {
			continue
		}
		if _, err := s.s.DeleteImage(img.ID, true); err != nil {
			errs = append(errs, fmt.Errorf("remove image %.12s: %w", img.ID, err))
			continue
		}
		removed = append(removed, img.ID)
	}
	return removed, errors.Join(errs...)
}

// ImageConfig returns the OCI config of an image.
func (s *Store) ImageConfig(img *Image) (*ocispec.Image, error) {
	raw, err := s.rawConfig(img)
	if err != nil {
		return nil, err
	}
	var c ocispec.Image
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("image %.12s: parse config: %w", img.ID, err)
	}
	return &c, nil
}

func (s *Store) rawConfig(img *Image) ([]byte, error) {
	// The config is stored under its digest, which is the image ID.
	raw, err := s.s.ImageBigData(img.ID, "sha256:"+img.ID)
	if err != nil {
		return nil, fmt.Errorf("image %.12s: read config: %w", img.ID, err)
	}
	return raw, nil
}

// Manifest returns the image's raw manifest.
func (s *Store) Manifest(img *Image) ([]byte, error) {
	raw, err := s.s.ImageBigData(img.ID, "manifest")
	if err != nil {
		return nil, fmt.Errorf("image %.12s: read manifest: %w", img.ID, err)
	}
	return raw, nil
}

// ImageDetails is what `ctr image inspect` shows, with podman's field names.
type ImageDetails struct {
	ID           string              `json:"Id"`
	Digest       digest.Digest       `json:"Digest"`
	RepoTags     []string            `json:"RepoTags"`
	RepoDigests  []string            `json:"RepoDigests"`
	Parent       string              `json:"Parent"`
	Comment      string              `json:"Comment"`
	Created      *time.Time          `json:"Created"`
	Config       ocispec.ImageConfig `json:"Config"`
	Version      string              `json:"Version"`
	Author       string              `json:"Author"`
	Architecture string              `json:"Architecture"`
	Os           string              `json:"Os"`
	Variant      string              `json:"Variant,omitempty"`
	Size         int64               `json:"Size"`
	VirtualSize  int64               `json:"VirtualSize"`
	GraphDriver  GraphDriverData     `json:"GraphDriver"`
	RootFS       RootFS              `json:"RootFS"`
	Labels       map[string]string   `json:"Labels"`
	Annotations  map[string]string   `json:"Annotations"`
	ManifestType string              `json:"ManifestType"`
	User         string              `json:"User"`
	History      []ocispec.History   `json:"History"`
	NamesHistory []string            `json:"NamesHistory"`
}

// GraphDriverData names the driver and the layer directories of an image.
type GraphDriverData struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists the DiffIDs of an image's layers.
type RootFS struct {
	Type   string          `json:"Type"`
	Layers []digest.Digest `json:"Layers"`
}

// Details assembles the inspect view of an image.
func (s *Store) Details(img *Image) (*ImageDetails, error) {
	cfg, err := s.ImageConfig(img)
	if err != nil {
		return nil, err
	}
	rawManifest, err := s.Manifest(img)
	if err != nil {
		return nil, err
	}
	var m struct {
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations"`
		Config      struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		return nil, fmt.Errorf("image %.12s: parse manifest: %w", img.ID, err)
	}
	manifestType := m.MediaType
	if manifestType == "" && m.Config.MediaType == ocispec.MediaTypeImageConfig {
		manifestType = ocispec.MediaTypeImageManifest
	}
	ci, err := s.s.Image(img.ID)
	if err != nil {
		return nil, err
	}
	d := &ImageDetails{
		ID: img.ID, Digest: img.Digest, RepoTags: img.RepoTags(), RepoDigests: img.RepoDigests(),
		Created: cfg.Created, Config: cfg.Config, Author: cfg.Author,
		Architecture: cfg.Architecture, Os: cfg.OS, Variant: cfg.Variant,
		Size: img.Size, VirtualSize: img.Size,
		GraphDriver:  GraphDriverData{Name: s.choice.Driver, Data: s.layerDirs(img.TopLayer)},
		RootFS:       RootFS{Type: cfg.RootFS.Type, Layers: cfg.RootFS.DiffIDs},
		Labels:       cfg.Config.Labels,
		Annotations:  m.Annotations,
		ManifestType: manifestType,
		User:         cfg.Config.User,
		History:      cfg.History,
		NamesHistory: ci.NamesHistory,
	}
	if d.RepoTags == nil {
		d.RepoTags = []string{}
	}
	if d.RepoDigests == nil {
		d.RepoDigests = []string{}
	}
	return d, nil
}

// layerDirs reports where the driver keeps a layer, as podman shows it.
func (s *Store) layerDirs(layerID string) map[string]string {
	if layerID == "" {
		return nil
	}
	drv, err := s.s.GraphDriver()
	if err != nil {
		return nil
	}
	md, err := drv.Metadata(layerID)
	if err != nil {
		return nil
	}
	return md
}
