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

// TestExplainHotPaths fills a throwaway schema with a million messages and
// logs the plans of the Store's queries, for docs/postgres.md. It takes
// about a minute, so it only runs when CHAT_PG_EXPLAIN=1:
//
//	CHAT_PG_EXPLAIN=1 go test -run TestExplainHotPaths -v ./postgres
func TestExplainHotPaths(t *testing.T) {
	if os.Getenv("CHAT_PG_EXPLAIN") != "1" {
		t.Skip("set CHAT_PG_EXPLAIN=1 to fill a schema with a million messages and log the query plans")
	}
	db := openTestDB(t, 2)
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	ctx := t.Context()
	started := time.Now()
	fillForExplain(t, ctx, db, s)
	t.Logf("filled in %s", time.Since(started).Round(time.Millisecond))

	var sizes string
	require.NoError(t, db.GetContext(ctx, &sizes, strings.ReplaceAll(`
		SELECT string_agg(format('%s %s (indexes %s)', c.relname,
			pg_size_pretty(pg_table_size(c.oid)), pg_size_pretty(pg_indexes_size(c.oid))), ', ' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '{schema}' AND c.relkind = 'r'`, "{schema}", cfg.Schema)))
	t.Logf("sizes: %s", sizes)

	explain := func(name, query string, args ...any) {
		t.Helper()
		var lines []string
		require.NoError(t, db.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+query, args...), name)
		t.Logf("%s:\n%s\n", name, strings.Join(lines, "\n"))
	}
	explain("ListMessages newest 50 of the 200k-message chat", s.q.messagesBefore, "hot", int64(math.MaxInt64), 50)
	explain("ListMessages 50 before seq 100000", s.q.messagesBefore, "hot", int64(100000), 50)
	explain("ListMessages/ListEvents 50 after seq 150000", s.q.messagesAfter, "hot", int64(150000), 50)
	explain("ListEvents after seq 10 of a 40-message chat", s.q.messagesAfter, "c07777", int64(10), 100)
	explain("ListChats first page (20) of a user in 5000 chats", s.q.listChats, "heavy", 20)
	explain("ListChats later page of a user in 5000 chats", s.q.listChatsAfter, "heavy", 20, time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), "c10000")
	explain("ListChats first page (20) of a user in 10 chats", s.q.listChats, "u00042", 20)
	explain("ChatIDs of a user in 5000 chats", s.q.chatIDs, "heavy")
	explain("LastSeqs of 100 chats", s.q.lastSeqs, someChats(100))
	explain("GetChat", s.q.getChat, "c07777")

	// The statements of append_message, one by one, then the whole call, in
	// a transaction that is rolled back so that the data stay put.
	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	for _, step := range []struct {
		name, sql string
		args      []any
	}{
		{"lock", `SELECT FROM {schema}.chats WHERE id = $1 FOR NO KEY UPDATE`, []any{"hot"}},
		{"membership", `SELECT EXISTS (SELECT FROM {schema}.members WHERE chat_id = $1 AND user_id = $2)`, []any{"hot", "u00001"}},
		{"client id", `SELECT m.seq, m.text, m.metadata, m.created_at FROM {schema}.messages m
			WHERE m.chat_id = $1 AND m.sender = $2 AND m.client_id = $3 AND m.client_id <> ''`, []any{"hot", "u00001", "retry-1"}},
		{"seq", `UPDATE {schema}.chats SET last_seq = last_seq + 1, last_activity_at = $2 WHERE id = $1 RETURNING last_seq`, []any{"hot", testNow()}},
		{"insert", `INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, metadata, created_at)
			VALUES ($1, 200001, $2, 'hello', $3, NULL, $4)`, []any{"hot", "u00001", "retry-1", testNow()}},
		{"whole call", s.q.appendMessage, []any{"hot", "u00001", "retry-2", "hello", nil, testNow()}},
	} {
		var lines []string
		require.NoError(t, tx.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+s.q.fill(step.sql), step.args...), step.name)
		t.Logf("AppendMessage, %s:\n%s\n", step.name, strings.Join(lines, "\n"))
	}
	require.NoError(t, tx.Rollback())

	// How many of the chat row updates that sends make are HOT.
	var before hotStats
	require.NoError(t, db.GetContext(ctx, &before, hotStatsQuery(cfg.Schema)))
	const sends = 2000
	for i := range sends {
		chatID := fmt.Sprintf("c%05d", 1+4*(i%50)) // Chats that heavy is a member of.
		_, _, err := s.AppendMessage(ctx, chat.Message{ChatID: chatID, Sender: "heavy", Text: "hi", CreatedAt: testNow()})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		var after hotStats
		require.NoError(t, db.GetContext(ctx, &after, hotStatsQuery(cfg.Schema)))
		if after.Updates-before.Updates < sends {
			return false // Backends report their statistics a little later.
		}
		t.Logf("chats row updates during %d sends: %d, of which HOT: %d", sends, after.Updates-before.Updates, after.HOT-before.HOT)
		return true
	}, 30*time.Second, 100*time.Millisecond)
}

