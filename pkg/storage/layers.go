package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/lockfile"
	"golang.org/x/sys/unix"
)

// layerSource is one layer a pull must commit.
type layerSource struct {
	blob   v1.Hash       // the compressed blob's digest, from the manifest
	size   int64         // and its size
	diffID digest.Digest // the config's diff_id
	id     string        // the layer ID: the chain ID, so a stack is stored once
	parent string        // the parent layer's ID, "" for the base layer
	// open starts the blob download; cancelling ctx must abort it.
	// commitLayers verifies the stream itself: open need not (and should
	// not) hash it.
	open func(ctx context.Context) (io.ReadCloser, error)
}

// prefetchBudget bounds the memory used for blobs downloaded ahead of the
// extractions.
const prefetchBudget = 128 << 20

// maxParallelBlobs bounds the blob downloads open at once (at least one per
// extraction).
const maxParallelBlobs = 4

// extractionWorkers is how many layers are extracted at once: one per CPU the
// Go runtime may use, and at least two, because an extraction is a pipeline
// of this process (decompression, hashing, tar-split) and a storage-untar
// child (creating files), each using about one CPU.
func extractionWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

// commitLayers downloads, verifies and commits srcs (in chain order, parents
// first) and returns the IDs of the layers it created. A layer is committed
// only after its blob matched its digest and size and its content matched
// its DiffID. On error the caller deletes the returned layers.
//
// With a driver that supports staged layers (overlay, also with
// fuse-overlayfs), up to extractionWorkers layers are extracted at once into
// staging directories and committed in order as soon as each one and all
// before it are ready. Otherwise (vfs, or a store with ID mappings, which
// ctr never creates) layers go through store.PutLayer one at a time.
func (s *Store) commitLayers(ctx context.Context, srcs []layerSource, progress func(PullEvent)) ([]string, error) {
	if len(srcs) == 0 {
		return nil, nil
	}
	if s.canStage() {
		return s.commitStaged(ctx, srcs, progress)
	}
	return s.commitSequential(ctx, srcs, progress)
}

// canStage says whether the driver can extract a layer before its parent is
// committed. The staged path passes no ID mappings: a store with mappings
// takes the PutLayer path, where storage derives them from the parent.
func (s *Store) canStage() bool {
	d, err := s.s.GraphDriver()
	if err != nil {
		return false
	}
	if _, ok := d.(drivers.DriverWithDiffer); !ok {
		return false
	}
	return len(s.s.UIDMap()) == 0 && len(s.s.GIDMap()) == 0
}

// startDownloads runs the producers of pf: one per blob, at most parallel at
// once, in layer order (the order the extractions want them). Each stream
// passes through a verifyingReader, the one digest and size check of the
// blob. A blob whose producer never starts (ctx ended) fails with ctx's
// error, so its reader cannot wait forever.
func startDownloads(ctx context.Context, wg *sync.WaitGroup, pf *prefetcher, srcs []layerSource, parallel int, progress func(PullEvent)) {
	wg.Go(func() {
		slots := make(chan struct{}, parallel)
		for i, src := range srcs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
			}
			if err := ctx.Err(); err != nil {
				for j := i; j < len(srcs); j++ {
					pf.abort(j, err)
				}
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				pf.produce(ctx, i, func() (io.ReadCloser, error) {
					rc, err := src.open(ctx)
					if err != nil {
						return nil, err
					}
					progress(PullEvent{Kind: PullLayerStart, Digest: src.blob.String(), Total: src.size})
					return newVerifyingReader(rc, src.blob, src.size, func(n int64) {
						progress(PullEvent{Kind: PullLayerBytes, Digest: src.blob.String(), Total: src.size, Current: n})
					}), nil
				})
			})
		}
	})
}

type stageResult struct {
	out *drivers.DriverWithDifferOutput
	err error
}

