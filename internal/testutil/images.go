package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxStatic is Debian's statically linked busybox (package busybox-static).
const BusyboxStatic = "/bin/busybox"

// TarEntry is one file of a test layer.
type TarEntry struct {
	Name     string
	Type     byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeLink
	Mode     int64
	UID, GID int
	Linkname string
	Body     []byte
}

// LayerTar builds an uncompressed tar from entries.
func LayerTar(entries []TarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(1700000000, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Linkname: e.Linkname, ModTime: epoch, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// BusyboxRootfs returns the entries of a minimal root filesystem: the
// static busybox with a symlink per applet, /etc/passwd and /etc/group with
// root, a uid-1000 user and nobody.
func BusyboxRootfs() ([]TarEntry, error) {
	bin, err := os.ReadFile(BusyboxStatic)
	if err != nil {
		return nil, fmt.Errorf("busybox-static is needed for test images (apt-get install busybox-static): %w", err)
	}
	out, err := exec.Command(BusyboxStatic, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	entries := []TarEntry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Mode: 0o755, Body: bin},
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Body: []byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Name: "etc/group", Body: []byte("root:x:0:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n")},
		{Name: "root/", Type: tar.TypeDir, Mode: 0o700},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "home/", Type: tar.TypeDir},
		{Name: "home/user/", Type: tar.TypeDir, UID: 1000, GID: 1000},
		{Name: "proc/", Type: tar.TypeDir},
		{Name: "sys/", Type: tar.TypeDir},
		{Name: "dev/", Type: tar.TypeDir},
		{Name: "var/", Type: tar.TypeDir},
		{Name: "var/www/", Type: tar.TypeDir},
		{Name: "var/www/index.html", Body: []byte("hello from ctr\n")},
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		entries = append(entries, TarEntry{Name: "bin/" + applet, Type: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	return entries, nil
}

// layer makes a gzip-compressed layer, or an uncompressed one for the
// media type types.OCIUncompressedLayer.
func layer(entries []TarEntry, mt types.MediaType) (v1.Layer, error) {
	b, err := LayerTar(entries)
	if err != nil {
		return nil, err
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	if mt == types.OCIUncompressedLayer {
		return static.NewLayer(b, mt), nil
	}
	return tarball.LayerFromOpener(opener, tarball.WithMediaType(mt))
}

// layerSpec is a layer's files and how it is stored.
type layerSpec struct {
	entries   []TarEntry
	mediaType types.MediaType
}

func gz(entries []TarEntry) layerSpec { return layerSpec{entries, types.OCILayer} }

// ociImage builds an OCI image (go-containerregistry defaults to Docker
// media types) from layers of entries.
func ociImage(arch string, cfg v1.Config, layers ...layerSpec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, ls := range layers {
		l, err := layer(ls.entries, ls.mediaType)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: ls.mediaType,
			History: v1.History{CreatedBy: "ctr test image", Created: v1.Time{Time: time.Unix(1700000000, 0)}}})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = cfg
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0)}
	return mutate.ConfigFile(img, cf)
}

var busyboxConfig = v1.Config{
	Cmd: []string{"/bin/sh"},
	Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
}

// BusyboxImage is a single-layer image of BusyboxRootfs for this host,
// plus extra files.
func BusyboxImage(arch string, extra ...TarEntry) (v1.Image, error) {
	rootfs, err := BusyboxRootfs()
	if err != nil {
		return nil, err
	}
	return ociImage(arch, busyboxConfig, gz(append(rootfs, extra...)))
}

// MultiLayerImage has two layers on top of busybox: files owned by uid
// 1000 and 65534, a symlink and a hardlink; then, stored uncompressed, a
// whiteout that deletes a file of the previous layer, an opaque directory
// and 64 KiB of text (so a flipped byte in its middle keeps the tar valid
// and only the digest check can catch it).
func MultiLayerImage(arch string) (v1.Image, error) {
	rootfs, err := BusyboxRootfs()
	if err != nil {
		return nil, err
	}
	owned := []TarEntry{
		{Name: "data/", Type: tar.TypeDir},
		{Name: "data/user-file", UID: 1000, GID: 1000, Body: []byte("owned by 1000\n")},
		{Name: "data/nobody-file", UID: 65534, GID: 65534, Body: []byte("owned by nobody\n")},
		{Name: "data/symlink", Type: tar.TypeSymlink, Linkname: "user-file", Mode: 0o777},
		{Name: "data/hardlink", Type: tar.TypeLink, Linkname: "data/user-file", UID: 1000, GID: 1000},
		{Name: "data/removed-later", Body: []byte("gone in the next layer\n")},
		{Name: "data/opaque/", Type: tar.TypeDir},
		{Name: "data/opaque/old", Body: []byte("hidden by an opaque whiteout\n")},
	}
	whiteouts := []TarEntry{
		{Name: "data/.wh.removed-later"},
		{Name: "data/opaque/", Type: tar.TypeDir},
		{Name: "data/opaque/.wh..wh..opq"},
		{Name: "data/opaque/new", Body: []byte("new\n")},
		{Name: "data/text", Body: bytes.Repeat([]byte("ctr test data line\n"), 64<<10/19)},
	}
	return ociImage(arch, busyboxConfig, gz(rootfs), gz(owned), layerSpec{whiteouts, types.OCIUncompressedLayer})
}

// PlatformIndex is an OCI index with a busybox image for amd64 and one
// for arm64; each has /platform naming its architecture.
func PlatformIndex() (v1.ImageIndex, error) {
	rootfs, err := BusyboxRootfs()
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := ociImage(arch, busyboxConfig, gz(rootfs), gz([]TarEntry{{Name: "platform", Body: []byte(arch + "\n")}}))
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx, nil
}

// Push writes an image or index to ref on a plain-HTTP test registry.
func Push(ref string, content remote.Taggable) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	switch c := content.(type) {
	case v1.Image:
		return remote.Write(r, c)
	case v1.ImageIndex:
		return remote.WriteIndex(r, c)
	}
	return fmt.Errorf("push %s: unsupported content %T", ref, content)
}

// Test image repositories PushTestImages writes, relative to the registry.
const (
	BusyboxRepo    = "ctr-test/busybox:latest"
	MultiLayerRepo = "ctr-test/multilayer:latest"
	IndexRepo      = "ctr-test/multiarch:latest"
)

// PushTestImages builds the hermetic test images and pushes them to the
// registry at addr. extra files go into the busybox image too (test
// helpers such as a static UDP echo program).
func PushTestImages(addr, arch string, extra ...TarEntry) error {
	bb, err := BusyboxImage(arch, extra...)
	if err != nil {
		return err
	}
	ml, err := MultiLayerImage(arch)
	if err != nil {
		return err
	}
	idx, err := PlatformIndex()
	if err != nil {
		return err
	}
	for ref, content := range map[string]remote.Taggable{BusyboxRepo: bb, MultiLayerRepo: ml, IndexRepo: idx} {
		if err := Push(addr+"/"+ref, content); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return nil
}

// LastLayerDigest is the digest of the top layer of MultiLayerImage: the
// e2e fault proxy corrupts it, so a pull fails after committing the others.
func LastLayerDigest(arch string) (string, error) {
	img, err := MultiLayerImage(arch)
	if err != nil {
		return "", err
	}
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	d, err := layers[len(layers)-1].Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
