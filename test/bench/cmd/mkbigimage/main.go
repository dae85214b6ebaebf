// Command mkbigimage builds the images the pull benchmark (test/bench/pull.sh)
// uses and pushes them to a plain-HTTP registry:
//
//   - a big multi-layer OCI image: the busybox base of internal/testutil plus
//     several layers of deterministic, realistic content (thousands of files,
//     from a few hundred bytes to several MiB, mixing pseudo-random bytes with
//     text so that gzip compresses them about 2:1), about 100 MB compressed;
//   - N small OCI images, each the same busybox base plus a tiny unique layer.
//
// Content comes from -seed: with the same busybox binary and Go version, the
// same flags push the same digests.
//
//	mkbigimage -registry 127.0.0.1:5000 -big bench/big:latest -digests layers.txt \
//	           -small 200 -small-repo bench/small
//	mkbigimage -freeport    # print a free TCP port on 127.0.0.1 and exit
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctr-project/ctr/internal/testutil"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var epoch = time.Unix(1700000000, 0)

func main() {
	var (
		registry   = flag.String("registry", "", "registry HOST:PORT (plain HTTP)")
		bigRepo    = flag.String("big", "bench/big:latest", "repository:tag of the big image (empty: skip)")
		layersMB   = flag.String("layers", "50,45,40,30,20", "uncompressed size in MiB of each content layer of the big image")
		randomPct  = flag.Int("random", 45, "percent of content that is pseudo-random (the rest is text); 45 gives about 2:1 with gzip")
		digests    = flag.String("digests", "", "write the big image's layer digests, base first, one per line, to this file")
		small      = flag.Int("small", 0, "number of small images to push")
		smallRepo  = flag.String("small-repo", "bench/small", "small images are REPO-NNN:latest")
		seed       = flag.Uint64("seed", 1, "seed of the pseudo-random content")
		arch       = flag.String("arch", runtime.GOARCH, "image architecture")
		jobs       = flag.Int("jobs", 8, "parallel uploads")
		freePort   = flag.Bool("freeport", false, "print a free TCP port on 127.0.0.1 and exit")
		verboseOut = flag.Bool("v", false, "print per-layer statistics")
	)
	flag.Parse()
	if *freePort {
		p, err := testutil.FreePort()
		if err != nil {
			fatal(err)
		}
		fmt.Println(p)
		return
	}
	if *registry == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkbigimage -registry HOST:PORT [flags]  (see -h)")
		os.Exit(2)
	}
	base, err := busyboxLayer()
	if err != nil {
		fatal(err)
	}
	if *bigRepo != "" {
		var sizes []int64
		for f := range strings.SplitSeq(*layersMB, ",") {
			mb, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || mb <= 0 {
				fatal(fmt.Errorf("bad -layers entry %q", f))
			}
			sizes = append(sizes, int64(mb)<<20)
		}
		if err := pushBig(*registry+"/"+*bigRepo, base, sizes, *randomPct, *seed, *arch, *digests, *jobs, *verboseOut); err != nil {
			fatal(err)
		}
	}
	if *small > 0 {
		if err := pushSmall(*registry, *smallRepo, *small, base, *seed, *arch, *jobs); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mkbigimage:", err)
	os.Exit(1)
}

