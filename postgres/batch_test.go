package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// queued returns how many writes wait in the Store's queue.
func (b *batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// holdFirstWrite makes the Store's next write wait, once it is about to
// be sent, until n writes have queued behind it, and records the size of
// every write and batch sent after that. It must be called before the
// Store is used concurrently.
func holdFirstWrite(s *Store, n int) (sizes func() []int) {
	var mu sync.Mutex
	var seen []int
	first := true
	s.batch.beforeWrite = func(batch []*writeItem) {
		mu.Lock()
		wasFirst := first
		first = false
		if !wasFirst {
			seen = append(seen, len(batch))
		}
		mu.Unlock()
		if wasFirst {
			for s.batch.queued() < n {
				runtime.Gosched() // A condition, not a duration: the writes are on their way.
				time.Sleep(time.Millisecond)
			}
		}
	}
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// Many goroutines send into one chat, and into many, through two Stores on
// two pools (two servers, each batching): every chat's messages are
// exactly 1..N, in the order each sender sent them, with their ordinals.
// With 48 senders, batches hold runs of 16 sends or more, which write_batch
// writes with one statement.
func TestGroupCommitManyGoroutinesAreGapFree(t *testing.T) {
	const senders, perSender, chats = 48, 25, 8
	stores := twoStores(t, 2)
	ctx := t.Context()
	users := make([]string, senders)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	ids := []string{"hot"}
	for i := range chats {
		ids = append(ids, fmt.Sprintf("c%d", i))
	}
	for _, id := range ids {
		_, _, err := stores[0].CreateChat(ctx, testGroup(id, testNow(), users...), "")
		require.NoError(t, err)
	}

	var largest atomic.Int64
	for _, s := range stores {
		s.batch.beforeWrite = func(batch []*writeItem) {
			for n := int64(len(batch)); ; {
				old := largest.Load()
				if n <= old || largest.CompareAndSwap(old, n) {
					break
				}
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g, user := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[g%2]
			for j := range perSender {
				// Half of the sends go to the hot chat, the rest round robin.
				id := "hot"
				if j%2 == 1 {
					id = ids[1+(g+j)%chats]
				}
				m := chat.Message{ChatID: id, Sender: user, Text: fmt.Sprintf("%d", j), ClientID: fmt.Sprintf("%s-%d", user, j), CreatedAt: testNow()}
				if _, created, err := s.AppendMessage(ctx, m); err != nil || !created {
					errs <- fmt.Errorf("send %d of %s: created %v, %w", j, user, created, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	total := 0
	for _, id := range ids {
		msgs, err := stores[1].ListMessages(ctx, id, chat.MessageQuery{Forward: true, Limit: senders * perSender})
		require.NoError(t, err)
		last := map[string]int{}
		for i, m := range msgs {
			require.Equal(t, int64(i+1), m.Seq, "seqs of %s are 1..N", id)
			var j int
			_, err := fmt.Sscan(m.Text, &j)
			require.NoError(t, err)
			if prev, ok := last[m.Sender]; ok {
				require.Greater(t, j, prev, "%s's messages in %s in the order sent", m.Sender, id)
			}
			last[m.Sender] = j
		}
		c, err := stores[0].GetChat(ctx, id)
		require.NoError(t, err)
		require.Equal(t, int64(len(msgs)), c.LastSeq)
		total += len(msgs)
	}
	require.Equal(t, senders*perSender, total)
	requireOrdinals(t, stores[0])
	t.Logf("largest batch: %d writes", largest.Load())
}

// A batch forced to hold writes of every kind, several of them refused,
// gives each its own result: the refusals do not fail, or take a seq from,
// the writes beside them.
func TestGroupCommitRefusalDoesNotFailNeighbours(t *testing.T) {
	db := openTestDB(t, 2)
	s := newTestStore(t, db)
	ctx := t.Context()
	_, _, err := s.CreateChat(ctx, testGroup("g", testNow(), "alice", "bob", "carol"), "")
	require.NoError(t, err)
	_, _, err = s.CreateChat(ctx, testGroup("other", testNow(), "alice"), "")
	require.NoError(t, err)
	original, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "alice", Text: "first", ClientID: "k1", CreatedAt: testNow()})
	require.NoError(t, err)
	require.Equal(t, int64(1), original.Seq)

	type call struct {
		name string
		run  func(ctx context.Context) (any, error)
	}
	send := func(chatID, sender, text, clientID string) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) {
			m, created, err := s.AppendMessage(ctx, chat.Message{ChatID: chatID, Sender: sender, Text: text, ClientID: clientID, CreatedAt: testNow()})
			return fmt.Sprintf("%d %s created=%v", m.Seq, m.Text, created), err
		}
	}
	calls := []call{
		{"send by bob", send("g", "bob", "hello", "")},
		{"send by a non-member", send("g", "mallory", "let me in", "")},
		{"send to no chat", send("nochat", "alice", "anyone?", "")},
		{"retry of a stored send", send("g", "alice", "first again", "k1")},
		{"send by carol", send("g", "carol", "hi", "k2")},
		{"edit of someone else's message", func(ctx context.Context) (any, error) {
			ev, changed, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "g", Seq: 1, UserID: "bob", Text: "mine now", At: testNow()})
			return fmt.Sprintf("%d changed=%v", ev.Seq, changed), err
		}},
		{"edit by its sender", func(ctx context.Context) (any, error) {
			ev, changed, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "g", Seq: 1, UserID: "alice", Text: "first, edited", At: testNow()})
			return fmt.Sprintf("%s changed=%v", ev.Message.Text, changed), err
		}},
		{"mark read by bob", func(ctx context.Context) (any, error) {
			seq, moved, err := s.MarkRead(ctx, "g", "bob", 1)
			return fmt.Sprintf("%d moved=%v", seq, moved), err
		}},
		{"mark read by a non-member", func(ctx context.Context) (any, error) {
			_, _, err := s.MarkRead(ctx, "g", "mallory", 1)
			return "", err
		}},
		{"add an existing member", func(ctx context.Context) (any, error) {
			_, changed, err := s.AddMember(ctx, chat.MemberChange{ChatID: "g", ActorID: "alice", UserID: "bob", At: testNow(), MaxMembers: 10})
			return fmt.Sprintf("changed=%v", changed), err
		}},
		{"remove by a non-creator", func(ctx context.Context) (any, error) {
			_, err := s.RemoveMember(ctx, chat.MemberChange{ChatID: "g", ActorID: "bob", UserID: "carol", At: testNow()})
			return "", err
		}},
		{"send to the other chat", send("other", "alice", "elsewhere", "")},
	}
	runs := make([]func(context.Context) (any, error), len(calls))
	for i, c := range calls {
		runs[i] = c.run
	}
	results, errs := runInOneBatch(t, s, runs)

	want := map[string]struct {
		result any
		err    error
	}{
		"send by bob":          {},
		"send by a non-member": {err: chat.ErrNotFound},
		"send to no chat":      {err: chat.ErrNotFound},
		// The original in its current state: edited or not, depending on
		// whether the edit came before it in the batch.
		"retry of a stored send":         {result: []any{"1 first created=false", "1 first, edited created=false"}},
		"send by carol":                  {},
		"edit of someone else's message": {err: chat.ErrForbidden},
		"edit by its sender":             {result: "first, edited changed=true"},
		"mark read by bob":               {result: "1 moved=true"},
		"mark read by a non-member":      {err: chat.ErrNotFound},
		"add an existing member":         {result: "changed=false"},
		"remove by a non-creator":        {err: chat.ErrForbidden},
		"send to the other chat":         {result: "2 elsewhere created=true"},
	}
	for i, c := range calls {
		w := want[c.name]
		if w.err != nil {
			require.ErrorIs(t, errs[i], w.err, c.name)
			continue
		}
		require.NoError(t, errs[i], c.name)
		switch want := w.result.(type) {
		case nil:
		case []any:
			require.Contains(t, want, results[i], c.name)
		default:
			require.Equal(t, want, results[i], c.name)
		}
	}
	// bob's and carol's sends and the edit took seqs 2, 3 and 4 in some
	// order: the refusals took none.
	events, err := s.ListEvents(ctx, "g", 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 4)
	for i, ev := range events {
		require.Equal(t, int64(i+1), ev.Seq)
	}
	requireOrdinals(t, s)
}

