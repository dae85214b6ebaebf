package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
)

// Size caps for documents read from a registry, as c/image uses (its
// iolimits cite CVE-2020-1702): a manifest or config is small; anything
// bigger is an attack on our memory.
const (
	maxManifestSize = 4 << 20
	maxConfigSize   = 4 << 20
	maxIndexEntries = 1000
)

// PullOptions configure Pull.
type PullOptions struct {
	// Platform is os/arch[/variant]; empty means this host.
	Platform string
	// Insecure allows plain HTTP and unverified TLS for this registry
	// (--tls-verify=false). Loopback registries may use plain HTTP anyway.
	Insecure bool
	// AuthFiles are read for credentials, first match wins; nil means
	// DefaultAuthFiles.
	AuthFiles []string
	// Progress, if set, receives events; it may be called concurrently.
	Progress func(PullEvent)
	// UserAgent is sent to the registry.
	UserAgent string
}

// PullEventKind says what a PullEvent reports.
type PullEventKind int

// Pull event kinds, in the order they usually happen.
const (
	PullResolving   PullEventKind = iota // Ref is being resolved
	PullLayerExists                      // Digest is already in the store
	PullLayerStart                       // Digest download started, Total bytes
	PullLayerBytes                       // Current of Total bytes of Digest downloaded
	PullLayerDone                        // Digest is committed
	PullConfig                           // the config Digest was fetched
	PullWriting                          // the image is being recorded
)

// PullEvent is one progress report of Pull.
type PullEvent struct {
	Kind    PullEventKind
	Ref     string
	Digest  string
	Total   int64
	Current int64
}

// Pull fetches ref from its registry into the store and returns the image.
// The image appears only once every layer's digest, size and DiffID are
// verified; layers already in the store (by chain ID) are not fetched again.
// A failed pull removes the layers it created.
func (s *Store) Pull(ctx context.Context, ref Reference, opts PullOptions) (*Image, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(PullEvent) {}
	}
	progress(PullEvent{Kind: PullResolving, Ref: ref.String()})

	platform, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	nameOpts := []name.Option{name.StrictValidation}
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	remoteRef, err := name.ParseReference(ref.String(), nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidReference, ref, err)
	}
	authFiles := opts.AuthFiles
	if authFiles == nil {
		authFiles = DefaultAuthFiles()
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "ctr"
	}
	// One ping and token exchange for the whole pull: remote.Get takes the
	// authenticated transport as is, and the layer blobs come through it.
	sess, err := openRegistry(ctx, remoteRef.Context(), opts.Insecure, fileKeychain{files: authFiles}, ua)
	if err != nil {
		return nil, &RegistryError{Registry: ref.Domain(), Ref: ref.String(), Err: err}
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(sess.rt),
		remote.WithPlatform(*platform),
	}

	desc, err := remote.Get(remoteRef, ropts...)
	if err != nil {
		return nil, &RegistryError{Registry: ref.Domain(), Ref: ref.String(), Err: err}
	}
	if err := checkManifest(desc.Manifest, desc.MediaType); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	var (
		img         v1.Image
		indexDigest digest.Digest
		rawIndex    []byte
	)
	switch {
	case desc.MediaType.IsIndex():
		indexDigest = digest.Digest(desc.Digest.String())
		rawIndex = desc.Manifest
		img, err = pickPlatform(desc, platform)
	case desc.MediaType.IsImage():
		img, err = desc.Image()
	default:
		err = fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return s.commitRemoteImage(ctx, ref, sess, img, indexDigest, rawIndex, progress)
}

