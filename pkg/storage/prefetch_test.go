package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// deadlockTimeout bounds every prefetcher test: a hang is a failure with the
// goroutines' stacks, not a test binary killed after ten minutes.
const deadlockTimeout = 60 * time.Second

// randomBlobs returns deterministic pseudo-random blobs of the given sizes.
func randomBlobs(sizes ...int) [][]byte {
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	blobs := make([][]byte, len(sizes))
	for i, n := range sizes {
		blobs[i] = make([]byte, n)
		_, _ = rng.Read(blobs[i])
	}
	return blobs
}

// budgetChecker wraps producer sources and checks, every time a producer
// reads from the network, that inactive blobs hold no more than the budget:
// everything the prefetcher accounts for, minus what the active blobs have
// queued, may exceed the budget only by the active producers' in-flight
// chunks.
type budgetChecker struct {
	p *prefetcher

	mu          sync.Mutex
	maxInactive int
	violation   string
}

func (c *budgetChecker) check() {
	c.p.mu.Lock()
	activeQueued, active := 0, 0
	for _, q := range c.p.queues {
		if !q.active {
			continue
		}
		active++
		for _, ch := range q.chunks {
			activeQueued += len(ch)
		}
	}
	inactive := c.p.used - activeQueued
	used, budget := c.p.used, c.p.budget
	c.p.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxInactive = max(c.maxInactive, inactive)
	if inactive > budget+active*prefetchChunk && c.violation == "" {
		c.violation = fmt.Sprintf("used = %d with %d queued for %d active blobs: inactive blobs hold %d, want <= budget %d + %d chunks",
			used, activeQueued, active, inactive, budget, active)
	}
}

type checkedReader struct {
	r io.Reader
	c *budgetChecker
}

func (r *checkedReader) Read(b []byte) (int, error) {
	r.c.check()
	return r.r.Read(b)
}

// waitFor polls cond (under p.mu) until it holds; it is used to let the
// producers run into their limits before the consumer starts.
func waitFor(t *testing.T, p *prefetcher, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(deadlockTimeout)
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, allStacks())
		}
		time.Sleep(time.Millisecond)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// consumeAll reads every blob in order, as fetchLayers does, in a goroutine,
// and fails the test if that takes longer than deadlockTimeout.
func consumeAll(t *testing.T, p *prefetcher, n int) (got [][]byte, errs []error) {
	t.Helper()
	got, errs = make([][]byte, n), make([]error, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			got[i], errs[i] = io.ReadAll(p.reader(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(deadlockTimeout):
		t.Fatalf("consumer did not finish in %v (deadlock?)\n%s", deadlockTimeout, allStacks())
	}
	return got, errs
}

// startProducers runs one producer per blob, at most parallel at a time in
// blob order, as fetchLayers does (parallel <= 0 means no limit). It
// returns a func that waits for all producers.
func startProducers(ctx context.Context, p *prefetcher, parallel int, open func(i int) (io.ReadCloser, error)) (wait func() bool) {
	if parallel <= 0 {
		parallel = len(p.queues)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		slots := make(chan struct{}, parallel)
		for i := range p.queues {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				p.produce(ctx, i, func() (io.ReadCloser, error) { return open(i) })
			})
		}
	})
	return func() bool {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return true
		case <-time.After(deadlockTimeout):
			return false
		}
	}
}

func TestPrefetcherDeliversBlobsInOrder(t *testing.T) {
	const chunk = prefetchChunk
	tests := []struct {
		name     string
		sizes    []int
		budget   int
		parallel int
	}{
		{
			name:   "mixed sizes with a budget of four chunks",
			sizes:  []int{1, 0, chunk - 1, chunk, chunk + 1, 3*chunk + chunk/2, (activeAhead+2)*chunk + 7},
			budget: 4 * chunk,
		},
		{
			name:     "four at a time like fetchLayers",
			sizes:    []int{3 * chunk, 2*chunk + 5, chunk / 3, 5 * chunk, 1, 2 * chunk},
			budget:   2 * chunk,
			parallel: maxParallelBlobs,
		},
		{
			name:   "budget larger than everything",
			sizes:  []int{2 * chunk, 2 * chunk, chunk + 3},
			budget: 128 * chunk,
		},
		{
			name:   "a single blob",
			sizes:  []int{(activeAhead+3)*chunk + 11},
			budget: chunk,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs := randomBlobs(tt.sizes...)
			p := newPrefetcher(len(blobs), tt.budget)
			c := &budgetChecker{p: p}
			wait := startProducers(t.Context(), p, tt.parallel, func(i int) (io.ReadCloser, error) {
				return io.NopCloser(&checkedReader{r: bytes.NewReader(blobs[i]), c: c}), nil
			})
			got, errs := consumeAll(t, p, len(blobs))
			if !wait() {
				t.Fatalf("producers did not finish\n%s", allStacks())
			}
			for i := range blobs {
				if errs[i] != nil {
					t.Errorf("ReadAll(reader(%d)) error = %v, want nil", i, errs[i])
				}
				if !bytes.Equal(got[i], blobs[i]) {
					t.Errorf("ReadAll(reader(%d)) = %d bytes, want the %d bytes produced (content differs or is reordered)", i, len(got[i]), len(blobs[i]))
				}
			}
			if c.violation != "" {
				t.Error(c.violation)
			}
			if p.used != 0 {
				t.Errorf("after everything was consumed p.used = %d, want 0", p.used)
			}
		})
	}
}

