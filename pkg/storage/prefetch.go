package storage

import (
	"context"
	"io"
	"sync"
)

// prefetchChunk is the unit the prefetcher reads and buffers.
const prefetchChunk = 1 << 20

// activeAhead is how many chunks the active blob may buffer.
const activeAhead = 8

// prefetcher downloads several blobs at once while they are consumed one at
// a time, in order. Layers must be committed in order (each names its
// parent), but waiting for layer N before starting to download layer N+1
// wastes the network while the CPU untars. So every blob streams into
// memory as soon as it is opened, up to a shared budget; past the budget,
// producers stop reading and TCP flow control holds the rest at the server.
// The blob being consumed (the active one) always proceeds, so the budget
// can never deadlock the pipeline. Nothing is written to disk twice.
type prefetcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	budget int
	used   int
	active int
	queues []*blobQueue
}

type blobQueue struct {
	chunks [][]byte
	err    error // io.EOF at a clean end
	done   bool
}

func newPrefetcher(n, budget int) *prefetcher {
	p := &prefetcher{budget: budget, queues: make([]*blobQueue, n)}
	p.cond = sync.NewCond(&p.mu)
	for i := range p.queues {
		p.queues[i] = &blobQueue{}
	}
	return p
}

// produce copies src into queue i until EOF or error. Run it in its own
// goroutine; open returns the stream (opening may itself block on the
// network). Cancelling ctx stops it at the next chunk.
func (p *prefetcher) produce(ctx context.Context, i int, open func() (io.ReadCloser, error)) {
	q := p.queues[i]
	finish := func(err error) {
		p.mu.Lock()
		q.err, q.done = err, true
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	rc, err := open()
	if err != nil {
		finish(err)
		return
	}
	defer rc.Close()
	for {
		p.mu.Lock()
		for p.mustWait(i) && ctx.Err() == nil {
			p.cond.Wait()
		}
		p.used += prefetchChunk // reserved; the unused part is returned below
		p.mu.Unlock()
		if err := ctx.Err(); err != nil {
			p.release(prefetchChunk)
			finish(err)
			return
		}

		buf := make([]byte, prefetchChunk)
		n, err := io.ReadFull(rc, buf)
		p.mu.Lock()
		p.used -= prefetchChunk - n
		if n > 0 {
			q.chunks = append(q.chunks, buf[:n])
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		switch err {
		case nil:
			continue
		case io.ErrUnexpectedEOF, io.EOF:
			finish(io.EOF)
		default:
			finish(err)
		}
		return
	}
}

// mustWait says whether producer i has to hold off. Inactive producers share
// the budget; the active one is exempt (so the pipeline cannot deadlock) but
// keeps at most activeAhead chunks unread, so a slow untar does not pull a
// whole layer into memory.
func (p *prefetcher) mustWait(i int) bool {
	if i == p.active {
		return len(p.queues[i].chunks) >= activeAhead
	}
	return p.used+prefetchChunk > p.budget
}

// wake makes blocked producers re-check ctx after it is cancelled.
func (p *prefetcher) wake() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *prefetcher) release(n int) {
	p.mu.Lock()
	p.used -= n
	p.cond.Broadcast()
	p.mu.Unlock()
}

// reader returns the stream of blob i and makes it the active one.
func (p *prefetcher) reader(i int) io.Reader {
	p.mu.Lock()
	p.active = i
	p.cond.Broadcast()
	p.mu.Unlock()
	return &queueReader{p: p, q: p.queues[i]}
}

type queueReader struct {
	p   *prefetcher
	q   *blobQueue
	cur []byte
}

func (r *queueReader) Read(b []byte) (int, error) {
	if len(r.cur) == 0 {
		r.p.mu.Lock()
		for len(r.q.chunks) == 0 && !r.q.done {
			r.p.cond.Wait()
		}
		if len(r.q.chunks) == 0 {
			err := r.q.err
			r.p.mu.Unlock()
			return 0, err
		}
		r.cur = r.q.chunks[0]
		r.q.chunks = r.q.chunks[1:]
		r.p.mu.Unlock()
		// The budget is returned when the chunk leaves the queue.
		r.p.release(len(r.cur))
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
