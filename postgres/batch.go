package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// ErrClosed is the error, wrapped together with chat.ErrUnavailable, of a
// write made after Store.Close.
var ErrClosed = errors.New("postgres: store is closed")

// The kinds of single-event writes, as write_batch names them.
const (
	writeAppend = "append"
	writeEdit   = "edit"
	writeDelete = "delete"
	writeRead   = "read"
	writeAdd    = "add"
	writeRemove = "remove"
)

// maxBatch bounds the items of one batch: a batch holds the locks of all
// its chats until it commits.
const maxBatch = 128

// writeItem is one single-event write: the arguments of one call of its
// function (see migrations/002_write_batch.up.sql for which field is
// which argument).
type writeItem struct {
	kind     string
	chatID   string
	userID   string // the sender, editor, reader or actor
	other    string // the client id of a send; the user added or removed
	text     string
	metadata json.RawMessage
	seq      int64 // the message edited, the marker, or the chat's most members
	at       time.Time

	ctx  context.Context  // the caller's, while it waits in the queue
	done chan writeResult // buffered: the writer never waits for the caller
}

type writeResult struct {
	row writeRow
	err error
}

// writeRow is what the write functions return, under the names that
// write_batch gives them; each function fills some of the columns.
type writeRow struct {
	Item      int            `db:"r_item"`
	Status    string         `db:"r_status"`
	Seq       sql.NullInt64  `db:"r_seq"`
	Sender    sql.NullString `db:"r_sender"`
	Text      sql.NullString `db:"r_text"`
	ClientID  sql.NullString `db:"r_client_id"`
	Metadata  []byte         `db:"r_metadata"`
	CreatedAt sql.NullTime   `db:"r_created_at"`
	EditedAt  sql.NullTime   `db:"r_edited_at"`
	Deleted   sql.NullBool   `db:"r_deleted"`
}

// batcher sends the Store's single-event writes to PostgreSQL together
// (group commit): while a write is in flight, the writes that arrive wait
// in a queue, and when it has committed, everything queued goes as one
// batch, one statement and one commit. There is no timer: a write that
// finds nothing in flight is written at once, on its caller's goroutine,
// as a call of its own function, exactly as without batching.
//
// At most one write or batch of a Store is in flight at a time. The
// goroutine that writes the queued batches is started when the first
// write queues and ends when the queue is empty, so an idle Store has
// none; Store.Close waits for it.
type batcher struct {
	s *Store

	mu      sync.Mutex
	queue   []*writeItem
	writing bool // a caller or the drain goroutine is writing
	closed  bool
	wg      sync.WaitGroup // one count while writing

	// beforeWrite, when set by a test, is called with each write or batch
	// before it is sent, on the goroutine that sends it.
	beforeWrite func(batch []*writeItem)
}

// write performs it, alone or in a batch, and returns its row.
func (b *batcher) write(ctx context.Context, it *writeItem) (writeRow, error) {
	if err := ctx.Err(); err != nil {
		return writeRow{}, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return writeRow{}, ErrClosed
	}
	if !b.writing {
		// Nothing in flight: write now, with the caller's context, so
		// that cancelling it cancels the statement as it always did.
		b.writing = true
		b.wg.Add(1)
		b.mu.Unlock()
		if b.beforeWrite != nil {
			b.beforeWrite([]*writeItem{it})
		}
		row, err := b.s.writeOne(ctx, it)
		b.handOver()
		return row, err
	}
	it.ctx = ctx
	it.done = make(chan writeResult, 1)
	b.queue = append(b.queue, it)
	b.mu.Unlock()
	select {
	case r := <-it.done:
		return r.row, r.err
	case <-ctx.Done():
		// The write may still happen: it is all or nothing either way,
		// as when a connection dies mid-statement.
		return writeRow{}, ctx.Err()
	}
}

// handOver ends a write made on a caller's goroutine: what queued
// meanwhile is written by a goroutine started for it.
func (b *batcher) handOver() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 {
		go b.drain() // It inherits the count in wg.
		return
	}
	b.writing = false
	b.wg.Done()
}

// drain writes the queue in batches until it is empty.
func (b *batcher) drain() {
	for {
		b.mu.Lock()
		var batch []*writeItem
		n := 0
		for _, it := range b.queue {
			if len(batch) == maxBatch {
				break
			}
			n++
			if it.ctx.Err() == nil { // Its caller has gone: skip it.
				batch = append(batch, it)
			}
		}
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil // Let the array go.
		}
		if len(batch) == 0 && len(b.queue) == 0 {
			b.writing = false
			b.mu.Unlock()
			b.wg.Done()
			return
		}
		b.mu.Unlock()
		if len(batch) > 0 {
			b.writeBatch(batch)
		}
	}
}

