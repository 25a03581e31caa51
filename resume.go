package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// DefaultResumeConcurrency is the default of Config.ResumeConcurrency.
const DefaultResumeConcurrency = 4

// maxReadBatch bounds the users or chats one coalesced read asks the Store
// for, so that one query stays small next to the pool's other work.
const maxReadBatch = 1000

// resumeReads makes the Store reads of resuming subscriptions, and the
// hub's reads of new streams' positions, on behalf of all of them. When a
// node restarts, every client reconnects at once: one read per connection
// and per chat would open as many database sessions as there are
// connections. Instead, reads of the same kind that wait together become
// one call (the chats of many users; the positions of many chats), and at
// most Config.ResumeConcurrency calls are in flight at a time, so that a
// storm of resumes queues here rather than in the database.
//
// A batch takes keys until a slot frees up for it: the longer the Store
// takes, the more each call carries, without a timer.
type resumeReads struct {
	h     *hub
	slots chan struct{} // a token per call in flight
	// waiting counts the reads under way: waiting for a batch, for a
	// slot, or for the Store; a read is no longer counted once its
	// answer is there. (One that spans two batches counts twice.)
	waiting  atomic.Int64
	chatIDs  coalescer[[]string]
	lastSeqs coalescer[int64]
}

func newResumeReads(h *hub, concurrency int) *resumeReads {
	r := &resumeReads{h: h, slots: make(chan struct{}, concurrency)}
	r.chatIDs = coalescer[[]string]{r: r, fetch: r.fetchChatIDs}
	r.lastSeqs = coalescer[int64]{r: r, fetch: h.svc.store.LastSeqs}
	return r
}

// fetchChatIDs reads the chats of users in one call if the Store is a
// ChatIDsBatcher, and one ChatIDs call per user otherwise.
func (r *resumeReads) fetchChatIDs(ctx context.Context, users []string) (map[string][]string, error) {
	s := r.h.svc
	if b, ok := s.backend.(ChatIDsBatcher); ok {
		if o, observed := s.store.(*observedStore); observed {
			return o.chatIDsOf(ctx, b, users)
		}
		return b.ChatIDsOf(ctx, users)
	}
	out := make(map[string][]string, len(users))
	for _, u := range users {
		ids, err := s.store.ChatIDs(ctx, u)
		if err != nil {
			return nil, err
		}
		out[u] = ids
	}
	return out, nil
}

// listEvents is Store.ListEvents within the bound on calls in flight.
func (r *resumeReads) listEvents(ctx context.Context, chatID string, after int64, limit int) ([]Event, error) {
	r.waiting.Add(1)
	if err := r.acquire(ctx); err != nil {
		r.waiting.Add(-1)
		return nil, err
	}
	defer r.release()
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	evs, err := r.h.svc.store.ListEvents(ctx, chatID, after, limit)
	r.waiting.Add(-1)
	return evs, r.timedOut(ctx, err)
}

// timedOut adds ErrUnavailable to err when the call failed because ctx,
// bounded by ioTimeout, ran out (and not because the hub closed): a Store
// that does not answer within ioTimeout is as good as unreachable, and
// the client is told to come back later.
func (r *resumeReads) timedOut(ctx context.Context, err error) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || r.h.ctx.Err() != nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: no answer within %s: %w", ErrUnavailable, ioTimeout, err)
}

// acquire waits for a slot until ctx ends or the hub closes.
func (r *resumeReads) acquire(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.h.ctx.Done():
		return ErrClosed
	}
}

func (r *resumeReads) release() { <-r.slots }

// coalescer turns concurrent reads of values by key (a user's chat ids, a
// chat's last seq) into few Store calls.
type coalescer[V any] struct {
	r *resumeReads
	// fetch reads the values of keys; keys without one are left out.
	fetch func(ctx context.Context, keys []string) (map[string]V, error)

	mu   sync.Mutex
	open *readBatch[V] // the batch still taking keys; nil when none
}

// readBatch is one Store call shared by the reads that joined it.
type readBatch[V any] struct {
	keys    []string
	has     map[string]bool
	readers int           // reads that joined, counted in resumeReads.waiting
	done    chan struct{} // closed when got and err are set
	got     map[string]V
	err     error
}

// read returns the values of keys, from the call of the open batch, or of
// batches started for them when it is full.
func (c *coalescer[V]) read(ctx context.Context, keys []string) (map[string]V, error) {
	out := make(map[string]V, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var batches []*readBatch[V]
	c.mu.Lock()
	for _, k := range keys {
		b := c.open
		if b == nil || len(b.keys) >= maxReadBatch && !b.has[k] {
			b = c.startLocked()
		}
		if !b.has[k] {
			b.has[k] = true
			b.keys = append(b.keys, k)
		}
		if len(batches) == 0 || batches[len(batches)-1] != b {
			batches = append(batches, b)
		}
	}
	for _, b := range batches {
		b.readers++
	}
	c.r.waiting.Add(int64(len(batches)))
	c.mu.Unlock()
	for _, b := range batches {
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if b.err != nil {
			return nil, b.err
		}
		for _, k := range keys {
			if v, ok := b.got[k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// startLocked opens a new batch, with a hub goroutine that makes its call
// as soon as a slot is free.
func (c *coalescer[V]) startLocked() *readBatch[V] {
	b := &readBatch[V]{has: make(map[string]bool), done: make(chan struct{})}
	c.open = b
	if !c.r.h.spawn(func() { c.run(b) }) {
		c.open = nil
		b.err = ErrClosed
		close(b.done)
	}
	return b
}

func (c *coalescer[V]) run(b *readBatch[V]) {
	err := c.r.acquire(c.r.h.ctx)
	c.mu.Lock()
	if c.open == b {
		c.open = nil
	}
	c.mu.Unlock()
	// No read joins b from now on.
	if err != nil {
		b.err = ErrClosed
	} else {
		b.got, b.err = c.fetchWithin(b.keys)
	}
	// Its readers are no longer waiting once it is done, which is before
	// its slot frees up for the next batch.
	c.r.waiting.Add(-int64(b.readers))
	close(b.done)
	if err == nil {
		c.r.release()
	}
}

// fetchWithin calls fetch, bounded by ioTimeout.
func (c *coalescer[V]) fetchWithin(keys []string) (map[string]V, error) {
	ctx, cancel := c.r.h.ioContext()
	defer cancel()
	got, err := c.fetch(ctx, keys)
	return got, c.r.timedOut(ctx, err)
}
