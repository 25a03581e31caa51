package postgres

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// TestExplainHotPaths fills a throwaway schema with 1.8 million messages
// and logs the plans of the Store's queries, for docs/postgres.md. It takes
// a minute or two, so it only runs when CHAT_PG_EXPLAIN=1:
//
//	CHAT_PG_EXPLAIN=1 go test -run TestExplainHotPaths -v ./postgres
func TestExplainHotPaths(t *testing.T) {
	if os.Getenv("CHAT_PG_EXPLAIN") != "1" {
		t.Skip("set CHAT_PG_EXPLAIN=1 to fill a schema with 1.8 million messages and log the query plans")
	}
	db := openTestDB(t, 2)
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	ctx := t.Context()
	started := time.Now()
	fillForExplain(t, ctx, db, s)
	t.Logf("filled in %s", time.Since(started).Round(time.Millisecond))
	logSizes(t, db, cfg.Schema)

	explain := func(name, query string, args ...any) {
		t.Helper()
		var lines []string
		require.NoError(t, db.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+query, args...), name)
		t.Logf("%s:\n%s\n", name, strings.Join(lines, "\n"))
	}
	explain("ListMessages newest 50 of the million-message chat", s.q.messagesBefore, "hot", int64(math.MaxInt64), 50)
	explain("ListMessages 50 before seq 500000", s.q.messagesBefore, "hot", int64(500000), 50)
	explain("ListMessages 50 after seq 750000", s.q.messagesAfter, "hot", int64(750000), 50)
	explain("ListEvents 50 after seq 750000 (all messages)", s.q.listEvents, "hot", int64(750000), 50)
	explain("ListEvents 50 after seq 999990 (messages, then deletions)", s.q.listEvents, "hot", int64(999990), 50)
	explain("ListEvents after seq 10 of a 40-message chat", s.q.listEvents, "c07777", int64(10), 100)
	explain("ListChats first page (20) of a user in 5000 chats", s.q.listChats, "heavy", 20, "")
	explain("ListChats later page of a user in 5000 chats", s.q.listChatsAfter, "heavy", 20, "", time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), "c10000", false)
	explain("ListChats first page (20) of a user in 10 chats", s.q.listChats, "u00042", 20, "")
	explain("ChatIDs of a user in 5000 chats", s.q.chatIDs, "heavy")
	explain("LastSeqs of 100 chats", s.q.lastSeqs, someChats(100))
	explain("GetChat of a 40-message chat", s.q.getChat, "c07777")
	explain("GetChat of the million-message chat (100 members)", s.q.getChat, "hot")
	explain("GetMember", s.q.getMember, "hot", "u00002")
	for _, reader := range hotReaders {
		explain(fmt.Sprintf("UnreadCounts, million-message chat, marker at %d", reader.marker), s.q.unreadCounts, reader.user, pq.Array([]string{"hot"}))
	}
	explain("UnreadCounts, a page of 50 of the 5000 chats of a user", s.q.unreadCounts, "heavy", pq.Array(heavyChats(50)))
	explain("UnreadCounts, a page of 200 of the 5000 chats of a user", s.q.unreadCounts, "heavy", pq.Array(heavyChats(200)))

	// The counts are exact: compare them with counting the messages.
	for _, reader := range hotReaders {
		counts, err := s.UnreadCounts(ctx, reader.user, []string{"hot"})
		require.NoError(t, err)
		var want int64
		require.NoError(t, db.GetContext(ctx, &want, s.q.fill(`SELECT count(*) FROM {schema}.messages
			WHERE chat_id = 'hot' AND seq > $1 AND sender <> $2 AND NOT deleted`), reader.marker, reader.user))
		require.Equal(t, map[string]int64{"hot": want}, counts, "unread of %s", reader.user)
		t.Logf("unread of %s (marker %d): %d", reader.user, reader.marker, want)
	}
	counts, err := s.UnreadCounts(ctx, "heavy", heavyChats(200))
	require.NoError(t, err)
	var recount []struct {
		ChatID string `db:"chat_id"`
		N      int64  `db:"n"`
	}
	require.NoError(t, db.SelectContext(ctx, &recount, s.q.fill(`
		SELECT um.chat_id, count(m.seq) AS n FROM {schema}.members um
		LEFT JOIN {schema}.messages m ON m.chat_id = um.chat_id AND m.seq > um.last_read_seq AND m.sender <> um.user_id AND NOT m.deleted
		WHERE um.user_id = 'heavy' AND um.chat_id = ANY ($1::text[]) GROUP BY um.chat_id`), pq.Array(heavyChats(200))))
	require.Len(t, counts, len(recount))
	for _, r := range recount {
		require.Equal(t, r.N, counts[r.ChatID], "unread of heavy in %s", r.ChatID)
	}

	// The statements of append_message, one by one, then the writes, in
	// a transaction that is rolled back so that the data stay put.
	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	for _, step := range []struct {
		name, sql string
		args      []any
	}{
		{"AppendMessage, lock", `SELECT FROM {schema}.chats WHERE id = $1 FOR NO KEY UPDATE`, []any{"hot"}},
		{"AppendMessage, membership", `SELECT EXISTS (SELECT FROM {schema}.members WHERE chat_id = $1 AND user_id = $2)`, []any{"hot", "u00001"}},
		{"AppendMessage, client id", `SELECT m.seq, m.text, m.metadata, m.created_at, m.edited_at, m.deleted FROM {schema}.messages m
			WHERE m.chat_id = $1 AND m.sender = $2 AND m.client_id = $3 AND m.client_id <> ''`, []any{"hot", "u00001", "retry-1"}},
		{"AppendMessage, sender ordinal", `SELECT m.sender_ordinal FROM {schema}.messages m
			WHERE m.chat_id = $1 AND m.sender = $2 ORDER BY m.seq DESC LIMIT 1`, []any{"hot", "u00001"}},
		{"AppendMessage, seq", `UPDATE {schema}.chats SET last_seq = last_seq + 1, message_count = message_count + 1, last_activity_at = $2
			WHERE id = $1 RETURNING last_seq, message_count`, []any{"hot", testNow()}},
		{"AppendMessage, insert", `INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, metadata, created_at, ordinal, sender_ordinal)
			VALUES ($1, 1001004, $2, 'hello', $3, NULL, $4, 1000001, 10001)`, []any{"hot", "u00001", "retry-1", testNow()}},
		{"AppendMessage, whole call", s.q.appendMessage, []any{"hot", "u00001", "retry-2", "hello", nil, testNow()}},
		{"EditMessage, whole call (edit)", s.q.editMessage, []any{"hot", int64(500001), "u00002", false, "edited", testNow()}},
		{"EditMessage, whole call (delete)", s.q.editMessage, []any{"hot", int64(500101), "u00002", true, "", testNow()}},
		{"MarkRead, whole call", s.q.markRead, []any{"hot", "u00002", int64(600000)}},
		{"AddMember, whole call", s.q.addMember, []any{"hot", "u00001", "newcomer", testNow(), int64(1000)}},
		{"RemoveMember, whole call", s.q.removeMember, []any{"hot", "u00001", "u00050", testNow()}},
	} {
		var lines []string
		require.NoError(t, tx.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+s.q.fill(step.sql), step.args...), step.name)
		t.Logf("%s:\n%s\n", step.name, strings.Join(lines, "\n"))
	}
	// The plans are those of calls that changed what they were meant to.
	var changed bool
	require.NoError(t, tx.GetContext(ctx, &changed, s.q.fill(`SELECT
		(SELECT edited_at IS NOT NULL FROM {schema}.messages WHERE chat_id = 'hot' AND seq = 500001)
		AND (SELECT deleted FROM {schema}.messages WHERE chat_id = 'hot' AND seq = 500101)
		AND (SELECT last_read_seq = 600000 FROM {schema}.members WHERE chat_id = 'hot' AND user_id = 'u00002')
		AND EXISTS (SELECT FROM {schema}.members WHERE chat_id = 'hot' AND user_id = 'newcomer')
		AND NOT EXISTS (SELECT FROM {schema}.members WHERE chat_id = 'hot' AND user_id = 'u00050')
		AND (SELECT count(*) = 4 FROM {schema}.events WHERE chat_id = 'hot' AND seq > 1001003)`)))
	require.True(t, changed, "the calls whose plans were shown changed the chat")
	require.NoError(t, tx.Rollback())

	// How many of the row updates that sends make to chats, and MarkRead
	// to members, are HOT.
	before := map[string]hotStats{}
	for _, table := range []string{"chats", "members"} {
		before[table] = readHotStats(t, db, cfg.Schema, table)
	}
	const calls = 2000
	for i := range calls {
		chatID := heavyChats(50)[i%50]
		_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: chatID, Sender: "heavy", Text: "hi", CreatedAt: testNow()})
		require.NoError(t, err)
		_, moved, err := s.MarkRead(ctx, chatID, "heavy", math.MaxInt64)
		require.NoError(t, err)
		require.True(t, moved)
	}
	for _, table := range []string{"chats", "members"} {
		require.Eventually(t, func() bool {
			after := readHotStats(t, db, cfg.Schema, table)
			if after.Updates-before[table].Updates < calls {
				return false // Backends report their statistics a little later.
			}
			t.Logf("%s row updates during %d sends and %d MarkRead: %d, of which HOT: %d",
				table, calls, calls, after.Updates-before[table].Updates, after.HOT-before[table].HOT)
			return true
		}, 30*time.Second, 100*time.Millisecond)
	}
}