// writeBatch writes batch and gives every item its result.
func (b *batcher) writeBatch(batch []*writeItem) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	if b.beforeWrite != nil {
		b.beforeWrite(batch)
	}
	if len(batch) == 1 {
		row, err := b.s.writeOne(ctx, batch[0])
		batch[0].done <- writeResult{row, err}
		return
	}
	rows, err := b.s.writeMany(ctx, batch)
	switch {
	case err == nil:
		for i, it := range batch {
			it.done <- writeResult{row: rows[i]}
		}
	case unavailable(err) || ctx.Err() != nil:
		// Nothing of the batch, or all of it, was committed; the callers
		// cannot tell which, as with a single write whose connection died.
		for _, it := range batch {
			it.done <- writeResult{err: err}
		}
	default:
		// An item raised an error instead of returning a status (such as
		// text that PostgreSQL cannot store), which rolled the whole batch
		// back. Write each alone, so that only that item fails.
		for _, it := range batch {
			row, err := b.s.writeOne(ctx, it)
			it.done <- writeResult{row, err}
		}
	}
}

// batchContext returns a context that is cancelled once the context of
// every item of batch is done: a batch is abandoned only when none of its
// callers waits for it any more.
func batchContext(batch []*writeItem) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, it := range batch {
		stops[i] = context.AfterFunc(it.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// close stops new writes and waits for the queued ones to be written.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}

// writeOne performs it with one call of its own function.
func (s *Store) writeOne(ctx context.Context, it *writeItem) (writeRow, error) {
	var row writeRow
	var err error
	switch it.kind {
	case writeAppend:
		err = s.db.GetContext(ctx, &row, s.q.appendMessage, it.chatID, it.userID, it.other, it.text, metadataArg(it.metadata), it.at)
	case writeEdit, writeDelete:
		err = s.db.GetContext(ctx, &row, s.q.editMessage, it.chatID, it.seq, it.userID, it.kind == writeDelete, it.text, it.at)
	case writeRead:
		err = s.db.GetContext(ctx, &row, s.q.markRead, it.chatID, it.userID, it.seq)
	case writeAdd:
		err = s.db.GetContext(ctx, &row, s.q.addMember, it.chatID, it.userID, it.other, it.at, it.seq)
	case writeRemove:
		err = s.db.GetContext(ctx, &row, s.q.removeMember, it.chatID, it.userID, it.other, it.at)
	default:
		err = fmt.Errorf("unknown write %q", it.kind)
	}
	return row, err
}

// batchRetries is how often writeMany runs a batch again that PostgreSQL
// rolled back to break a deadlock: with a host transaction that locks
// chats in another order (AppendMessageTx into two chats), or another
// server's writes taken in a different order.
const batchRetries = 3

// writeMany performs batch with one call of write_batch: one statement,
// one commit. The rows are in the order of batch.
func (s *Store) writeMany(ctx context.Context, batch []*writeItem) ([]writeRow, error) {
	args := writeBatchArgs(batch)
	var rows []writeRow
	var err error
	for range batchRetries {
		rows = rows[:0]
		err = s.db.SelectContext(ctx, &rows, s.q.writeBatch, args...)
		if pq.As(err, pqerror.TRDeadlockDetected) == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if len(rows) != len(batch) {
		return nil, fmt.Errorf("write_batch returned %d rows for %d writes", len(rows), len(batch))
	}
	for i, r := range rows {
		if r.Item != i+1 {
			return nil, fmt.Errorf("write_batch returned item %d in place %d", r.Item, i+1)
		}
	}
	return rows, nil
}

// writeBatchArgs returns the arrays that write_batch takes for batch.
func writeBatchArgs(batch []*writeItem) []any {
	n := len(batch)
	kinds, chats, users, others, texts, ats := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	metadata := make([]sql.NullString, n)
	seqs := make(pq.Int64Array, n)
	for i, it := range batch {
		kinds[i], chats[i], users[i], others[i], texts[i], seqs[i] = it.kind, it.chatID, it.userID, it.other, it.text, it.seq
		if len(it.metadata) > 0 {
			metadata[i] = sql.NullString{String: string(it.metadata), Valid: true}
		}
		ats[i] = it.at.Format("2006-01-02 15:04:05.999999-07:00")
	}
	return []any{pq.StringArray(kinds), pq.StringArray(chats), pq.StringArray(users), pq.StringArray(others),
		pq.StringArray(texts), pq.GenericArray{A: metadata}, seqs, pq.StringArray(ats)}
}

// Close stops the Store's group commit: it waits until every write that
// was accepted has been written, and makes later writes (sends, edits,
// deletes, read markers, member changes) fail with an error wrapping
// chat.ErrUnavailable and ErrClosed, so that a server that shuts down
// answers its last requests with a retryable error. Reads, CreateChat,
// AppendMessageTx, React and sends with a reply or mentions, which use the
// pool or the host's transaction directly and are not grouped, keep
// working until db is closed.
//
// Close does not close db, which stays the caller's: call it after the
// Service has shut down and before db.Close. An idle Store holds no
// goroutine, so a Store that is dropped without Close leaks nothing; Close
// is what makes a shutdown wait for the writes in flight. It always
// returns nil, and may be called more than once.
func (s *Store) Close() error {
	s.batch.close()
	return nil
}