// runInOneBatch holds a send to chat "other" by alice in flight until
// every call of runs has queued behind it, so that they go to PostgreSQL
// as one batch, and returns their results.
func runInOneBatch(t *testing.T, s *Store, runs []func(context.Context) (any, error)) ([]any, []error) {
	t.Helper()
	ctx := t.Context()
	sizes := holdFirstWrite(s, len(runs))
	held := make(chan error, 1)
	go func() {
		_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "other", Sender: "alice", Text: "held", CreatedAt: testNow()})
		held <- err
	}()
	for !s.batch.busy() {
		runtime.Gosched()
	}
	results := make([]any, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = run(ctx)
		}()
	}
	wg.Wait()
	require.NoError(t, <-held)
	require.Equal(t, []int{len(runs)}, sizes()[:1], "the writes that queued behind the held one went as one batch")
	return results, errs
}

// An item that raises an error instead of returning a status, here text
// that PostgreSQL cannot store, rolls its batch back; the batch is then
// written item by item, so that only that item fails.
func TestGroupCommitFailingItemIsWrittenAlone(t *testing.T) {
	db := openTestDB(t, 2)
	s := newTestStore(t, db)
	ctx := t.Context()
	_, _, err := s.CreateChat(ctx, testGroup("g", testNow(), "alice", "bob"), "")
	require.NoError(t, err)
	_, _, err = s.CreateChat(ctx, testGroup("other", testNow(), "alice"), "")
	require.NoError(t, err)
	send := func(sender, text string) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) {
			m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: sender, Text: text, CreatedAt: testNow()})
			return m.Text, err
		}
	}
	results, errs := runInOneBatch(t, s, []func(context.Context) (any, error){send("alice", "one"), send("bob", "bad\x00text"), send("bob", "two")})
	require.NoError(t, errs[0])
	require.Equal(t, "one", results[0])
	require.Error(t, errs[1])
	require.False(t, errors.Is(errs[1], chat.ErrUnavailable), "%v", errs[1])
	require.NoError(t, errs[2])
	require.Equal(t, "two", results[2])
	msgs, err := s.ListMessages(ctx, "g", chat.MessageQuery{Forward: true, Limit: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, []int64{1, 2}, []int64{msgs[0].Seq, msgs[1].Seq})
}