func TestPrefetcherRespectsBudget(t *testing.T) {
	const chunk = prefetchChunk
	const budget = 3 * chunk
	// Blob 0 is tiny, so the active producer finishes at once and only the
	// budget holds the others back.
	sizes := []int{10, 4 * chunk, 4 * chunk, 4 * chunk, 4 * chunk}
	blobs := randomBlobs(sizes...)
	total := 0
	for _, b := range blobs {
		total += len(b)
	}
	p := newPrefetcher(len(blobs), budget)
	c := &budgetChecker{p: p}
	wait := startProducers(t.Context(), p, 0, func(i int) (io.ReadCloser, error) {
		return io.NopCloser(&checkedReader{r: bytes.NewReader(blobs[i]), c: c}), nil
	})

	// Let the producers run into the budget before anything is consumed.
	waitFor(t, p, "the inactive producers to exhaust the budget", func() bool {
		return p.queues[0].done && p.used+prefetchChunk > p.budget
	})
	p.mu.Lock()
	queued := 0
	for _, q := range p.queues[1:] {
		for _, ch := range q.chunks {
			queued += len(ch)
		}
	}
	used := p.used
	p.mu.Unlock()
	if queued > budget {
		t.Errorf("before consumption inactive blobs queued %d bytes, want <= budget %d", queued, budget)
	}
	if inactive := used - len(blobs[0]); inactive > budget {
		t.Errorf("before consumption p.used = %d with %d bytes of the active blob, want the rest <= budget %d", used, len(blobs[0]), budget)
	}

	got, errs := consumeAll(t, p, len(blobs))
	if !wait() {
		t.Fatalf("producers did not finish\n%s", allStacks())
	}
	for i := range blobs {
		if errs[i] != nil || !bytes.Equal(got[i], blobs[i]) {
			t.Errorf("ReadAll(reader(%d)) = %d bytes, %v, want the %d bytes produced, nil", i, len(got[i]), errs[i], len(blobs[i]))
		}
	}
	if c.violation != "" {
		t.Error(c.violation)
	}
	if c.maxInactive < chunk {
		t.Errorf("inactive blobs never held a chunk (max %d bytes): nothing was prefetched", c.maxInactive)
	}
}

func TestPrefetcherTinyBudgetDoesNotDeadlock(t *testing.T) {
	const chunk = prefetchChunk
	for _, tt := range []struct {
		name     string
		budget   int
		parallel int
	}{
		{"budget of one chunk, all producers at once", chunk, 0},
		{"budget of one chunk, four at a time", chunk, maxParallelBlobs},
		{"budget of one byte", 1, maxParallelBlobs},
		{"no budget at all", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sizes := make([]int, 24)
			for i := range sizes {
				sizes[i] = chunk + chunk/2 + i
			}
			sizes[5] = 0
			sizes[17] = (activeAhead + 1) * chunk
			blobs := randomBlobs(sizes...)
			p := newPrefetcher(len(blobs), tt.budget)
			c := &budgetChecker{p: p}
			wait := startProducers(t.Context(), p, tt.parallel, func(i int) (io.ReadCloser, error) {
				return io.NopCloser(&checkedReader{r: bytes.NewReader(blobs[i]), c: c}), nil
			})
			got, errs := consumeAll(t, p, len(blobs))
			if !wait() {
				t.Fatalf("producers did not finish\n%s", allStacks())
			}
			for i := range blobs {
				if errs[i] != nil || !bytes.Equal(got[i], blobs[i]) {
					t.Errorf("ReadAll(reader(%d)) = %d bytes, %v, want the %d bytes produced, nil", i, len(got[i]), errs[i], len(blobs[i]))
				}
			}
			if c.violation != "" {
				t.Error(c.violation)
			}
		})
	}
}

