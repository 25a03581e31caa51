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
		INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
		SELECT 'c0', i, 'u0', 'message number ' || i, now(), i, i FROM generate_series(1, %[1]d) i;
		UPDATE {schema}.chats SET last_seq = %[1]d, message_count = %[1]d;
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

// BenchmarkUnreadCounts measures the unread counts of a page of 50 chats,
// each with a history of 100 or 20,000 messages from 5 senders (one in 500
// deleted), for a reader who has read nothing, half, or everything. The
// Store's cost should be the same in every case; "count" runs, for
// comparison, a query that counts the unread messages of each chat along
// the primary key.
func BenchmarkUnreadCounts(b *testing.B) {
	const page = 50
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	for _, history := range []int{100, 20000} {
		_, err := db.ExecContext(b.Context(), s.q.fill(fmt.Sprintf(`
			INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, message_count, last_activity_at)
			SELECT 'h%[1]d-' || c, 'group', 'chat', 'u0', now(), %[1]d, %[1]d, now() FROM generate_series(1, %[2]d) c;
			INSERT INTO {schema}.members (chat_id, user_id, last_read_seq)
			SELECT 'h%[1]d-' || c, 'u' || k, CASE k WHEN 1 THEN %[1]d / 2 WHEN 2 THEN %[1]d ELSE 0 END
			FROM generate_series(1, %[2]d) c, generate_series(0, 4) k;
			INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, deleted, ordinal, sender_ordinal)
			SELECT 'h%[1]d-' || c, i, 'u' || (i %% 5), 'message number ' || i, now(), i %% 500 = 0, i, (i + 4) / 5
			FROM generate_series(1, %[2]d) c, generate_series(1, %[1]d) i`, history, page)))
		require.NoError(b, err)
	}
	_, err := db.ExecContext(b.Context(), s.q.fill(`VACUUM ANALYZE {schema}.chats, {schema}.members, {schema}.messages`))
	require.NoError(b, err)
	requireOrdinals(b, s)

	// Per chat, a range scan of the primary key from the marker. Its cost
	// estimate is high enough for PostgreSQL to compile it (JIT), which
	// would add more than 10 ms to every run: its own pool turns JIT off.
	countDB := openTestDB(b, 1, "jit", "off")
	recount := s.q.fill(`
		SELECT um.chat_id, (SELECT count(*) FROM {schema}.messages m
			WHERE m.chat_id = um.chat_id AND m.seq > um.last_read_seq AND m.sender <> um.user_id AND NOT m.deleted)
		FROM {schema}.members um
		WHERE um.user_id = $1 AND um.chat_id = ANY ($2::text[])`)
	for _, history := range []int{100, 20000} {
		ids := make([]string, page)
		for i := range ids {
			ids[i] = fmt.Sprintf("h%d-%d", history, i+1)
		}
		for _, reader := range []struct{ name, user string }{{"read=none", "u0"}, {"read=half", "u1"}, {"read=all", "u2"}} {
			b.Run(fmt.Sprintf("history=%d/%s", history, reader.name), func(b *testing.B) {
				for b.Loop() {
					counts, err := s.UnreadCounts(b.Context(), reader.user, ids)
					if err != nil {
						b.Fatal(err)
					}
					if len(counts) != page {
						b.Fatalf("got %d counts", len(counts))
					}
				}
			})
			b.Run(fmt.Sprintf("history=%d/%s/count", history, reader.name), func(b *testing.B) {
				for b.Loop() {
					rows, err := countDB.QueryContext(b.Context(), recount, reader.user, pq.Array(ids))
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if err := rows.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEditMessage measures edits per second of random messages of one
// chat of 10,000, by 1 or 8 editors at once, each with a connection of its
// own. Edits take the chat's row lock, as sends do.
func BenchmarkEditMessage(b *testing.B) {
	const total = 10000
	for _, editors := range []int{1, 8} {
		b.Run(fmt.Sprintf("editors=%d", editors), func(b *testing.B) {
			db := openTestDB(b, editors)
			s := newTestStore(b, db)
			benchChats(b, db, s, 1, editors)
			_, err := db.ExecContext(b.Context(), s.q.fill(fmt.Sprintf(`
				INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
				SELECT 'c0', i, 'u' || (i %% %[2]d), 'message number ' || i, now(), i, (i + %[2]d - 1) / %[2]d
				FROM generate_series(1, %[1]d) i;
				UPDATE {schema}.chats SET last_seq = %[1]d, message_count = %[1]d;
				ANALYZE {schema}.messages`, total, editors)))
			require.NoError(b, err)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := range editors {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						// Editor g sent the messages whose seq is g modulo editors.
						seq := int64(editors*rand.IntN(total/editors) + g)
						if seq == 0 {
							seq = int64(editors)
						}
						e := chat.MessageEdit{ChatID: "c0", Seq: seq, UserID: fmt.Sprintf("u%d", g), Text: "edited", At: testNow()}
						if _, _, err := s.EditMessage(b.Context(), e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "edits/s")
		})
	}
}

// BenchmarkMarkRead measures moving a read marker forward in a chat of
// 100,000 messages, one connection.
func BenchmarkMarkRead(b *testing.B) {
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	benchChats(b, db, s, 1, 2)
	_, err := db.ExecContext(b.Context(), s.q.fill(`UPDATE {schema}.chats SET last_seq = 100000`))
	require.NoError(b, err)
	var seq int64
	for b.Loop() {
		seq = seq%100000 + 1
		if seq == 1 {
			_, err := db.ExecContext(b.Context(), s.q.fill(`UPDATE {schema}.members SET last_read_seq = 0`))
			require.NoError(b, err)
		}
		if _, moved, err := s.MarkRead(b.Context(), "c0", "u1", seq); err != nil || !moved {
			b.Fatalf("MarkRead %d: moved %v, %v", seq, moved, err)
		}
	}
}