// hotReaders are members of the chat "hot" whose read markers
// fillForExplain puts at its start, its middle and its end.
var hotReaders = []struct {
	user   string
	marker int64
}{
	{"u00001", 0},
	{"u00002", 500000},
	{"u00003", 1001003},
}

type hotStats struct {
	Updates int64 `db:"n_tup_upd"`
	HOT     int64 `db:"n_tup_hot_upd"`
}

func readHotStats(t *testing.T, db *sqlx.DB, schema, table string) hotStats {
	t.Helper()
	var st hotStats
	require.NoError(t, db.GetContext(t.Context(), &st,
		`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`, schema, table))
	return st
}

func logSizes(t *testing.T, db *sqlx.DB, schema string) {
	t.Helper()
	var sizes string
	require.NoError(t, db.GetContext(t.Context(), &sizes, `
		SELECT string_agg(format('%s %s (indexes %s)', c.relname,
			pg_size_pretty(pg_table_size(c.oid)), pg_size_pretty(pg_indexes_size(c.oid))), ', ' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r'`, schema))
	t.Logf("sizes: %s", sizes)
}

// someChats returns the ids of n of the chats fillForExplain creates.
func someChats(n int) any {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", 1+i*97)
	}
	return pq.Array(ids)
}

// heavyChats returns the ids of n of the chats of the user "heavy".
func heavyChats(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", 1+4*(i*13%5000))
	}
	return ids
}

