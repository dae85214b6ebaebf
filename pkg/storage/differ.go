package storage

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"golang.org/x/sys/unix"
)

// layerDiffer is ctr's drivers.Differ: store.PrepareStagedLayer hands it a
// fresh staging directory (and the TarOptions the driver wants: overlay
// whiteouts, ID mappings, ignore_chown_errors, force_mask) and it fills the
// directory from one layer blob, without holding any store lock and without
// needing the parent layer. That is what lets ctr extract several layers at
// once and commit them in order afterwards with store.ApplyStagedLayer.
//
// It replaces what storage's own PutLayer does for a tarball, in a single
// pass over the stream:
//
//	blob (verified by src) -> decompress -> tee: sha256 (DiffID), byte count,
//	                                        tar-split metadata + owner IDs,
//	                                        kernel pipe -> storage-untar child
//
// The extraction itself is storage's chrootarchive.UntarUncompressed, the
// same function the overlay driver uses for PutLayer: it re-executes the
// binary as storage-untar, chroots into the staging directory and unpacks
// with in-root path resolution (RELIABILITY 0.5, T1-T7). ctr does not untar
// by itself. The pipe is an *os.File, so exec hands it to the child as stdin
// instead of copying through another goroutine. (archive.Unpack in this
// process, without the child and the pipe, was measured too: no faster, the
// time goes into creating files, and it would give up the chroot.)
//
// Verification before commit: ApplyDiff reads src to EOF even when the tar
// ends early or extraction fails, so src's digest and size check always runs;
// ApplyDiff then compares the DiffID with the config's. Any mismatch is an
// error returned from PrepareStagedLayer, so the staged content is discarded
// and never becomes a layer.
type layerDiffer struct {
	src    io.Reader     // the compressed blob; returns ErrDigestMismatch at EOF when it does not match
	blob   digest.Digest // the blob's digest, recorded as the layer's CompressedDigest once src verified it
	diffID digest.Digest // the config's diff_id for this layer
	limit  int64         // the most uncompressed bytes the layer may have (maxLayerSize)
	used   atomic.Bool
}

var _ drivers.Differ = (*layerDiffer)(nil)

// pipeSize is the capacity asked for the pipe to storage-untar: larger than
// the 64 KiB default, so the child and the parser hand over the data in
// fewer context switches (Linux allows 1 MiB to unprivileged users).
const pipeSize = 1 << 20

// ApplyDiff implements drivers.Differ.
func (d *layerDiffer) ApplyDiff(dest string, opts *archive.TarOptions, dopts *drivers.DifferOptions) (_ drivers.DriverWithDifferOutput, retErr error) {
	var out drivers.DriverWithDifferOutput
	if d.used.Swap(true) {
		return out, errors.New("internal error: layer differ used twice")
	}
	if dopts != nil && dopts.Format != drivers.DifferOutputFormatDir {
		// composefs' flat layout stores files by checksum; ctr never
		// configures it.
		return out, fmt.Errorf("layer differ: unsupported output format %d", dopts.Format)
	}
	if opts == nil {
		opts = &archive.TarOptions{}
	}

	scratch := filepath.Dir(dest)
	if dopts != nil && dopts.StagingDirectory != "" {
		scratch = dopts.StagingDirectory
	}
	tarSplit, err := tempFile(scratch)
	if err != nil {
		return out, err
	}
	defer func() {
		if retErr != nil {
			tarSplit.Close()
		}
	}()

	// A buffered view of the blob, so the compression can be sniffed; it is
	// also what is drained to EOF at the end (its buffered bytes were read
	// from src, and therefore hashed, already).
	blob := bufio.NewReaderSize(d.src, 64<<10)
	st, splitErr, untarErr := d.extract(blob, dest, opts, tarSplit)

	// Read the blob to its end whatever happened above: src checks digest
	// and size only at EOF. A mismatch is the most useful error to report:
	// corrupt data usually breaks decompression or the tar first.
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return out, err
	}
	if splitErr != nil && !errors.Is(splitErr, errUntarFailed) {
		return out, splitErr
	}
	if untarErr != nil {
		return out, fmt.Errorf("extract layer: %w", untarErr)
	}
	if splitErr != nil {
		return out, splitErr
	}
	got := digest.NewDigestFromBytes(digest.SHA256, st.sha.Sum(nil))
	if got != d.diffID {
		return out, fmt.Errorf("%w: content has DiffID %s, the config says %s", ErrDigestMismatch, got, d.diffID)
	}

	out.UncompressedDigest = got
	out.CompressedDigest = d.blob
	out.Size = int64(st.size)
	out.UIDs = sortedIDs(st.uids)
	out.GIDs = sortedIDs(st.gids)
	out.RootDirMode = st.rootMode
	out.TarSplit = tarSplit // storage gzips it into the layer's tar-split file on commit
	return out, nil
}

