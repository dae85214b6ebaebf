package storage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// testTarEntry is one entry of a hand-made layer.
type testTarEntry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	link     string
	body     string
	pax      bool // force a PAX header (a long name does too)
}

// makeTar writes entries as a tar stream, then extra zero bytes after the
// end-of-archive blocks (some tools pad to a record size).
func makeTar(t *testing.T, entries []testTarEntry, padding int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatGNU}
		if e.pax || len(e.name) > 100 {
			h.Format = tar.FormatPAX
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, padding))
	return buf.Bytes()
}

// layerEntries has what a layer tarball can hold: a root entry, owners,
// a hardlink, a symlink, whiteouts, a long (PAX) name and an empty file.
var layerEntries = []testTarEntry{
	{name: "./", typ: tar.TypeDir, mode: 0o750},
	{name: "etc/", typ: tar.TypeDir, mode: 0o755},
	{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
	{name: "home/user/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
	{name: "home/user/file", uid: 1000, gid: 1001, body: strings.Repeat("user data\n", 1000)},
	{name: "home/user/hardlink", typ: tar.TypeLink, link: "home/user/file", uid: 1000, gid: 1001},
	{name: "home/user/symlink", typ: tar.TypeSymlink, link: "file", mode: 0o777, uid: 1000, gid: 1000},
	{name: "nobody", uid: 65534, gid: 65534, body: "x"},
	{name: "empty", body: ""},
	{name: "etc/.wh.removed", uid: 4242, gid: 4242},
	{name: "opaque/", typ: tar.TypeDir, mode: 0o755},
	{name: "opaque/.wh..wh..opq", uid: 4343, gid: 4343},
	{name: "long/" + strings.Repeat("n", 150), body: "long name\n", pax: true},
}

// fileGetter serves the contents of the regular files of a tar, as the
// store's file getter serves them from a layer's directory.
func fileGetter(t *testing.T, b []byte) tsstorage.FileGetter {
	t.Helper()
	fgp := tsstorage.NewBufferFileGetPutter()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fgp
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, _, err := fgp.Put(h.Name, tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSplitTar(t *testing.T) {
	for _, padding := range []int{0, 512, 10240 + 7} {
		layer := makeTar(t, layerEntries, padding)
		var sink, meta bytes.Buffer
		st := &splitStats{sha: sha256.New(), uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
		r := io.TeeReader(bytes.NewReader(layer), io.MultiWriter(st.sha, &st.size, &sink))
		if err := splitTar(r, tsstorage.NewJSONPacker(&meta), st, func() error { return nil }); err != nil {
			t.Fatalf("splitTar(layer + %d bytes of padding) = %v", padding, err)
		}
		if !bytes.Equal(sink.Bytes(), layer) {
			t.Errorf("splitTar passed on %d bytes, want the whole %d-byte stream (padding %d)", sink.Len(), len(layer), padding)
		}
		if int(st.size) != len(layer) {
			t.Errorf("size = %d, want %d", st.size, len(layer))
		}
		if got, want := digest.NewDigestFromBytes(digest.SHA256, st.sha.Sum(nil)), digest.FromBytes(layer); got != want {
			t.Errorf("digest = %s, want %s", got, want)
		}
		// Whiteouts carry no owners of files that exist: storage leaves them
		// out of the layer's ID lists, and so does splitTar.
		if got, want := sortedIDs(st.uids), []uint32{0, 1000, 65534}; !reflect.DeepEqual(got, want) {
			t.Errorf("UIDs = %v, want %v", got, want)
		}
		if got, want := sortedIDs(st.gids), []uint32{0, 1000, 1001, 65534}; !reflect.DeepEqual(got, want) {
			t.Errorf("GIDs = %v, want %v", got, want)
		}
		if st.rootMode == nil || st.rootMode.Perm() != 0o750 || !st.rootMode.IsDir() {
			t.Errorf("root mode = %v, want drwxr-x---", st.rootMode)
		}

		// The metadata and the files reproduce the tarball exactly: this is
		// what store.Diff does for push.
		out := asm.NewOutputTarStream(fileGetter(t, layer), tsstorage.NewJSONUnpacker(&meta))
		got, err := io.ReadAll(out)
		if err != nil {
			t.Fatalf("reassemble: %v", err)
		}
		if !bytes.Equal(got, layer) {
			t.Errorf("reassembled %d bytes differ from the %d-byte layer (padding %d)", len(got), len(layer), padding)
		}
	}
}

func TestSplitTarWithoutRootEntry(t *testing.T) {
	layer := makeTar(t, layerEntries[1:3], 0)
	st := &splitStats{sha: sha256.New(), uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
	if err := splitTar(bytes.NewReader(layer), tsstorage.NewJSONPacker(io.Discard), st, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if st.rootMode != nil {
		t.Errorf("root mode = %v, want nil (the driver keeps the parent's)", *st.rootMode)
	}
}

func TestSplitTarErrors(t *testing.T) {
	good := makeTar(t, layerEntries, 0)
	errStop := errors.New("stop")
	tests := []struct {
		name  string
		in    []byte
		stop  func() error
		want  error  // errors.Is, or nil to only require an error
		wantS string // substring of the error
	}{
		{name: "junk", in: []byte(strings.Repeat("not a tar archive ", 100)), wantS: "invalid tar header"},
		{name: "truncated in a file", in: good[:2048+100], want: io.ErrUnexpectedEOF},
		{name: "duplicate paths", in: makeTar(t, []testTarEntry{{name: "a", body: "1"}, {name: "a", body: "2"}}, 0), want: tsstorage.ErrDuplicatePath},
		{name: "stopped", in: good, stop: func() error { return errStop }, want: errStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop := tt.stop
			if stop == nil {
				stop = func() error { return nil }
			}
			st := &splitStats{sha: sha256.New(), uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
			err := splitTar(bytes.NewReader(tt.in), tsstorage.NewJSONPacker(io.Discard), st, stop)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantS) {
				t.Errorf("splitTar(%s) = %v, want an error matching %v %q", tt.name, err, tt.want, tt.wantS)
			}
		})
	}
}

func TestDecompress(t *testing.T) {
	plain := makeTar(t, layerEntries, 0)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	zw.Close()
	for name, blob := range map[string][]byte{"none": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes(), "empty": nil} {
		t.Run(name, func(t *testing.T) {
			want := plain
			if blob == nil {
				want = nil
			}
			rc, err := decompress(bufio.NewReader(bytes.NewReader(blob)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("decompress(%s) = %d bytes, %v, want %d bytes", name, len(got), err, len(want))
			}
		})
	}
	t.Run("bzip2 is refused", func(t *testing.T) {
		_, err := decompress(bufio.NewReader(bytes.NewReader([]byte("BZh91AY&SY"))))
		if err == nil || !strings.Contains(err.Error(), "only gzip, zstd or no compression") {
			t.Errorf("decompress(bzip2) = %v, want a refusal", err)
		}
	})
}

func TestLayerDifferRefusesReuseAndFlatFormat(t *testing.T) {
	d := &layerDiffer{src: bytes.NewReader(nil)}
	_, err := d.ApplyDiff(t.TempDir(), &archive.TarOptions{}, &drivers.DifferOptions{Format: drivers.DifferOutputFormatFlat})
	if err == nil || !strings.Contains(err.Error(), "unsupported output format") {
		t.Errorf("ApplyDiff(flat format) = %v, want an unsupported-format error", err)
	}
	if _, err := d.ApplyDiff(t.TempDir(), nil, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second ApplyDiff = %v, want an error", err)
	}
}

func TestTempFileIsAnonymous(t *testing.T) {
	dir := t.TempDir()
	f, err := tempFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("ReadDir(%s) = %v, %v, want no entries (the file must not be named)", dir, entries, err)
	}
}

func TestSizeLimitReader(t *testing.T) {
	for _, tt := range []struct {
		size, limit int64
		wantErr     bool
	}{
		{100, 0, false},
		{100, 100, false},
		{100, 101, false},
		{101, 100, true},
		{1 << 20, 1000, true},
	} {
		l := &sizeLimitReader{r: io.LimitReader(zeros{}, tt.size), limit: tt.limit}
		n, err := io.Copy(io.Discard, l)
		if tt.wantErr {
			if !errors.Is(err, ErrLayerTooLarge) || !errors.Is(l.err(), ErrLayerTooLarge) || n > tt.limit {
				t.Errorf("size %d, limit %d: read %d, %v (remembered %v), want ErrLayerTooLarge within the limit", tt.size, tt.limit, n, err, l.err())
			}
			continue
		}
		if err != nil || n != tt.size || l.err() != nil {
			t.Errorf("size %d, limit %d: read %d, %v, want all of it", tt.size, tt.limit, n, err)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