// commitStaged is the parallel pipeline. extractionWorkers goroutines take
// the layers in order, each one extracting a layer into a staging directory
// with PrepareStagedLayer (no store lock held, the parent need not exist
// yet); this goroutine commits them in chain order with ApplyStagedLayer,
// each as soon as it and all layers before it are staged.
//
// Downloads still run ahead of the extractions through the prefetcher: from a
// remote registry the network, not the CPU, is usually the limit, and more
// connections than extractions keep it busy. Memory stays bounded: 128 MiB
// for blobs waiting for an extraction, at most activeAhead chunks per blob
// being extracted, and per extraction a 1 MiB pipe plus about 1.5 MiB of
// buffers; the rest streams, or waits in TCP at the server.
//
// Failures are handled in chain order too, as the sequential path does: when
// layer k fails, no extraction of a later layer starts, the layers before k
// are still committed (the caller deletes them), and the error is layer k's.
// Every staging directory not committed is removed before returning.
func (s *Store) commitStaged(ctx context.Context, srcs []layerSource, progress func(PullEvent)) (created []string, retErr error) {
	s.pruneStaging()
	// Held while this process has staging directories: pruneStaging must
	// not test their locks (see there).
	stagingMu.RLock()
	defer stagingMu.RUnlock()

	workers := extractionWorkers()
	ctx, cancel := context.WithCancel(ctx)
	pf := newPrefetcher(len(srcs), prefetchBudget)
	var wg sync.WaitGroup

	results := make([]chan stageResult, len(srcs))
	for k := range results {
		results[k] = make(chan stageResult, 1)
	}
	var firstFailed atomic.Int64 // the lowest index that failed
	firstFailed.Store(int64(len(srcs)))

	next := 0 // results[next:] have not been received
	defer func() {
		cancel()
		pf.wake()
		wg.Wait()
		// Every result was sent by now; remove what was staged but not
		// committed.
		for k := next; k < len(srcs); k++ {
			if r := <-results[k]; r.out != nil {
				_ = s.s.CleanupStagedLayer(r.out)
			}
		}
	}()

	startDownloads(ctx, &wg, pf, srcs, max(maxParallelBlobs, workers), progress)
	wg.Go(func() {
		sem := make(chan struct{}, workers)
		for k := range srcs {
			var err error
			select {
			case sem <- struct{}{}:
				if err = ctx.Err(); err == nil && int64(k) > firstFailed.Load() {
					err = errSkipped
				}
				if err != nil {
					<-sem
				}
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err != nil {
				results[k] <- stageResult{err: err}
				pf.reader(k).Close() // stops its download
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				r := s.stageLayer(pf.reader(k), srcs[k])
				if r.err != nil {
					for f := firstFailed.Load(); int64(k) < f && !firstFailed.CompareAndSwap(f, int64(k)); f = firstFailed.Load() {
					}
				}
				results[k] <- r
			})
		}
	})

	for k, src := range srcs {
		r := <-results[k]
		next = k + 1
		if r.err != nil {
			return created, fmt.Errorf("layer %s: %w", src.blob, r.err)
		}
		ok, err := s.commitStagedLayer(src, r.out)
		if ok {
			created = append(created, src.id)
		}
		if err != nil {
			return created, fmt.Errorf("layer %s: %w", src.blob, err)
		}
		progress(PullEvent{Kind: PullLayerDone, Digest: src.blob.String()})
	}
	return created, nil
}

// errSkipped is the result of a layer after a failed one: never extracted,
// and never reported (the earlier failure is).
var errSkipped = errors.New("skipped after an earlier layer failed")

// stageLayer extracts one layer into a new staging directory. On error the
// directory is already gone.
func (s *Store) stageLayer(r io.ReadCloser, src layerSource) stageResult {
	defer r.Close() // stops the download if the extraction gave up early
	differ := &layerDiffer{src: r, blob: digest.Digest(src.blob.String()), diffID: src.diffID, limit: maxLayerSize(s.GraphRoot())}
	// No ID mappings (canStage checked the store has none): the driver
	// passes its own options (whiteout format, ignore_chown_errors in
	// single-ID mode, force_mask) to the differ.
	out, err := s.s.PrepareStagedLayer(&drivers.ApplyDiffWithDifferOpts{}, differ)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = s.s.CleanupStagedLayer(out)
		}
		return stageResult{err: err}
	}
	return stageResult{out: out}
}