// fillForExplain creates 20,000 chats of 5 members among 10,000 users, with
// 40 messages each, a user "heavy" in 5,000 of them who has read a
// different number of messages in each, and a chat "hot" of 100 members
// with 1,000,000 messages from all of them, every 997th deleted (so 1,003
// message.deleted events follow the messages in its log). In all, 1.8
// million messages.
func fillForExplain(t *testing.T, ctx context.Context, db *sqlx.DB, s *Store) {
	t.Helper()
	for _, stmt := range []string{
		`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, message_count, last_activity_at)
		SELECT format('c%s', lpad(i::text, 5, '0')), 'group', 'chat ' || i, 'u00001', '2024-01-01Z', 40, 40,
			'2024-01-01Z'::timestamptz + make_interval(secs => (i * 7919) % 86400)
		FROM generate_series(1, 20000) i`,
		`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, message_count, last_activity_at)
		VALUES ('hot', 'group', 'hot', 'u00001', '2024-01-01Z', 1001003, 1000000, '2024-01-02Z')`,
		`INSERT INTO {schema}.members (chat_id, user_id)
		SELECT DISTINCT format('c%s', lpad(i::text, 5, '0')), format('u%s', lpad((1 + (i * 31 + k * 2003) % 10000)::text, 5, '0'))
		FROM generate_series(1, 20000) i, generate_series(0, 4) k`,
		`INSERT INTO {schema}.members (chat_id, user_id, last_read_seq)
		SELECT format('c%s', lpad(i::text, 5, '0')), 'heavy', (i * 7) % 41 FROM generate_series(1, 20000, 4) i`,
		`INSERT INTO {schema}.members (chat_id, user_id, last_read_seq)
		SELECT 'hot', format('u%s', lpad(i::text, 5, '0')), CASE i WHEN 2 THEN 500000 WHEN 3 THEN 1001003 ELSE 0 END
		FROM generate_series(1, 100) i`,
		// Message i is from user 1 + i % 100, whose (i + 99) / 100th it is.
		`INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, created_at, deleted, ordinal, sender_ordinal)
		SELECT 'hot', i, format('u%s', lpad((1 + i % 100)::text, 5, '0')),
			CASE WHEN i % 997 = 0 THEN '' ELSE 'message number ' || i END,
			CASE WHEN i % 2 = 0 THEN 'client-' || i ELSE '' END, '2024-01-01Z'::timestamptz + make_interval(secs => i / 10.0),
			i % 997 = 0, i, (i + 99) / 100
		FROM generate_series(1, 1000000) i`,
		`INSERT INTO {schema}.events (chat_id, seq, type, actor_id, message_seq, created_at)
		SELECT 'hot', 1000000 + k, 'message.deleted', format('u%s', lpad((1 + (997 * k) % 100)::text, 5, '0')), 997 * k, '2024-01-02Z'
		FROM generate_series(1, 1003) k`,
		`INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, created_at, ordinal, sender_ordinal)
		SELECT format('c%s', lpad(c::text, 5, '0')), i, 'u00001', 'message number ' || i, 'client-' || i,
			'2024-01-01Z'::timestamptz + make_interval(secs => i), i, i
		FROM generate_series(1, 20000) c, generate_series(1, 40) i`,
		`VACUUM ANALYZE {schema}.chats`,
		`VACUUM ANALYZE {schema}.members`,
		`VACUUM ANALYZE {schema}.messages`,
		`VACUUM ANALYZE {schema}.events`,
	} {
		_, err := db.ExecContext(ctx, s.q.fill(stmt))
		require.NoError(t, err, stmt)
	}
	requireOrdinals(t, s)
}