// Close implements drivers.Differ; the blob stream belongs to the caller.
func (d *layerDiffer) Close() error { return nil }

// errUntarFailed stops the tar-split parser when the extraction ended before
// the stream (storage-untar could not start, or died and its pipe closed):
// parsing on would only burn CPU. The extraction's own error is reported.
// (When the child fails after starting, storage drains the pipe until EOF,
// so the parser runs to the end and nothing blocks.)
var errUntarFailed = errors.New("extraction failed")

// extract decompresses blob and streams it both through the tar-split
// parser (in this goroutine) and into storage-untar (a child process). It
// returns the parser's results and both errors.
func (d *layerDiffer) extract(blob *bufio.Reader, dest string, opts *archive.TarOptions, tarSplit *os.File) (st *splitStats, splitErr, untarErr error) {
	raw, err := decompress(blob)
	if err != nil {
		return nil, err, nil
	}
	defer raw.Close() // neither decoder reads blob from another goroutine: blob can be drained after this
	dec := &sizeLimitReader{r: raw, limit: d.limit}

	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err, nil
	}
	_, _ = unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, pipeSize) // best effort

	var untarFailed atomic.Bool
	untarDone := make(chan error, 1)
	go func() {
		err := chrootarchive.UntarUncompressed(pr, dest, opts)
		pr.Close()
		if err != nil {
			untarFailed.Store(true)
		}
		untarDone <- err
	}()

	st = &splitStats{sha: sha256.New(), uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
	sink := &sinkWriter{w: pw}
	bw := bufio.NewWriterSize(sink, 256<<10)
	tw := bufio.NewWriterSize(tarSplit, 256<<10)
	splitErr = splitTar(io.TeeReader(dec, io.MultiWriter(st.sha, &st.size, bw)), tsstorage.NewJSONPacker(tw), st,
		func() error {
			if untarFailed.Load() {
				return errUntarFailed
			}
			return nil
		})
	if splitErr == nil {
		splitErr = bw.Flush()
	}
	if splitErr == nil {
		splitErr = tw.Flush()
	}
	if sink.err != nil {
		// Writing to the child failed: it is gone, and its error says why.
		splitErr = errUntarFailed
	}
	pw.Close() // EOF for the child; on error it stops with a short tar
	untarErr = <-untarDone
	return st, splitErr, untarErr
}

// sinkWriter remembers that writing to the child failed, so the parser's
// resulting error is not mistaken for a problem with the layer.
type sinkWriter struct {
	w   io.Writer
	err error
}