func (s *Store) commitRemoteImage(ctx context.Context, ref Reference, sess *registrySession, img v1.Image, indexDigest digest.Digest,
	rawIndex []byte, progress func(PullEvent),
) (_ *Image, retErr error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, &RegistryError{Registry: ref.Domain(), Ref: ref.String(), Err: err}
	}
	mediaType, _ := img.MediaType()
	if err := checkManifest(rawManifest, mediaType); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	manifest, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("%s: parse manifest: %w", ref, err)
	}
	if manifest.Config.Size > maxConfigSize {
		return nil, fmt.Errorf("%s: config is %d bytes, more than the %d allowed", ref, manifest.Config.Size, maxConfigSize)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, &RegistryError{Registry: ref.Domain(), Ref: ref.String(), Err: err}
	}
	config, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("%s: parse config: %w", ref, err)
	}
	progress(PullEvent{Kind: PullConfig, Digest: manifest.Config.Digest.String()})
	if len(config.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("%s: the config lists %d layers (diff_ids) but the manifest %d", ref, len(config.RootFS.DiffIDs), len(manifest.Layers))
	}
	for _, l := range manifest.Layers {
		if !isLayerMediaType(l.MediaType) {
			return nil, fmt.Errorf("%s: layer %s has unsupported media type %q", ref, l.Digest, l.MediaType)
		}
	}
	manifestDigest := digest.FromBytes(rawManifest)
	imageID := digest.FromBytes(rawConfig).Encoded()

	diffIDs := make([]digest.Digest, len(config.RootFS.DiffIDs))
	for i, d := range config.RootFS.DiffIDs {
		diffIDs[i] = digest.Digest(d.String())
		if err := diffIDs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%s: diff_id %d: %w", ref, i, err)
		}
	}
	chain := chainIDs(diffIDs)

	created, err := s.fetchLayers(ctx, ref, sess, manifest.Layers, diffIDs, chain, progress)
	defer func() {
		if retErr != nil {
			s.deleteLayers(created)
		}
	}()
	if err != nil {
		return nil, err
	}

	progress(PullEvent{Kind: PullWriting})
	var names []string
	if ref.Tag() != "" {
		names = []string{ref.Repository() + ":" + ref.Tag()}
	} else {
		names = []string{ref.Repository() + "@" + ref.Digest().String()}
	}
	digests := []digest.Digest{manifestDigest}
	bigData := []cstorage.ImageBigDataOption{
		{Key: manifest.Config.Digest.String(), Data: rawConfig, Digest: digest.FromBytes(rawConfig)},
		{Key: manifestBigDataKey(manifestDigest), Data: rawManifest, Digest: manifestDigest},
		{Key: "manifest", Data: rawManifest, Digest: manifestDigest},
	}
	if indexDigest != "" {
		digests = append(digests, indexDigest)
		bigData = append(bigData, cstorage.ImageBigDataOption{Key: manifestBigDataKey(indexDigest), Data: rawIndex, Digest: indexDigest})
	}
	top := ""
	if len(chain) > 0 {
		top = chain[len(chain)-1].Encoded()
	}
	metadata, err := json.Marshal(imageMetadata{Platform: platformString(config)})
	if err != nil {
		return nil, err
	}
	imgOpts := &cstorage.ImageOptions{
		CreationDate: config.Created.Time,
		Digest:       manifestDigest,
		Digests:      digests,
		BigData:      bigData,
	}
	err = s.createImage(imageID, names, top, string(metadata), imgOpts)
	if errors.Is(err, cstorage.ErrDuplicateID) {
		// Already here (pulled before under another name, or by a
		// concurrent pull): add our name and digests.
		err = s.addToExisting(imageID, names, bigData)
	}
	if err != nil {
		return nil, fmt.Errorf("record image %s: %w", imageID, err)
	}
	return s.Image(imageID)
}

// createImage records an image. Names held by other images move to it, as
// when a tag moved upstream or another platform of it was pulled.
func (s *Store) createImage(id string, names []string, top, metadata string, opts *cstorage.ImageOptions) error {
	_, err := s.s.CreateImage(id, names, top, metadata, opts)
	if errors.Is(err, cstorage.ErrDuplicateName) {
		if _, err = s.s.CreateImage(id, nil, top, metadata, opts); err == nil {
			err = s.s.AddNames(id, names)
		}
	}
	return err
}

func (s *Store) addToExisting(id string, names []string, bigData []cstorage.ImageBigDataOption) error {
	if err := s.s.AddNames(id, names); err != nil {
		return err
	}
	for _, b := range bigData {
		if strings.HasPrefix(b.Key, "manifest") {
			if err := s.s.SetImageBigData(id, b.Key, b.Data, manifestDigestFunc); err != nil {
				return err
			}
		}
	}
	return nil
}