// TestExplainWriteBatch shows where the time of a group commit goes: it
// runs write_batch with 64 sends, into 64 of 1,000 chats and into one
// chat, under EXPLAIN ANALYZE in a transaction that is rolled back (the
// server's execution time, without the commit), and then for real in
// autocommit (execution, commit with its WAL flush, and the round trip),
// and logs both. It only runs when CHAT_PG_EXPLAIN=1:
//
//	CHAT_PG_EXPLAIN=1 go test -run TestExplainWriteBatch -v ./postgres
func TestExplainWriteBatch(t *testing.T) {
	if os.Getenv("CHAT_PG_EXPLAIN") != "1" {
		t.Skip("set CHAT_PG_EXPLAIN=1 to time write_batch")
	}
	const n = 64
	db := openTestDB(t, 1)
	s := newTestStore(t, db)
	ctx := t.Context()
	ids := benchChats(t, db, s, 1000, n)
	batch := func(spread bool, round int) []*writeItem {
		items := make([]*writeItem, n)
		for i := range items {
			chatID := ids[0]
			if spread {
				chatID = ids[(round*n+i)%len(ids)]
			}
			items[i] = &writeItem{kind: writeAppend, chatID: chatID, userID: fmt.Sprintf("u%d", i), text: "hello", at: testNow()}
		}
		return items
	}
	for _, spread := range []bool{true, false} {
		for round := range 5 {
			items := batch(spread, round)
			tx, err := db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			var plan []string
			require.NoError(t, tx.SelectContext(ctx, &plan, `EXPLAIN (ANALYZE, BUFFERS, WAL) `+s.q.writeBatch, writeBatchArgs(items)...))
			require.NoError(t, tx.Rollback())
			start := time.Now()
			rows, err := s.writeMany(ctx, items)
			require.NoError(t, err)
			require.Len(t, rows, n)
			t.Logf("%s", strings.Join(plan, "\n"))
			t.Logf("64 sends into %s: server execution %s; in autocommit from Go (execution, commit, round trip): %s",
				map[bool]string{true: "64 chats", false: "one chat"}[spread], strings.TrimPrefix(plan[len(plan)-1], "Execution Time: "), time.Since(start).Round(10*time.Microsecond))
		}
	}
}