func TestPrefetcherErrors(t *testing.T) {
	const chunk = prefetchChunk
	errBoom := errors.New("connection reset")
	errOpen := errors.New("fetch layer: 404")
	blobs := randomBlobs(2*chunk+100, chunk+chunk/2, 3*chunk, 10, 5)
	// Blob 1 fails after its data; blob 3 fails before any; blob 4 fails
	// to open.
	open := func(i int) (io.ReadCloser, error) {
		switch i {
		case 1:
			return io.NopCloser(io.MultiReader(bytes.NewReader(blobs[i]), iotest.ErrReader(errBoom))), nil
		case 3:
			return io.NopCloser(iotest.ErrReader(errBoom)), nil
		case 4:
			return nil, errOpen
		}
		return io.NopCloser(bytes.NewReader(blobs[i])), nil
	}
	wantData := [][]byte{blobs[0], blobs[1], blobs[2], {}, {}}
	wantErr := []error{nil, errBoom, nil, errBoom, errOpen}

	p := newPrefetcher(len(blobs), 2*chunk)
	wait := startProducers(t.Context(), p, 0, open)
	got, errs := consumeAll(t, p, len(blobs))
	if !wait() {
		t.Fatalf("producers did not finish\n%s", allStacks())
	}
	for i := range blobs {
		if !errors.Is(errs[i], wantErr[i]) || (wantErr[i] == nil && errs[i] != nil) {
			t.Errorf("ReadAll(reader(%d)) error = %v, want %v", i, errs[i], wantErr[i])
		}
		if !bytes.Equal(got[i], wantData[i]) {
			t.Errorf("ReadAll(reader(%d)) = %d bytes, want the %d bytes that preceded the error", i, len(got[i]), len(wantData[i]))
		}
	}

	t.Run("the error is sticky", func(t *testing.T) {
		r := p.reader(1)
		for range 2 {
			if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, errBoom) {
				t.Errorf("Read after the error = %d, %v, want 0, %v", n, err, errBoom)
			}
		}
	})
}

func TestPrefetcherCancelUnblocksProducers(t *testing.T) {
	const chunk = prefetchChunk
	blobs := randomBlobs(20*chunk, 20*chunk, 20*chunk)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := newPrefetcher(len(blobs), chunk)
	wait := startProducers(ctx, p, 0, func(i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blobs[i])), nil
	})

	// The active producer stops at activeAhead unread chunks and the others
	// at the budget (at most one of them got the single chunk it allows):
	// nothing is consumed, so all of them end up waiting.
	waitFor(t, p, "every producer to stop at its limit", func() bool {
		queued := 0
		for _, q := range p.queues {
			for _, ch := range q.chunks {
				queued += len(ch)
			}
		}
		return len(p.queues[0].chunks) == activeAhead && p.used == queued
	})
	p.mu.Lock()
	if n := len(p.queues[1].chunks) + len(p.queues[2].chunks); n > 1 {
		t.Errorf("inactive blobs queued %d chunks with a budget of one", n)
	}
	p.mu.Unlock()

	cancel()
	p.wake()
	if !wait() {
		t.Fatalf("producers still blocked %v after cancel and wake\n%s", deadlockTimeout, allStacks())
	}

	p.mu.Lock()
	queued := 0
	for i, q := range p.queues {
		if !q.done || !errors.Is(q.err, context.Canceled) {
			t.Errorf("queue %d: done = %v, err = %v, want true, %v", i, q.done, q.err, context.Canceled)
		}
		for _, ch := range q.chunks {
			queued += len(ch)
		}
	}
	if p.used != queued {
		t.Errorf("after cancel p.used = %d, want %d (only queued data; reservations returned)", p.used, queued)
	}
	p.mu.Unlock()

	got, err := io.ReadAll(p.reader(0))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll(reader(0)) error = %v, want %v", err, context.Canceled)
	}
	if want := blobs[0][:activeAhead*chunk]; !bytes.Equal(got, want) {
		t.Errorf("ReadAll(reader(0)) = %d bytes, want the %d bytes read before the cancel", len(got), len(want))
	}
}