// busy reports whether a write is in flight.
func (b *batcher) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writing
}

// The connection of a batch in flight is killed (pg_terminate_backend)
// while the batch waits for a chat's lock: every caller gets a result or
// an error wrapping chat.ErrUnavailable, none hangs, a message exists if
// and only if its send succeeded, the log has no gap, and the Store
// writes again afterwards.
func TestGroupCommitConnectionKilledMidBatch(t *testing.T) {
	const sends = 6
	db := openTestDB(t, 2)
	admin := openTestDB(t, 2)
	s := newTestStore(t, db)
	ctx := t.Context()
	for _, c := range []chat.Chat{testGroup("g", testNow(), "alice", "bob"), testGroup("other", testNow(), "alice")} {
		_, _, err := s.CreateChat(ctx, c, "")
		require.NoError(t, err)
	}
	blocker, err := admin.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback() }()
	_, err = blocker.ExecContext(ctx, s.q.fill(`SELECT FROM {schema}.chats WHERE id = 'g' FOR UPDATE`))
	require.NoError(t, err)

	holdFirstWrite(s, sends)
	held := make(chan error, 1)
	go func() {
		_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "other", Sender: "alice", Text: "held", CreatedAt: testNow()})
		held <- err
	}()
	for !s.batch.busy() {
		runtime.Gosched()
	}
	type result struct {
		text string
		m    chat.Message
		err  error
	}
	results := make(chan result, sends)
	for i := range sends {
		go func() {
			sender, chatID := []string{"alice", "bob"}[i%2], "g"
			if i == sends-1 {
				sender, chatID = "alice", "other"
			}
			text := fmt.Sprintf("send %d", i)
			m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: chatID, Sender: sender, Text: text, CreatedAt: testNow()})
			results <- result{text, m, err}
		}()
	}
	require.NoError(t, <-held)

	// The batch waits for the blocker's lock on g: kill its connection.
	var pid int
	require.Eventually(t, func() bool {
		err := admin.GetContext(ctx, &pid, `SELECT pid FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND position($1 in query) > 0`, s.q.fill(`{schema}.write_batch(`))
		return err == nil
	}, 30*time.Second, 10*time.Millisecond)
	var killed bool
	require.NoError(t, admin.GetContext(ctx, &killed, `SELECT pg_terminate_backend($1)`, pid))
	require.True(t, killed)
	require.NoError(t, blocker.Rollback())

	stored := map[string]int64{}
	for range sends {
		select {
		case r := <-results:
			if r.err != nil {
				require.ErrorIs(t, r.err, chat.ErrUnavailable, r.text)
			} else {
				stored[r.text] = r.m.Seq
			}
		case <-time.After(time.Minute):
			buf := make([]byte, 1<<20)
			t.Fatalf("a send of the killed batch never returned\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
	t.Logf("%d of %d sends of the killed batch succeeded (database/sql may run the statement again on a new connection)", len(stored), sends)
	for _, id := range []string{"g", "other"} {
		msgs, err := s.ListMessages(ctx, id, chat.MessageQuery{Forward: true, Limit: 100})
		require.NoError(t, err)
		for i, m := range msgs {
			require.Equal(t, int64(i+1), m.Seq, "seqs of %s", id)
			if m.Text == "held" {
				continue
			}
			seq, ok := stored[m.Text]
			require.True(t, ok, "%q is stored although its send failed", m.Text)
			require.Equal(t, seq, m.Seq)
			delete(stored, m.Text)
		}
	}
	require.Empty(t, stored, "sends that succeeded but are not stored")
	requireOrdinals(t, s)

	_, created, err := s.AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "bob", Text: "after", CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, created)
}

// Close waits for the write in flight and the writes queued behind it, and
// refuses later writes with ErrUnavailable and ErrClosed; reads go on.
func TestCloseWaitsForAcceptedWritesAndRefusesLaterOnes(t *testing.T) {
	db := openTestDB(t, 2)
	s := newTestStore(t, db)
	ctx := t.Context()
	_, _, err := s.CreateChat(ctx, testGroup("other", testNow(), "alice"), "")
	require.NoError(t, err)
	release := make(chan struct{})
	var once sync.Once
	s.batch.beforeWrite = func([]*writeItem) { once.Do(func() { <-release }) }
	results := make(chan error, 3)
	send := func() {
		_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "other", Sender: "alice", Text: "accepted", CreatedAt: testNow()})
		results <- err
	}
	go send()
	for !s.batch.busy() {
		runtime.Gosched()
	}
	go send()
	go send()
	for s.batch.queued() < 2 {
		runtime.Gosched()
	}
	closed := make(chan struct{})
	go func() {
		require.NoError(t, s.Close())
		close(closed)
	}()
	for !s.batch.isClosed() {
		runtime.Gosched()
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a write was in flight")
	default:
	}
	close(release)
	<-closed
	for range 3 {
		require.NoError(t, <-results, "a write accepted before Close")
	}
	_, _, err = s.AppendMessage(ctx, chat.Message{ChatID: "other", Sender: "alice", Text: "late", CreatedAt: testNow()})
	require.ErrorIs(t, err, chat.ErrUnavailable)
	require.ErrorIs(t, err, ErrClosed)
	msgs, err := s.ListMessages(ctx, "other", chat.MessageQuery{Limit: 10})
	require.NoError(t, err, "reads work after Close")
	require.Len(t, msgs, 3)
	require.NoError(t, s.Close(), "a second Close")
}

// isClosed reports whether Close has begun.
func (b *batcher) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