// commitLockFile serializes "is the layer there? create it" among ctr
// processes sharing a store. ApplyStagedLayer does not fail with
// ErrDuplicateID when the layer exists: it applies the staged directory over
// the existing layer (removing its diff directory first), which would pull
// the files from under a running container using it. So the existence check
// and the commit must be one step, and go.podman.io/storage offers no lock
// for that; ctr takes its own (an fcntl lock through storage's lockfile
// package: it dies with the process, so kill -9 leaves no stale lock).
const commitLockFile = "ctr-layers.lock"

// commitStagedLayer turns a staged layer into the layer src.id. It returns
// whether it created the layer; false with a nil error means an identical
// layer was there already (a concurrent pull committed it first).
func (s *Store) commitStagedLayer(src layerSource, out *drivers.DriverWithDifferOutput) (bool, error) {
	if out.UncompressedDigest != src.diffID {
		// The differ checked this; a staged layer must never be
		// committed with other content than the config names.
		_ = s.s.CleanupStagedLayer(out)
		return false, fmt.Errorf("%w: content has DiffID %s, the config says %s", ErrDigestMismatch, out.UncompressedDigest, src.diffID)
	}
	lock, err := lockfile.GetLockFile(filepath.Join(s.opts.GraphRoot, commitLockFile))
	if err != nil {
		_ = s.s.CleanupStagedLayer(out)
		return false, err
	}
	lock.Lock()
	if existing, err := s.s.Layer(src.id); err == nil {
		lock.Unlock()
		_ = s.s.CleanupStagedLayer(out)
		return false, sameContent(existing, src)
	}
	layer, err := s.s.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{
		ID:          src.id,
		ParentLayer: src.parent,
		DiffOutput:  out,
		DiffOptions: &drivers.ApplyDiffWithDifferOpts{},
	})
	lock.Unlock()
	if errors.Is(err, cstorage.ErrDuplicateID) {
		// Not what go.podman.io/storage v1.65 does (see commitLockFile),
		// but what another version, or a process not taking the lock,
		// could make it return: the same content is there, fine.
		_ = s.s.CleanupStagedLayer(out)
		existing, lerr := s.s.Layer(src.id)
		if lerr != nil {
			return false, err
		}
		return false, sameContent(existing, src)
	}
	if err != nil {
		_ = s.s.CleanupStagedLayer(out)
		return false, err
	}
	removeEmptyStagingDir(out.Target)
	if layer.UncompressedDigest != src.diffID {
		return true, fmt.Errorf("%w: layer %s was recorded with DiffID %s, the config says %s",
			ErrDigestMismatch, src.id, layer.UncompressedDigest, src.diffID)
	}
	return true, nil
}

// sameContent accepts a layer another pull committed as src if it holds the
// content the config names.
func sameContent(existing *cstorage.Layer, src layerSource) error {
	if existing.UncompressedDigest != src.diffID {
		return fmt.Errorf("%w: the store's layer %s has DiffID %s, the config says %s",
			ErrDigestMismatch, src.id, existing.UncompressedDigest, src.diffID)
	}
	return nil
}

// removeEmptyStagingDir removes the staging/XXXX directory the overlay
// driver leaves behind, empty, once it has moved XXXX/dir into the layer and
// deleted XXXX/staging.lock.
func removeEmptyStagingDir(target string) {
	parent := filepath.Dir(target)
	if filepath.Base(filepath.Dir(parent)) == "staging" {
		_ = os.Remove(parent) // fails, harmlessly, if anything is left in it
	}
}

// stagingMu is held for reading while this process may hold staging
// directories, and for writing by pruneStaging. The staging locks are POSIX
// (fcntl) locks: they belong to the process, so testing one this process
// holds would succeed, and closing the descriptor would drop the holder's
// lock.
var stagingMu sync.RWMutex

// stagingGrace is how old a staging directory must be before pruneStaging
// considers it. The overlay driver creates the directory, then its lock
// file, then locks it; a younger directory may be between those steps.
const stagingGrace = time.Minute

