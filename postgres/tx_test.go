package postgres

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// txFixture is a Store with a chat g (alice, bob) and a host table orders
// in the Store's schema.
func txFixture(t *testing.T) (*Store, *sqlx.DB, string) {
	t.Helper()
	db := openTestDB(t, 4)
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	orders := cfg.Schema + ".orders"
	_, err = db.ExecContext(t.Context(), `CREATE TABLE `+orders+` (id text PRIMARY KEY)`)
	require.NoError(t, err)
	_, _, err = s.CreateChat(t.Context(), testGroup("g", testNow(), "alice", "bob"), "")
	require.NoError(t, err)
	return s, db, orders
}

func countRows(t *testing.T, db *sqlx.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.GetContext(t.Context(), &n, `SELECT count(*) FROM `+table))
	return n
}

func TestAppendMessageTxCommitsWithHostRows(t *testing.T) {
	s, db, orders := txFixture(t)
	ctx := t.Context()

	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO `+orders+` VALUES ('o1')`)
	require.NoError(t, err)
	m, created, err := s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "g", Sender: "alice", Text: "order o1 placed", CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, int64(1), m.Seq)

	ms, err := s.ListMessages(ctx, "g", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ms, "the message is invisible before commit")

	require.NoError(t, tx.Commit())
	require.Equal(t, 1, countRows(t, db, orders))
	ms, err = s.ListMessages(ctx, "g", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "order o1 placed", ms[0].Text)
}

func TestAppendMessageTxRollbackLeavesNeitherAndNoGap(t *testing.T) {
	s, db, orders := txFixture(t)
	ctx := t.Context()

	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO `+orders+` VALUES ('o1')`)
	require.NoError(t, err)
	_, _, err = s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "g", Sender: "alice", Text: "rolled back", CreatedAt: testNow()})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())

	require.Equal(t, 0, countRows(t, db, orders))
	c, err := s.GetChat(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, int64(0), c.LastSeq)
	m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "bob", Text: "after", CreatedAt: testNow()})
	require.NoError(t, err)
	require.Equal(t, int64(1), m.Seq, "the rolled-back seq is given back")
}

// A repeated client id and a non-member must not abort the host's
// transaction: it can still write and commit.
func TestAppendMessageTxKeepsTxUsable(t *testing.T) {
	s, db, orders := txFixture(t)
	ctx := t.Context()
	orig, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: "first", ClientID: "k", CreatedAt: testNow()})
	require.NoError(t, err)

	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	got, created, err := s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "g", Sender: "alice", Text: "retry", ClientID: "k", CreatedAt: testNow()})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, orig, got)

	_, _, err = s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "g", Sender: "mallory", Text: "hi", CreatedAt: testNow()})
	require.ErrorIs(t, err, chat.ErrNotFound)
	_, _, err = s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "nope", Sender: "alice", Text: "hi", CreatedAt: testNow()})
	require.ErrorIs(t, err, chat.ErrNotFound)

	_, err = tx.ExecContext(ctx, `INSERT INTO `+orders+` VALUES ('o1')`)
	require.NoError(t, err, "the transaction is still usable")
	require.NoError(t, tx.Commit())
	require.Equal(t, 1, countRows(t, db, orders))
	c, err := s.GetChat(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, int64(1), c.LastSeq)
}

// A writer that inserts messages without taking the chat row lock can make
// AppendMessage hit the client id index after its check passed. The caller
// must then get the original, not an error.
func TestAppendMessageUniqueViolationReturnsOriginal(t *testing.T) {
	db := openTestDB(t, 4)
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	ctx := t.Context()
	_, _, err = s.CreateChat(ctx, testGroup("g", testNow(), "alice", "bob"), "")
	require.NoError(t, err)

	rogue, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = rogue.Rollback() }() // A no-op once committed.
	_, err = rogue.ExecContext(ctx, `INSERT INTO `+cfg.Schema+`.messages (chat_id, seq, sender, text, client_id, created_at, ordinal, sender_ordinal)
		VALUES ('g', 100, 'alice', 'rogue', 'k', now(), 1, 1)`)
	require.NoError(t, err)

	type result struct {
		m       chat.Message
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		m, created, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: "mine", ClientID: "k", CreatedAt: testNow()})
		done <- result{m, created, err}
	}()
	// The send's insert waits on the rogue's uncommitted index entry. The
	// wait is polled until it shows or the send ends without it: on a busy
	// shared server that can take any time, so there is no bound but the
	// test's own.
	var r result
	for waiting := false; !waiting; {
		select {
		case r = <-done:
			t.Fatalf("the send ended without waiting for the rogue's lock: %+v", r)
		case <-time.After(10 * time.Millisecond):
		}
		err := db.GetContext(ctx, &waiting, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%"`+cfg.Schema+`".append_message(%')`)
		require.NoError(t, err)
	}
	require.NoError(t, rogue.Commit())

	r = <-done
	require.NoError(t, r.err)
	require.False(t, r.created)
	require.Equal(t, "rogue", r.m.Text)
	require.Equal(t, int64(100), r.m.Seq)
	c, err := s.GetChat(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, int64(0), c.LastSeq, "the failed insert gave its seq back")
}