// consumeParallel reads the blobs as commitStaged does: workers consumers
// at once, each taking the next blob in order.
func consumeParallel(t *testing.T, p *prefetcher, n, workers int) (got [][]byte, errs []error) {
	t.Helper()
	got, errs = make([][]byte, n), make([]error, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				r := p.reader(i)
				var b bytes.Buffer
				// Small reads, as a decompressor does.
				_, errs[i] = io.CopyBuffer(&b, struct{ io.Reader }{r}, make([]byte, 4096))
				got[i] = b.Bytes()
				r.Close()
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(deadlockTimeout):
		t.Fatalf("consumers did not finish in %v (deadlock?)\n%s", deadlockTimeout, allStacks())
	}
	return got, errs
}

func TestPrefetcherParallelConsumers(t *testing.T) {
	const chunk = prefetchChunk
	for _, tt := range []struct {
		name              string
		budget            int
		workers, parallel int
	}{
		{"two extractions, four downloads, budget of one chunk", chunk, 2, maxParallelBlobs},
		{"three extractions, no budget", 0, 3, maxParallelBlobs},
		{"more extractions than downloads", 2 * chunk, 4, 2},
		{"large budget", 64 * chunk, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sizes := []int{10, 3*chunk + 5, 0, (activeAhead + 2) * chunk, chunk / 2, 2 * chunk, 5, chunk + 1}
			blobs := randomBlobs(sizes...)
			p := newPrefetcher(len(blobs), tt.budget)
			c := &budgetChecker{p: p}
			wait := startProducers(t.Context(), p, tt.parallel, func(i int) (io.ReadCloser, error) {
				return io.NopCloser(&checkedReader{r: bytes.NewReader(blobs[i]), c: c}), nil
			})
			got, errs := consumeParallel(t, p, len(blobs), tt.workers)
			if !wait() {
				t.Fatalf("producers did not finish\n%s", allStacks())
			}
			for i := range blobs {
				if errs[i] != nil || !bytes.Equal(got[i], blobs[i]) {
					t.Errorf("ReadAll(reader(%d)) = %d bytes, %v, want the %d bytes produced, nil", i, len(got[i]), errs[i], len(blobs[i]))
				}
			}
			if c.violation != "" {
				t.Error(c.violation)
			}
			if p.used != 0 {
				t.Errorf("after everything was consumed p.used = %d, want 0", p.used)
			}
		})
	}
}

func TestPrefetcherReaderClose(t *testing.T) {
	const chunk = prefetchChunk
	blobs := randomBlobs(40*chunk, 3*chunk)
	p := newPrefetcher(len(blobs), 2*chunk)
	wait := startProducers(t.Context(), p, 0, func(i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blobs[i])), nil
	})
	r := p.reader(0)
	head := make([]byte, chunk/2)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, blobs[0][:len(head)]) {
		t.Fatalf("reading the start of blob 0: %v", err)
	}
	// Giving up on blob 0 stops its producer (it would otherwise wait
	// forever with a full queue) and returns what it queued.
	r.Close()
	if n, err := r.Read(head); n != 0 || !errors.Is(err, errReaderClosed) {
		t.Errorf("Read after Close = %d, %v, want 0, %v", n, err, errReaderClosed)
	}
	got, err := io.ReadAll(p.reader(1))
	if err != nil || !bytes.Equal(got, blobs[1]) {
		t.Errorf("ReadAll(reader(1)) = %d bytes, %v, want %d bytes", len(got), err, len(blobs[1]))
	}
	if !wait() {
		t.Fatalf("producers did not finish after Close\n%s", allStacks())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !errors.Is(p.queues[0].err, errReaderClosed) || p.used != 0 {
		t.Errorf("after Close: queue 0 err = %v, used = %d, want %v, 0", p.queues[0].err, p.used, errReaderClosed)
	}
}

func TestPrefetcherAbort(t *testing.T) {
	p := newPrefetcher(2, prefetchChunk)
	errGone := errors.New("cancelled before the download started")
	p.abort(1, errGone)
	if _, err := io.ReadAll(p.reader(1)); !errors.Is(err, errGone) {
		t.Errorf("ReadAll(aborted blob) error = %v, want %v", err, errGone)
	}
	// A finished blob keeps its own result.
	go p.produce(t.Context(), 0, func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("data")), nil })
	got, err := io.ReadAll(p.reader(0))
	p.abort(0, errGone)
	if err != nil || string(got) != "data" {
		t.Errorf("ReadAll(reader(0)) = %q, %v, want \"data\", nil", got, err)
	}
	if _, err := io.ReadAll(p.reader(0)); err != nil {
		t.Errorf("after abort of a finished blob, reading it again = %v, want nil (EOF)", err)
	}
}