// pruneStaging removes staging directories left by killed pulls: a staging
// directory whose lock no process holds. go.podman.io/storage prunes them
// too, but only in Shutdown, and only when no layer is mounted, so with a
// container running they would never go (RELIABILITY F1/F3: a killed pull
// leaks nothing). Directories in use by other processes are locked and
// skipped. When another pull of this process is staging, pruning is left for
// later.
func (s *Store) pruneStaging() {
	if !stagingMu.TryLock() {
		return
	}
	defer stagingMu.Unlock()
	base := filepath.Join(s.opts.GraphRoot, "overlay", "staging")
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		info, err := os.Lstat(dir)
		if err != nil || !info.IsDir() || time.Since(info.ModTime()) < stagingGrace {
			continue
		}
		removeIfUnlocked(dir)
	}
}

// removeIfUnlocked removes a staging directory unless another process holds
// the write lock on its staging.lock (held for the directory's whole life);
// the lock is held while removing, as the overlay driver does.
func removeIfUnlocked(dir string) {
	fd, err := unix.Open(filepath.Join(dir, "staging.lock"), unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	switch {
	case err == nil:
		defer unix.Close(fd)
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk); err != nil {
			return // in use
		}
	case errors.Is(err, fs.ErrNotExist):
		// Killed before locking, or an emptied directory.
	default:
		return
	}
	_ = os.RemoveAll(dir)
}

// commitSequential commits layers one at a time with store.PutLayer, for
// drivers without staging (vfs). Storage reads every layer to EOF, so a blob
// that does not match its digest fails PutLayer itself.
func (s *Store) commitSequential(ctx context.Context, srcs []layerSource, progress func(PullEvent)) (created []string, retErr error) {
	ctx, cancel := context.WithCancel(ctx)
	pf := newPrefetcher(len(srcs), prefetchBudget)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		pf.wake()
		wg.Wait()
	}()
	startDownloads(ctx, &wg, pf, srcs, maxParallelBlobs, progress)

	for i, src := range srcs {
		r := pf.reader(i)
		// ctr decompresses, so that it can stop a layer that would fill the
		// disk (maxLayerSize); storage gets the tar and hashes it: the
		// layer's compressed digest is then its DiffID, the stream it was
		// given. The blob is verified by the verifyingReader in
		// startDownloads. Neither digest is passed: storage would trust
		// them instead of computing the DiffID.
		br := bufio.NewReaderSize(r, 64<<10)
		raw, err := decompress(br)
		if err != nil {
			_, _ = io.Copy(io.Discard, br)
			return created, fmt.Errorf("layer %s: %w", src.blob, err)
		}
		tarStream := &sizeLimitReader{r: raw, limit: maxLayerSize(s.GraphRoot())}
		layer, _, err := s.s.PutLayer(src.id, src.parent, nil, "", false, nil, tarStream)
		raw.Close()
		if lerr := tarStream.err(); lerr != nil {
			err = lerr
		}
		if errors.Is(err, cstorage.ErrDuplicateID) {
			// A concurrent pull committed it first.
			_, _ = io.Copy(io.Discard, r)
			layer, err = s.s.Layer(src.id)
		} else if err == nil {
			created = append(created, src.id)
			// Storage read the blob to its end; make sure of it, so a
			// mismatch can never go unnoticed.
			if _, derr := io.Copy(io.Discard, r); derr != nil {
				err = derr
			}
		}
		if err != nil {
			// Corrupt data usually breaks decompression before the digest
			// can be checked at the end; read on to name the real cause.
			if _, derr := io.Copy(io.Discard, r); errors.Is(derr, ErrDigestMismatch) {
				err = derr
			}
			return created, fmt.Errorf("layer %s: %w", src.blob, err)
		}
		if layer.UncompressedDigest != src.diffID {
			return created, fmt.Errorf("layer %s: %w: content has DiffID %s, the config says %s",
				src.blob, ErrDigestMismatch, layer.UncompressedDigest, src.diffID)
		}
		progress(PullEvent{Kind: PullLayerDone, Digest: src.blob.String()})
	}
	return created, nil
}