func manifestDigestFunc(b []byte) (digest.Digest, error) { return digest.FromBytes(b), nil }

func manifestBigDataKey(d digest.Digest) string { return "manifest-" + d.String() }

// imageMetadata is what ctr keeps in the image record's metadata string.
type imageMetadata struct {
	Platform string `json:"platform,omitempty"`
}

// fetchLayers commits the layers that are not in the store yet (by chain
// ID) and returns the IDs of the layers it created.
func (s *Store) fetchLayers(ctx context.Context, ref Reference, sess *registrySession, descs []v1.Descriptor,
	diffIDs, chain []digest.Digest, progress func(PullEvent),
) ([]string, error) {
	var srcs []layerSource
	for i := range descs {
		id := chain[i].Encoded()
		if _, err := s.s.Layer(id); err == nil {
			progress(PullEvent{Kind: PullLayerExists, Digest: descs[i].Digest.String()})
			continue
		}
		parent := ""
		if i > 0 {
			parent = chain[i-1].Encoded()
		}
		d := descs[i]
		srcs = append(srcs, layerSource{
			blob: d.Digest, size: d.Size, diffID: diffIDs[i], id: id, parent: parent,
			open: func(ctx context.Context) (io.ReadCloser, error) {
				rc, err := sess.openBlob(ctx, d.Digest, d.Size)
				if err != nil {
					return nil, &RegistryError{Registry: ref.Domain(), Ref: ref.String(), Err: fmt.Errorf("fetch layer %s: %w", d.Digest, err)}
				}
				return rc, nil
			},
		})
	}
	return s.commitLayers(ctx, srcs, progress)
}

// ErrDigestMismatch is matched by errors.Is when content does not match the
// digest that names it.
var ErrDigestMismatch = errors.New("digest mismatch")

func (s *Store) deleteLayers(ids []string) {
	for i := len(ids) - 1; i >= 0; i-- {
		_ = s.s.DeleteLayer(ids[i])
	}
}

// chainIDs computes the OCI chain IDs of a layer stack: the ID of the
// filesystem that applying diffIDs[0..i] produces. ctr names layers by
// chain ID so the same stack is stored once however many images share it.
func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

func isLayerMediaType(mt types.MediaType) bool {
	switch mt {
	case types.DockerLayer, types.OCILayer, types.OCIUncompressedLayer, types.OCILayerZStd,
		types.DockerUncompressedLayer:
		return true
	}
	return false
}

// checkManifest rejects oversized documents and ones that could be read as
// both an index and an image manifest (CVE-2021-41190), and documents whose
// own mediaType contradicts the one the registry sent.
func checkManifest(raw []byte, mt types.MediaType) error {
	if len(raw) > maxManifestSize {
		return fmt.Errorf("manifest is %d bytes, more than the %d allowed", len(raw), maxManifestSize)
	}
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests json.RawMessage   `json:"manifests"`
		Layers    json.RawMessage   `json:"layers"`
		Config    json.RawMessage   `json:"config"`
		FSLayers  []json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return fmt.Errorf("parse manifest: %w", err)
	}
	if probe.FSLayers != nil {
		return errors.New("docker schema 1 manifests are not supported")
	}
	if probe.Manifests != nil && (probe.Layers != nil || probe.Config != nil) {
		return errors.New("ambiguous manifest: it has both \"manifests\" and \"layers\"/\"config\"")
	}
	if probe.MediaType != "" && mt != "" && string(mt) != probe.MediaType {
		return fmt.Errorf("manifest says mediaType %q but was served as %q", probe.MediaType, mt)
	}
	return nil
}

// pickPlatform chooses the image for platform from an index, refusing
// nested indexes and absurd fan-out.
func pickPlatform(desc *remote.Descriptor, platform *v1.Platform) (v1.Image, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	if len(im.Manifests) > maxIndexEntries {
		return nil, fmt.Errorf("index has %d entries, more than the %d allowed", len(im.Manifests), maxIndexEntries)
	}
	var available []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		available = append(available, m.Platform.String())
		if !m.MediaType.IsImage() || !m.Platform.Satisfies(*platform) {
			continue
		}
		return idx.Image(m.Digest)
	}
	return nil, fmt.Errorf("%w: no image for %s in the index (it has %s)", ErrNoMatchingPlatform, platform, strings.Join(available, ", "))
}

