package storage

import (
	"context"
	"errors"
	"io"
	"sync"
)

// prefetchChunk is the unit the prefetcher reads and buffers.
const prefetchChunk = 1 << 20

// activeAhead is how many chunks an active blob may buffer.
const activeAhead = 8

// chunkPool recycles chunk buffers: a pull streams hundreds of megabytes
// through them, and fresh 1 MiB allocations cost page faults, zeroing and
// garbage collection for every one.
var chunkPool = sync.Pool{New: func() any { return new([prefetchChunk]byte) }}

// errReaderClosed ends a producer whose consumer gave up on its blob.
var errReaderClosed = errors.New("blob reader closed")

// prefetcher downloads several blobs at once while a few consumers (layer
// extractions) read them, each consumer one blob, the blobs taken in order.
// Waiting for layer N to be consumed before starting to download layer N+1
// wastes the network while the CPU untars, so every blob streams into memory
// as soon as it is opened, up to a shared budget; past the budget, producers
// stop reading and TCP flow control holds the rest at the server.
//
// A blob becomes active when a consumer asks for its reader. Active blobs are
// exempt from the budget (so the pipeline cannot deadlock: every consumer
// reads an active blob, and an active producer only waits for its own
// consumer) but keep at most activeAhead chunks unread, so a slow extraction
// does not pull a whole layer into memory. Blob 0 starts active: it is always
// consumed first. Nothing is written to disk twice.
type prefetcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	budget int
	used   int
	queues []*blobQueue
}

type blobQueue struct {
	chunks [][]byte
	err    error // io.EOF at a clean end
	done   bool
	active bool // a consumer reads it: exempt from the budget
	closed bool // the consumer gave up: drop data, stop the producer
}

func newPrefetcher(n, budget int) *prefetcher {
	p := &prefetcher{budget: budget, queues: make([]*blobQueue, n)}
	p.cond = sync.NewCond(&p.mu)
	for i := range p.queues {
		p.queues[i] = &blobQueue{}
	}
	if n > 0 {
		p.queues[0].active = true
	}
	return p
}

// produce copies src into queue i until EOF or error. Run it in its own
// goroutine; open returns the stream (opening may itself block on the
// network). Cancelling ctx, or closing the blob's reader, stops it at the
// next chunk.
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
		for p.mustWait(i) && ctx.Err() == nil && !q.closed {
			p.cond.Wait()
		}
		closed := q.closed
		if !closed {
			p.used += prefetchChunk // reserved; the unused part is returned below
		}
		p.mu.Unlock()
		if closed {
			finish(errReaderClosed)
			return
		}
		if err := ctx.Err(); err != nil {
			p.release(prefetchChunk)
			finish(err)
			return
		}

		buf := chunkPool.Get().(*[prefetchChunk]byte)
		n, err := io.ReadFull(rc, buf[:])
		p.mu.Lock()
		if q.closed {
			n = 0 // nobody will read it
		}
		p.used -= prefetchChunk - n
		if n > 0 {
			q.chunks = append(q.chunks, buf[:n])
		} else {
			chunkPool.Put(buf)
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
// the budget; active ones are exempt but keep at most activeAhead chunks
// unread.
func (p *prefetcher) mustWait(i int) bool {
	if q := p.queues[i]; q.active {
		return len(q.chunks) >= activeAhead
	}
	return p.used+prefetchChunk > p.budget
}

// abort ends blob i with err unless its producer already finished it: for
// blobs whose producer will never run.
func (p *prefetcher) abort(i int, err error) {
	p.mu.Lock()
	if q := p.queues[i]; !q.done {
		q.err, q.done = err, true
	}
	p.cond.Broadcast()
	p.mu.Unlock()
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

// reader returns the stream of blob i and makes it active. Close it to give
// up on the blob early; reading it to the end needs no Close.
func (p *prefetcher) reader(i int) io.ReadCloser {
	p.mu.Lock()
	p.queues[i].active = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return &queueReader{p: p, q: p.queues[i]}
}

type queueReader struct {
	p   *prefetcher
	q   *blobQueue
	cur []byte // the unread part of buf
	buf []byte // the chunk being read, returned to chunkPool when done
}

func (r *queueReader) Read(b []byte) (int, error) {
	if len(r.cur) == 0 {
		r.p.mu.Lock()
		for len(r.q.chunks) == 0 && !r.q.done && !r.q.closed {
			r.p.cond.Wait()
		}
		if r.q.closed {
			r.p.mu.Unlock()
			return 0, errReaderClosed
		}
		if len(r.q.chunks) == 0 {
			err := r.q.err
			r.p.mu.Unlock()
			return 0, err
		}
		r.buf = r.q.chunks[0]
		r.cur = r.buf
		r.q.chunks = r.q.chunks[1:]
		r.p.mu.Unlock()
		// The budget is returned when the chunk leaves the queue.
		r.p.release(len(r.cur))
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	if len(r.cur) == 0 {
		putChunk(r.buf)
		r.buf = nil
	}
	return n, nil
}

func putChunk(b []byte) {
	if cap(b) == prefetchChunk {
		chunkPool.Put((*[prefetchChunk]byte)(b[:prefetchChunk]))
	}
}

// Close drops what is queued for the blob, returns it to the budget and
// stops its producer.
func (r *queueReader) Close() error {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	if r.q.closed {
		return nil
	}
	r.q.closed = true
	for _, c := range r.q.chunks {
		r.p.used -= len(c)
		putChunk(c)
	}
	r.q.chunks = nil
	if r.buf != nil {
		putChunk(r.buf)
	}
	r.cur, r.buf = nil, nil
	r.p.cond.Broadcast()
	return nil
}
