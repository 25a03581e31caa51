package postgres

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// BenchmarkAppendMessage measures sends per second into one chat, where
// every send waits for the chat's row lock, and into 1,000 chats, with 1,
// 8 and 32 concurrent senders, each with a connection of its own.
func BenchmarkAppendMessage(b *testing.B) {
	for _, chats := range []int{1, 1000} {
		for _, senders := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("chats=%d/senders=%d", chats, senders), func(b *testing.B) {
				db := openTestDB(b, senders)
				s := newTestStore(b, db)
				ids := benchChats(b, db, s, chats, senders)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := range senders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sender := fmt.Sprintf("u%d", g)
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							m := chat.Message{ChatID: ids[int(i)%len(ids)], Sender: sender, Text: "hello", CreatedAt: testNow()}
							if _, _, err := s.AppendMessage(b.Context(), m); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			})
		}
	}
}

// benchChats creates n chats whose members are u0 ... u(members-1), and
// returns their ids.
func benchChats(b testing.TB, db *sqlx.DB, s *Store, n, members int) []string {
	b.Helper()
	ids := make([]string, n)
	users := make([]string, members)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
	}
	_, err := db.ExecContext(b.Context(), s.q.fill(`
		INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_activity_at)
		SELECT id, 'group', id, 'u0', now(), now() FROM unnest($1::text[]) id`), pq.Array(ids))
	require.NoError(b, err)
	_, err = db.ExecContext(b.Context(), s.q.fill(`
		INSERT INTO {schema}.members (chat_id, user_id)
		SELECT c, u FROM unnest($1::text[]) c, unnest($2::text[]) u`), pq.Array(ids), pq.Array(users))
	require.NoError(b, err)
	return ids
}

// BenchmarkListMessages measures one page of 50 messages from a chat with
// 100,000, read the three ways clients do.
func BenchmarkListMessages(b *testing.B) {
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	benchChats(b, db, s, 1, 1)
	const total = 100000
	_, err := db.ExecContext(b.Context(), s.q.fill(fmt.Sprintf(`
		INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at)
		SELECT 'c0', i, 'u0', 'message number ' || i, now() FROM generate_series(1, %[1]d) i;
		UPDATE {schema}.chats SET last_seq = %[1]d;
		ANALYZE {schema}.messages`, total)))
	require.NoError(b, err)

	for _, bench := range []struct {
		name  string
		query func() chat.MessageQuery
	}{
		{"newest", func() chat.MessageQuery { return chat.MessageQuery{Limit: 50} }},
		{"before", func() chat.MessageQuery { return chat.MessageQuery{Limit: 50, Before: 1 + rand.Int64N(total)} }},
		{"forward", func() chat.MessageQuery {
			return chat.MessageQuery{Limit: 50, Forward: true, After: rand.Int64N(total)}
		}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListMessages(b.Context(), "c0", bench.query()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListChats measures the first page of 20 chats of a user who is
// in 10, 1,000 or 5,000 of 20,000 chats: its cost grows with the user's
// chats, not with the page (see docs/postgres.md).
func BenchmarkListChats(b *testing.B) {
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	_, err := db.ExecContext(b.Context(), s.q.fill(`
		INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_activity_at)
		SELECT 'c' || i, 'group', 'chat', 'u0', now(), now() - make_interval(secs => i) FROM generate_series(1, 20000) i;
		INSERT INTO {schema}.members (chat_id, user_id)
		SELECT 'c' || i, 'u' || n FROM generate_series(1, 20000) i, unnest(ARRAY[10, 1000, 5000]) n WHERE i % (20000 / n) = 0;
		INSERT INTO {schema}.members (chat_id, user_id)
		SELECT 'c' || i, 'other' || k FROM generate_series(1, 20000) i, generate_series(1, 4) k;
		ANALYZE {schema}.chats;
		ANALYZE {schema}.members`))
	require.NoError(b, err)
	for _, n := range []int{10, 1000, 5000} {
		b.Run(fmt.Sprintf("chats=%d", n), func(b *testing.B) {
			for b.Loop() {
				cs, err := s.ListChats(b.Context(), fmt.Sprintf("u%d", n), chat.ChatQuery{Limit: 20})
				if err != nil {
					b.Fatal(err)
				}
				if len(cs) != min(n, 20) {
					b.Fatalf("got %d chats", len(cs))
				}
			}
		})
	}
}