func (s *sinkWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// decompress detects the blob's compression as storage does and returns the
// uncompressed stream. gzip, zstd and none are what the OCI and Docker layer
// media types allow. Both decoders run in the calling goroutine (no
// read-ahead: storage's pgzip spends ~7% more CPU copying blocks between
// goroutines, and the parallelism comes from extracting several layers at
// once), so nothing else reads blob and it can be drained afterwards.
func decompress(blob *bufio.Reader) (io.ReadCloser, error) {
	magic, err := blob.Peek(10)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch c := archive.DetectCompression(magic); c {
	case archive.Uncompressed:
		return io.NopCloser(blob), nil
	case archive.Gzip:
		return gzip.NewReader(blob)
	case archive.Zstd:
		zr, err := zstd.NewReader(blob, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	default:
		return nil, fmt.Errorf("layer is compressed with %s: only gzip, zstd or no compression are supported", c.Extension())
	}
}

// ErrLayerTooLarge is matched by errors.Is when a layer expands to more
// than the store's filesystem can take (a decompression bomb, say).
var ErrLayerTooLarge = errors.New("layer too large")

// sizeLimitReader fails with ErrLayerTooLarge once more than limit bytes
// have been read (limit <= 0: no limit), and remembers it: a consumer may
// report its own error instead.
type sizeLimitReader struct {
	r        io.Reader
	limit    int64
	read     int64
	exceeded error
}

func (l *sizeLimitReader) Read(b []byte) (int, error) {
	if l.exceeded != nil {
		return 0, l.exceeded
	}
	n, err := l.r.Read(b)
	l.read += int64(n)
	if l.limit > 0 && l.read > l.limit {
		l.exceeded = fmt.Errorf("%w: it expands beyond the free space of the store's filesystem (less a reserve); free some space, or the image is hostile", ErrLayerTooLarge)
		return 0, l.exceeded
	}
	return n, err
}

// err is ErrLayerTooLarge once the limit was hit, else nil.
func (l *sizeLimitReader) err() error { return l.exceeded }

// maxLayerSize is the most a layer extracted under dir may expand to: the
// free space of dir's filesystem less a reserve of 5% of its size (at most
// 1 GiB), so that a decompression bomb (a few MB of gzip that inflate to
// terabytes) fails the pull instead of filling the user's disk. A layer
// that fits passes; one that does not would fail with ENOSPC anyway, after
// filling the disk. Several layers extract at once, and each may take the
// whole margin: the check bounds each layer, not their sum. 0 means no
// limit (the filesystem cannot say). A variable, for tests.
var maxLayerSize = func(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0
	}
	free := int64(st.Bavail) * st.Bsize
	reserve := min(int64(st.Blocks)*st.Bsize/20, 1<<30)
	return max(free-reserve, 1)
}

// splitStats is what splitTar learns from a layer.
type splitStats struct {
	sha        hash.Hash
	size       byteCounter
	uids, gids map[uint32]struct{}
	rootMode   *os.FileMode
}

type byteCounter int64

func (c *byteCounter) Write(b []byte) (int, error) {
	*c += byteCounter(len(b))
	return len(b), nil
}

// splitTar reads a tar stream to its very end and records it with p as
// tar-split metadata: the raw header bytes and padding as segments, each
// file's name, size and CRC-64. With the file contents, that reproduces the
// layer tarball bit for bit, which is how store.Diff can return exactly the
// blob whose digest is the layer's DiffID (for push). It is tar-split's
// asm.NewInputTarStream loop, run inline instead of in a goroutine behind an
// io.Pipe, with the owner IDs collected on the way (as storage's applyDiff
// does with a second tar parser, whiteouts excluded). stop is polled before
// each entry.
func splitTar(r io.Reader, p tsstorage.Packer, st *splitStats, stop func() error) error {
	tr := tar.NewReader(r)
	tr.RawAccounting = true
	fp := tsstorage.NewDiscardFilePutter()
	segment := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		_, err := p.AddEntry(tsstorage.Entry{Type: tsstorage.SegmentType, Payload: b})
		return err
	}
	for {
		if err := stop(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// The end-of-archive blocks were read into RawBytes.
			if err := segment(tr.RawBytes()); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return err
		}
		if err := segment(tr.RawBytes()); err != nil {
			return err
		}
		if !strings.HasPrefix(path.Base(hdr.Name), archive.WhiteoutPrefix) {
			st.uids[uint32(hdr.Uid)] = struct{}{} //nolint:gosec // storage records IDs as uint32 the same way
			st.gids[uint32(hdr.Gid)] = struct{}{} //nolint:gosec // idem
		}
		if hdr.Typeflag == tar.TypeDir && path.Clean("/"+hdr.Name) == "/" {
			// The layer sets its root directory's mode: the overlay driver
			// must keep it rather than copy the parent layer's.
			m := hdr.FileInfo().Mode()
			st.rootMode = &m
		}
		var crc []byte
		if hdr.Size > 0 {
			if _, crc, err = fp.Put(hdr.Name, tr); err != nil {
				return err
			}
		}
		e := tsstorage.Entry{Type: tsstorage.FileType, Size: hdr.Size, Payload: crc}
		e.SetName(hdr.Name)
		if _, err := p.AddEntry(e); err != nil {
			return err
		}
		if err := segment(tr.RawBytes()); err != nil {
			return err
		}
	}
	// Anything after the end-of-archive blocks (more zero padding) is part
	// of the DiffID and of the tarball Diff must reproduce. Read it in
	// chunks: a hostile layer may pad for gigabytes.
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if err := segment(buf[:n]); err != nil {
			return err
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func sortedIDs(m map[uint32]struct{}) []uint32 {
	ids := make([]uint32, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// tempFile returns an anonymous read-write file in dir (O_TMPFILE: it
// vanishes with the last descriptor, even if the process is killed), or a
// named one unlinked at once where the file system lacks O_TMPFILE.
func tempFile(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, "tar-split")), nil
	}
	f, err := os.CreateTemp(dir, "tar-split-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
