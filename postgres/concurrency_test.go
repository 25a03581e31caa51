package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// twoStores returns two Stores on the same schema through two pools, as two
// servers of a host app would have.
func twoStores(t *testing.T, maxConns int) [2]*Store {
	t.Helper()
	db1 := openTestDB(t, maxConns)
	db2 := openTestDB(t, maxConns)
	cfg := newTestSchema(t, db1)
	var stores [2]*Store
	for i, db := range []*sqlx.DB{db1, db2} {
		s, err := New(db, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		stores[i] = s
	}
	return stores
}

func testGroup(id string, at time.Time, members ...string) chat.Chat {
	c := chat.Chat{ID: id, Kind: chat.KindGroup, Title: id, CreatedBy: members[0], CreatedAt: at, LastActivityAt: at}
	for _, m := range members {
		c.Members = append(c.Members, chat.Member{UserID: m})
	}
	return c
}

func testNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func TestConcurrentSendsThroughTwoPoolsAreGapFree(t *testing.T) {
	const senders, perSender = 8, 200
	stores := twoStores(t, senders/2)
	ctx := t.Context()
	users := make([]string, senders)
	for i := range users {
		users[i] = fmt.Sprintf("user%d", i)
	}
	_, _, err := stores[0].CreateChat(ctx, testGroup("busy", testNow(), users...), "")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i, user := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			for j := range perSender {
				m := chat.Message{ChatID: "busy", Sender: user, Text: fmt.Sprintf("%s %d", user, j), CreatedAt: testNow()}
				if _, _, err := s.AppendMessage(ctx, m); err != nil {
					errs <- err
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

	var seqs []int64
	perUser := map[string]int{}
	for after := int64(0); ; {
		page, err := stores[1].ListMessages(ctx, "busy", chat.MessageQuery{Forward: true, After: after, Limit: 500})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			seqs = append(seqs, m.Seq)
			perUser[m.Sender]++
		}
		after = page[len(page)-1].Seq
	}
	want := make([]int64, senders*perSender)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, seqs, "seqs of every message, in order")
	for _, user := range users {
		require.Equal(t, perSender, perUser[user], "messages of %s", user)
	}
	last, err := stores[0].LastSeqs(ctx, []string{"busy"})
	require.NoError(t, err)
	require.Equal(t, int64(senders*perSender), last["busy"])
}

func TestConcurrentRetriesThroughTwoPoolsStoreOneMessage(t *testing.T) {
	const retries = 50
	stores := twoStores(t, 10)
	ctx := t.Context()
	_, _, err := stores[0].CreateChat(ctx, testGroup("g", testNow(), "alice", "bob"), "")
	require.NoError(t, err)

	m := chat.Message{ChatID: "g", Sender: "alice", Text: "once", ClientID: "c-1", CreatedAt: testNow()}
	type result struct {
		m       chat.Message
		created bool
		err     error
	}
	results := make(chan result, retries)
	var wg sync.WaitGroup
	for i := range retries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, created, err := stores[i%2].AppendMessage(ctx, m)
			results <- result{got, created, err}
		}()
	}
	wg.Wait()
	close(results)
	created := 0
	for r := range results {
		require.NoError(t, r.err)
		require.Equal(t, int64(1), r.m.Seq)
		require.Equal(t, "once", r.m.Text)
		if r.created {
			created++
		}
	}
	require.Equal(t, 1, created, "calls that report created")

	ms, err := stores[1].ListMessages(ctx, "g", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	next, created2, err := stores[1].AppendMessage(ctx, chat.Message{ChatID: "g", Sender: "bob", Text: "next", CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, created2)
	require.Equal(t, int64(2), next.Seq, "the retries used up no seq")
}

func TestConcurrentDirectChatCreationFromBothSides(t *testing.T) {
	const pairs = 20
	stores := twoStores(t, 4)
	ctx := t.Context()
	for i := range pairs {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		key := a + ":" + b
		type result struct {
			c       chat.Chat
			created bool
			err     error
		}
		results := make(chan result, 2)
		start := make(chan struct{})
		for side, from := range []string{a, b} {
			to := map[string]string{a: b, b: a}[from]
			go func() {
				<-start
				c := chat.Chat{
					ID: fmt.Sprintf("d%d-%d", i, side), Kind: chat.KindDirect, CreatedBy: from, CreatedAt: testNow(),
					Members: []chat.Member{{UserID: from}, {UserID: to}},
				}
				got, created, err := stores[side].CreateChat(ctx, c, key)
				results <- result{got, created, err}
			}()
		}
		close(start)
		r1, r2 := <-results, <-results
		require.NoError(t, r1.err)
		require.NoError(t, r2.err)
		require.Equal(t, r1.c.ID, r2.c.ID, "both sides get the same chat")
		require.NotEqual(t, r1.created, r2.created, "exactly one side creates it")
		require.Equal(t, []chat.Member{{UserID: a}, {UserID: b}}, r1.c.Members)
		require.Equal(t, r1.c.Members, r2.c.Members)

		for _, u := range []string{a, b} {
			ids, err := stores[0].ChatIDs(ctx, u)
			require.NoError(t, err)
			require.Equal(t, []string{r1.c.ID}, ids, "chats of %s", u)
		}
	}
}

// The Service joins the two user ids of a direct chat with a NUL byte,
// which a text column cannot hold.
func TestDirectKeyMayHoldAnyByte(t *testing.T) {
	db := openTestDB(t, 2)
	s := newTestStore(t, db)
	ctx := t.Context()
	for i, key := range []string{"alice\x00bob", "alice\x00bob\x00", "\xff\xfe", "alice:bob"} {
		c := chat.Chat{ID: fmt.Sprintf("d%d", i), Kind: chat.KindDirect, CreatedBy: "alice", CreatedAt: testNow(),
			Members: []chat.Member{{UserID: "alice"}, {UserID: "bob"}}}
		got, created, err := s.CreateChat(ctx, c, key)
		require.NoError(t, err, "key %q", key)
		require.True(t, created, "key %q is new", key)
		c.ID = fmt.Sprintf("again%d", i)
		again, created, err := s.CreateChat(ctx, c, key)
		require.NoError(t, err, "key %q", key)
		require.False(t, created, "key %q is taken", key)
		require.Equal(t, got.ID, again.ID)
	}
}
