package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/testenv"
)

func TestStoreRecoversAfterItsConnectionsAreTerminated(t *testing.T) {
	app := randomSchema(t) // Unique, so that only this pool's backends are terminated.
	db := openTestDB(t, 4, "application_name", app)
	s := newTestStore(t, db)
	admin := openTestDB(t, 1)
	ctx := t.Context()
	_, _, err := s.CreateChat(ctx, testGroup("g", testNow(), "alice"), "")
	require.NoError(t, err)
	send := func(text string) (chat.Message, error) {
		m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: text, CreatedAt: testNow()})
		return m, err
	}
	_, err = send("before")
	require.NoError(t, err)

	var terminated int
	require.NoError(t, admin.GetContext(ctx, &terminated,
		`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app))
	require.Positive(t, terminated, "backends of the store's pool terminated")
	require.Eventually(t, func() bool {
		var left int
		err := admin.GetContext(ctx, &left, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app)
		return err == nil && left == 0
	}, 10*time.Second, 10*time.Millisecond, "terminated backends exit")

	var failures []error
	var after chat.Message
	require.Eventually(t, func() bool {
		after, err = send("after")
		if err != nil {
			failures = append(failures, err)
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the store serves again on the same pool")
	for _, err := range failures {
		require.ErrorIs(t, err, chat.ErrUnavailable)
	}
	t.Logf("%d calls failed before the pool served again", len(failures))
	require.Equal(t, int64(2), after.Seq)
}

// A transaction whose connection is killed cannot be retried by the pool:
// the error must reach the caller as chat.ErrUnavailable.
func TestKilledConnectionInTxIsUnavailable(t *testing.T) {
	db := openTestDB(t, 2)
	s := newTestStore(t, db)
	admin := openTestDB(t, 1)
	ctx := t.Context()
	_, _, err := s.CreateChat(ctx, testGroup("g", testNow(), "alice"), "")
	require.NoError(t, err)

	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	var pid int
	require.NoError(t, tx.GetContext(ctx, &pid, `SELECT pg_backend_pid()`))
	_, err = admin.ExecContext(ctx, `SELECT pg_terminate_backend($1, 10000)`, pid) // Waits up to 10 s for it to exit.
	require.NoError(t, err)

	_, _, err = s.AppendMessageTx(ctx, tx, chat.Message{ChatID: "g", Sender: "alice", Text: "lost", CreatedAt: testNow()})
	require.ErrorIs(t, err, chat.ErrUnavailable)
	require.ErrorContains(t, err, "postgres: append message")

	c, err := s.GetChat(ctx, "g")
	require.NoError(t, err, "the pool replaced the dead connection")
	require.Equal(t, int64(0), c.LastSeq)
}

func TestNothingListeningIsUnavailable(t *testing.T) {
	testenv.PostgresURL(t) // Only to skip, or fail in CI, like the other tests: the server is not used.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	db := openDB(t, fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable&connect_timeout=5", addr), 2)
	s, err := New(db, Config{})
	require.NoError(t, err)
	ctx := t.Context()
	now := testNow()
	calls := map[string]func() error{
		"Migrate": func() error { return Migrate(ctx, db, Config{}) },
		"CreateChat": func() error {
			_, _, err := s.CreateChat(ctx, testGroup("g", now, "alice"), "")
			return err
		},
		"GetChat":   func() error { _, err := s.GetChat(ctx, "g"); return err },
		"GetMember": func() error { _, err := s.GetMember(ctx, "g", "alice"); return err },
		"ListChats": func() error { _, err := s.ListChats(ctx, "alice", chat.ChatQuery{Limit: 1}); return err },
		"ChatIDs":   func() error { _, err := s.ChatIDs(ctx, "alice"); return err },
		"LastSeqs":  func() error { _, err := s.LastSeqs(ctx, []string{"g"}); return err },
		"AppendMessage": func() error {
			_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: "x", CreatedAt: now})
			return err
		},
		"ListMessages": func() error { _, err := s.ListMessages(ctx, "g", chat.MessageQuery{Limit: 1}); return err },
		"ListEvents":   func() error { _, err := s.ListEvents(ctx, "g", 0, 1); return err },
		"EditMessage": func() error {
			_, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "g", Seq: 1, UserID: "alice", Text: "y", At: now})
			return err
		},
		"MarkRead": func() error { _, _, err := s.MarkRead(ctx, "g", "alice", 1); return err },
		"AddMember": func() error {
			_, _, err := s.AddMember(ctx, chat.MemberChange{ChatID: "g", ActorID: "alice", UserID: "bob", At: now, MaxMembers: 10})
			return err
		},
		"RemoveMember": func() error {
			_, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: "g", ActorID: "alice", UserID: "alice", At: now})
			return err
		},
		"UnreadCounts": func() error { _, err := s.UnreadCounts(ctx, "alice", []string{"g"}); return err },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, chat.ErrUnavailable, name)
		require.ErrorContains(t, err, "postgres: ", name)
	}
}

// A caller whose deadline passes while every pooled connection is busy gets
// chat.ErrUnavailable; one who gives up (cancels) does not.
func TestPoolWaitErrors(t *testing.T) {
	db := openTestDB(t, 1)
	s := newTestStore(t, db)
	tx, err := db.BeginTxx(t.Context(), nil) // Holds the only connection.
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = s.GetChat(ctx, "g")
	require.ErrorIs(t, err, chat.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = s.GetChat(ctx, "g")
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, chat.ErrUnavailable)
}

// TestStoreSurvivesServerCrashAndRestart crashes the server under a steady
// stream of sends and starts it again: every acknowledged message is still
// there with its seq, the log has no gap, errors while the server is down
// are chat.ErrUnavailable, and the same Store and pool serve again.
func TestStoreSurvivesServerCrashAndRestart(t *testing.T) {
	testenv.PostgresURL(t) // The shared server is not used; this only makes the test follow the same skip rules.
	cl := startCluster(t)
	db := openDB(t, cl.dsn(), 2)
	ctx := t.Context()
	require.NoError(t, Migrate(ctx, db, Config{}))
	s, err := New(db, Config{})
	require.NoError(t, err)
	_, _, err = s.CreateChat(ctx, testGroup("g", testNow(), "alice"), "")
	require.NoError(t, err)

	type ack struct {
		seq  int64
		text string
	}
	var (
		mu         sync.Mutex
		acks       []ack
		failures   int
		unexpected []error
	)
	counts := func() (acked, failed int) {
		mu.Lock()
		defer mu.Unlock()
		return len(acks), failures
	}
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			text := fmt.Sprintf("m%d", i)
			m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: text, ClientID: text, CreatedAt: testNow()})
			mu.Lock()
			switch {
			case err == nil:
				acks = append(acks, ack{m.Seq, text})
			case errors.Is(err, chat.ErrUnavailable):
				failures++
			default:
				unexpected = append(unexpected, err)
			}
			mu.Unlock()
		}
	}()
	stopSender := sync.OnceFunc(func() { close(stop); <-senderDone })
	defer stopSender()

	require.Eventually(t, func() bool { n, _ := counts(); return n >= 20 }, 10*time.Second, time.Millisecond, "sends before the crash")
	cl.crash()
	_, err = s.GetChat(ctx, "g")
	require.ErrorIs(t, err, chat.ErrUnavailable, "a call while the server is down")
	require.Eventually(t, func() bool { _, n := counts(); return n > 0 }, 10*time.Second, time.Millisecond, "the sender gets errors")
	ackedBefore, _ := counts()

	cl.start()
	require.Eventually(t, func() bool { n, _ := counts(); return n >= ackedBefore+20 }, 20*time.Second, time.Millisecond, "sends after the restart")
	stopSender()
	require.Empty(t, unexpected, "errors other than chat.ErrUnavailable")
	t.Logf("%d sends acknowledged, %d failed with chat.ErrUnavailable", len(acks), failures)

	stored := map[int64]string{}
	var seqs []int64
	for after := int64(0); ; {
		page, err := s.ListMessages(ctx, "g", chat.MessageQuery{Forward: true, After: after, Limit: 1000})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			stored[m.Seq] = m.Text
			seqs = append(seqs, m.Seq)
		}
		after = page[len(page)-1].Seq
	}
	for i, seq := range seqs {
		require.Equal(t, int64(i+1), seq, "the log has no gap")
	}
	for _, a := range acks {
		require.Equal(t, a.text, stored[a.seq], "acknowledged message at seq %d", a.seq)
	}
}