type hotStats struct {
	Updates int64 `db:"n_tup_upd"`
	HOT     int64 `db:"n_tup_hot_upd"`
}

func hotStatsQuery(schema string) string {
	return `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = '` + schema + `' AND relname = 'chats'`
}

// someChats returns the ids of n of the chats fillForExplain creates.
func someChats(n int) any {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", 1+i*97)
	}
	return pq.Array(ids)
}

// fillForExplain creates 20,000 chats of 5 members among 10,000 users, a
// user "heavy" in 5,000 of them, a chat "hot" with 200,000 messages and 40
// messages in each other chat: a million messages in all.
func fillForExplain(t *testing.T, ctx context.Context, db *sqlx.DB, s *Store) {
	t.Helper()
	for _, stmt := range []string{
		`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, last_activity_at)
		SELECT format('c%s', lpad(i::text, 5, '0')), 'group', 'chat ' || i, 'u00001', '2024-01-01Z', 40,
			'2024-01-01Z'::timestamptz + make_interval(secs => (i * 7919) % 86400)
		FROM generate_series(1, 20000) i`,
		`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, last_activity_at)
		VALUES ('hot', 'group', 'hot', 'u00001', '2024-01-01Z', 200000, '2024-01-02Z')`,
		`INSERT INTO {schema}.members (chat_id, user_id)
		SELECT DISTINCT format('c%s', lpad(i::text, 5, '0')), format('u%s', lpad((1 + (i * 31 + k * 2003) % 10000)::text, 5, '0'))
		FROM generate_series(1, 20000) i, generate_series(0, 4) k`,
		`INSERT INTO {schema}.members (chat_id, user_id)
		SELECT format('c%s', lpad(i::text, 5, '0')), 'heavy' FROM generate_series(1, 20000, 4) i`,
		`INSERT INTO {schema}.members (chat_id, user_id)
		SELECT 'hot', format('u%s', lpad(i::text, 5, '0')) FROM generate_series(1, 100) i`,
		`INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, created_at)
		SELECT 'hot', i, format('u%s', lpad((1 + i % 100)::text, 5, '0')), 'message number ' || i,
			CASE WHEN i % 2 = 0 THEN 'client-' || i ELSE '' END, '2024-01-01Z'::timestamptz + make_interval(secs => i / 10.0)
		FROM generate_series(1, 200000) i`,
		`INSERT INTO {schema}.messages (chat_id, seq, sender, text, client_id, created_at)
		SELECT format('c%s', lpad(c::text, 5, '0')), i, 'u00001', 'message number ' || i, 'client-' || i,
			'2024-01-01Z'::timestamptz + make_interval(secs => i)
		FROM generate_series(1, 20000) c, generate_series(1, 40) i`,
		`VACUUM ANALYZE {schema}.chats`,
		`VACUUM ANALYZE {schema}.members`,
		`VACUUM ANALYZE {schema}.messages`,
	} {
		_, err := db.ExecContext(ctx, s.q.fill(stmt))
		require.NoError(t, err, stmt)
	}
}