// gzipLayer compresses a tar and wraps it as an OCI gzip layer; the digests
// are computed from the bytes given, nothing is compressed twice.
func gzipLayer(tarBytes []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(tarBytes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return compressedLayer(buf.Bytes())
}

func compressedLayer(gz []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

func busyboxLayer() (v1.Layer, error) {
	entries, err := testutil.BusyboxRootfs()
	if err != nil {
		return nil, err
	}
	b, err := testutil.LayerTar(entries)
	if err != nil {
		return nil, err
	}
	return gzipLayer(b)
}

// ociImage stacks layers into an OCI image (go-containerregistry defaults to
// Docker media types).
func ociImage(arch string, created time.Time, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
			History: v1.History{CreatedBy: "ctr benchmark image", Created: v1.Time{Time: created}}})
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
	cf.Config = v1.Config{
		Cmd: []string{"/bin/sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}
	cf.Created = v1.Time{Time: created}
	return mutate.ConfigFile(img, cf)
}

// layerStats describes one generated content layer.
type layerStats struct {
	files        int
	uncompressed int64
	compressed   int64
}

func pushBig(ref string, base v1.Layer, sizes []int64, randomPct int, seed uint64, arch, digestFile string, jobs int, verbose bool) error {
	start := time.Now()
	layers := make([]v1.Layer, len(sizes))
	stats := make([]layerStats, len(sizes))
	errs := make([]error, len(sizes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, size := range sizes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			tb, n, err := contentLayer(i, size, randomPct, seed)
			if err != nil {
				errs[i] = err
				return
			}
			l, err := gzipLayer(tb)
			if err != nil {
				errs[i] = err
				return
			}
			csize, err := l.Size()
			layers[i], stats[i], errs[i] = l, layerStats{files: n, uncompressed: int64(len(tb)), compressed: csize}, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	img, err := ociImage(arch, epoch, append([]v1.Layer{base}, layers...)...)
	if err != nil {
		return err
	}
	all, err := img.Layers()
	if err != nil {
		return err
	}
	var total, totalU int64
	var out strings.Builder
	for i, l := range all {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		s, err := l.Size()
		if err != nil {
			return err
		}
		total += s
		fmt.Fprintln(&out, d)
		if i > 0 {
			totalU += stats[i-1].uncompressed
			if verbose {
				st := stats[i-1]
				fmt.Fprintf(os.Stderr, "layer %d: %d files, %.1f MB tar, %.1f MB gzip (%.2f:1) %s\n", i, st.files,
					float64(st.uncompressed)/1e6, float64(st.compressed)/1e6, float64(st.uncompressed)/float64(st.compressed), d)
			}
		}
	}
	built := time.Since(start)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img, remote.WithJobs(jobs)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	fmt.Fprintf(os.Stderr, "pushed %s: %d layers, %.1f MB compressed, content layers %.1f MB uncompressed (built in %.1fs, pushed in %.1fs)\n",
		ref, len(all), float64(total)/1e6, float64(totalU)/1e6, built.Seconds(), time.Since(start).Seconds()-built.Seconds())
	if digestFile != "" {
		if err := os.WriteFile(digestFile, []byte(out.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// words is the vocabulary of the text parts of generated files.
var words = strings.Fields(`the of and to in is that for it as with was on be by this are from or at an
which not have has but all were when we there can more one their if will its so no out up use into than
them only other new some could time these two may then do first any like my now over such our man me even
most made after also did many before must through back years where much your way well down should because
each just those people how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us great old year off come
since against go came right used take three func return error nil string int byte struct package import
const var type interface map range defer select case default switch else break continue goto fallthrough
config value server client request response handler buffer stream layer image registry manifest digest
blob storage driver overlay mount namespace process signal kernel module library binary header section
include define ifdef endif static inline void char unsigned long double float printf malloc free sizeof`)

// contentLayer builds the tar of content layer i: about size bytes in
// files under usr/share/bench/layerI/: one of 8 MiB, two of 1-4 MiB, the
// rest small.
func contentLayer(i int, size int64, randomPct int, seed uint64) ([]byte, int, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
	var cha [32]byte
	for j := range cha {
		cha[j] = byte(rng.Uint32())
	}
	src := rand.NewChaCha8(cha)
	var buf bytes.Buffer
	buf.Grow(int(size + size/16))
	tw := tar.NewWriter(&buf)
	root := fmt.Sprintf("usr/share/bench/layer%d/", i+1)
	hdr := func(name string, typ byte, mode, sz int64) error {
		return tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: sz, ModTime: epoch, Format: tar.FormatPAX})
	}
	for _, d := range []string{"usr/", "usr/share/", "usr/share/bench/", root} {
		if err := hdr(d, tar.TypeDir, 0o755, 0); err != nil {
			return nil, 0, err
		}
	}
	var written int64
	files, dir := 0, -1
	body := make([]byte, 0, 8<<20)
	for written < size {
		if files%64 == 0 {
			dir++
			if err := hdr(fmt.Sprintf("%sd%03d/", root, dir), tar.TypeDir, 0o755, 0); err != nil {
				return nil, 0, err
			}
		}
		var n int64
		switch files {
		case 0:
			n = 8 << 20 // one big file, like a large shared library
		case 1, 2:
			n = 1<<20 + rng.Int64N(3<<20) // two between 1 and 4 MiB
		default:
			// log-uniform between 128 B and 128 KiB: many small files, about
			// 55 per MiB, as in distribution images
			n = int64(math.Exp(math.Log(128) + rng.Float64()*(math.Log(128<<10)-math.Log(128))))
		}
		n = min(n, size-written)
		body = fill(body[:0], n, randomPct, rng, src)
		mode := int64(0o644)
		if rng.IntN(10) == 0 {
			mode = 0o755
		}
		if err := hdr(fmt.Sprintf("%sd%03d/f%05d", root, dir, files), tar.TypeReg, mode, n); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, 0, err
		}
		written += n
		files++
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), files, nil
}

// fill appends n bytes made of 4 KiB blocks, each either pseudo-random (with
// probability randomPct%) or text. Text is lines picked from a small pool of
// lines of words, some with a number in them, as in source code and logs:
// gzip compresses it about 5:1, random bytes not at all.
func fill(b []byte, n int64, randomPct int, rng *rand.Rand, src *rand.ChaCha8) []byte {
	const block = 4096
	zipf := rand.NewZipf(rng, 1.1, 4, uint64(len(words)-1))
	pool := make([][]byte, 48)
	for i := range pool {
		var line []byte
		for want := 16 + rng.IntN(64); len(line) < want; {
			line = append(line, words[zipf.Uint64()]...)
			line = append(line, ' ')
		}
		pool[i] = line
	}
	for int64(len(b)) < n {
		k := min(block, int(n)-len(b))
		if rng.IntN(100) < randomPct {
			start := len(b)
			b = append(b, make([]byte, k)...)
			_, _ = src.Read(b[start:])
			continue
		}
		end := len(b) + k
		for len(b) < end {
			b = append(b, pool[rng.IntN(len(pool))]...)
			if rng.IntN(3) == 0 {
				b = strconv.AppendInt(b, int64(rng.IntN(100000)), 10)
			}
			b = append(b, '\n')
		}
		b = b[:end]
	}
	return b
}

// pushSmall pushes n small images REPO-NNN:latest, each the busybox base plus
// a tiny unique layer.
func pushSmall(registry, repo string, n int, base v1.Layer, seed uint64, arch string, jobs int) error {
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 1<<32))
	m := map[name.Reference]remote.Taggable{}
	for i := range n {
		body := fmt.Appendf(nil, "small benchmark image %d, seed %d, %x\n", i, seed, rng.Uint64())
		tb, err := testutil.LayerTar([]testutil.TarEntry{
			{Name: "etc/", Type: tar.TypeDir},
			{Name: "etc/bench-image", Body: body},
		})
		if err != nil {
			return err
		}
		l, err := gzipLayer(tb)
		if err != nil {
			return err
		}
		img, err := ociImage(arch, epoch.Add(time.Duration(i)*time.Minute), base, l)
		if err != nil {
			return err
		}
		r, err := name.ParseReference(fmt.Sprintf("%s/%s-%03d:latest", registry, repo, i), name.Insecure)
		if err != nil {
			return err
		}
		m[r] = img
	}
	if err := remote.MultiWrite(m, remote.WithJobs(jobs)); err != nil {
		return fmt.Errorf("push small images: %w", err)
	}
	fmt.Fprintf(os.Stderr, "pushed %d small images %s/%s-NNN:latest in %.1fs\n", n, registry, repo, time.Since(start).Seconds())
	return nil
}