// ErrNoMatchingPlatform is returned when an index has no image for the
// requested platform.
var ErrNoMatchingPlatform = errors.New("no matching platform")

func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		p := &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("invalid platform %q: want OS/ARCH[/VARIANT], e.g. linux/arm64", s)
	}
	p := &v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func platformString(c *v1.ConfigFile) string {
	s := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		s += "/" + c.Variant
	}
	return s
}

// RegistryError wraps a failure to talk to a registry with its name.
type RegistryError struct {
	Registry string
	Ref      string
	Err      error
}

func (e *RegistryError) Error() string {
	msg := fmt.Sprintf("pull %s from registry %s: %s", e.Ref, e.Registry, strings.TrimSpace(registryReason(e.Err)))
	if untrustedCertificate(e.Err) {
		msg += " (the registry's certificate is not trusted: add its CA to the system's trust store or name it in SSL_CERT_FILE, or pass --tls-verify=false)"
	}
	return msg
}

// untrustedCertificate reports whether err comes from a TLS certificate
// that did not verify. go-containerregistry joins the errors of its https
// and http attempts into text, so the text is checked too.
func untrustedCertificate(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	return errors.As(err, &verr) || errors.As(err, &uerr) || strings.Contains(err.Error(), "x509: ")
}

// registryReason words the registry's answer for people: its error codes
// with what they mean here, rather than the request line and the raw
// detail (a Go map) go-containerregistry prints.
func registryReason(err error) string {
	var te *transport.Error
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return err.Error()
	}
	reasons := make([]string, 0, len(te.Errors))
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode:
			reasons = append(reasons, "manifest unknown: the registry has no such tag or digest")
		case transport.NameUnknownErrorCode:
			reasons = append(reasons, "name unknown: the registry has no such repository")
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			reasons = append(reasons, strings.ToLower(string(d.Code))+": the registry refused access (credentials are read from $XDG_RUNTIME_DIR/containers/auth.json and ~/.docker/config.json)")
		case transport.TooManyRequestsErrorCode:
			reasons = append(reasons, "too many requests: the registry's rate limit was reached; try again later")
		default:
			msg := d.Message
			if msg == "" {
				msg = strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
			}
			reasons = append(reasons, fmt.Sprintf("%s (%s)", msg, d.Code))
		}
	}
	return strings.Join(reasons, "; ")
}

func (e *RegistryError) Unwrap() error { return e.Err }

// verifyingReader checks a blob against its descriptor as it streams: it is
// the one digest and size check of a layer blob (ctr downloads layer blobs
// itself, see registrySession), and gives callers ErrDigestMismatch to test
// for. It fails as soon as more bytes than declared arrive. Its verdict is
// sticky: whoever reads after a failure (a drain after a decompressor gave
// up) gets the same error, never a clean EOF.
type verifyingReader struct {
	r      io.ReadCloser
	h      hash.Hash
	want   v1.Hash
	size   int64
	n      int64
	report func(int64)
	err    error // the verdict, repeated to every later Read
}

func newVerifyingReader(r io.ReadCloser, want v1.Hash, size int64, report func(int64)) *verifyingReader {
	return &verifyingReader{r: r, h: sha256.New(), want: want, size: size, report: report}
}

func (v *verifyingReader) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		v.err = err
	}
	return n, err
}

func (v *verifyingReader) read(b []byte) (int, error) {
	n, err := v.r.Read(b)
	v.h.Write(b[:n])
	v.n += int64(n)
	if n > 0 {
		v.report(v.n)
	}
	if v.n > v.size {
		return n, fmt.Errorf("%w: blob %s is longer than its declared %d bytes", ErrDigestMismatch, v.want, v.size)
	}
	if errors.Is(err, io.EOF) && v.n < v.size {
		return n, fmt.Errorf("%w: blob %s ends after %d of its declared %d bytes", ErrDigestMismatch, v.want, v.n, v.size)
	}
	if err != nil && v.n == v.size && v.want.Algorithm == "sha256" {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("%w: blob %s has content with digest sha256:%s", ErrDigestMismatch, v.want, got)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.r.Close() }
