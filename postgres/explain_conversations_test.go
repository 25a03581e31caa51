package postgres

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// seqRange returns first, first+1, ..., last.
func seqRange(first, last int64) []int64 {
	seqs := make([]int64, 0, last-first+1)
	for s := first; s <= last; s++ {
		seqs = append(seqs, s)
	}
	return seqs
}

// TestExplainReactionsRepliesMentions fills a throwaway schema with a chat
// of a million messages carrying reactions, replies and mentions, and logs
// the plans of the queries that read and write them, for docs/postgres.md.
// It only runs when CHAT_PG_EXPLAIN=1:
//
//	CHAT_PG_EXPLAIN=1 go test -run TestExplainReactionsRepliesMentions -v ./postgres
func TestExplainReactionsRepliesMentions(t *testing.T) {
	if os.Getenv("CHAT_PG_EXPLAIN") != "1" {
		t.Skip("set CHAT_PG_EXPLAIN=1 to fill a schema with a million messages with reactions, replies and mentions and log the query plans")
	}
	db := openTestDB(t, 2)
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	ctx := t.Context()
	started := time.Now()
	// The chat "hot": 100 members, 1,000,000 messages, message i from user
	// 1 + i % 100, every 997th deleted. Every 50th message mentions u00002,
	// who has read up to their own marker; every 100th from 2,000 on
	// replies to message 1,000 (9,981 replies); message 500,000 has 6,000
	// reactions (5,000 👍 and 1,000 🎉) and every 100th message 3.
	for _, stmt := range []string{
		`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, message_count, last_activity_at)
		VALUES ('hot', 'group', 'hot', 'u00001', '2024-01-01Z', 1000000, 1000000, '2024-01-02Z')`,
		`INSERT INTO {schema}.members (chat_id, user_id, last_read_seq)
		SELECT 'hot', format('u%s', lpad(i::text, 5, '0')), CASE i WHEN 2 THEN 500000 WHEN 3 THEN 1000000 ELSE 0 END
		FROM generate_series(1, 100) i`,
		`INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, deleted, ordinal, sender_ordinal, reply_to, mentions)
		SELECT 'hot', i, format('u%s', lpad((1 + i % 100)::text, 5, '0')),
			CASE WHEN i % 997 = 0 THEN '' ELSE 'message number ' || i END,
			'2024-01-01Z'::timestamptz + make_interval(secs => i / 10.0), i % 997 = 0, i, (i + 99) / 100,
			CASE WHEN i >= 2000 AND i % 100 = 0 THEN 1000 END,
			CASE WHEN i % 50 = 0 THEN ARRAY['u00002'] END
		FROM generate_series(1, 1000000) i`,
		`INSERT INTO {schema}.mentions (chat_id, user_id, seq, ordinal)
		SELECT 'hot', 'u00002', i, i / 50 FROM generate_series(50, 1000000, 50) i WHERE 1 + i % 100 <> 2`,
		`INSERT INTO {schema}.replies (chat_id, parent_seq, seq)
		SELECT 'hot', 1000, i FROM generate_series(2000, 1000000, 100) i`,
		`INSERT INTO {schema}.threads (chat_id, parent_seq, reply_count, last_reply_seq, last_reply_at)
		SELECT 'hot', 1000, count(*), max(seq), '2024-01-02Z' FROM {schema}.replies WHERE chat_id = 'hot'`,
		`INSERT INTO {schema}.reactions (chat_id, message_seq, user_id, emoji)
		SELECT 'hot', 500000, format('x%s', i), '👍' FROM generate_series(1, 5000) i
		UNION ALL SELECT 'hot', 500000, format('x%s', i), '🎉' FROM generate_series(1, 1000) i
		UNION ALL SELECT 'hot', i, format('u%s', lpad(k::text, 5, '0')), '👍' FROM generate_series(100, 1000000, 100) i, generate_series(1, 3) k
		WHERE i % 997 <> 0 AND i <> 500000`,
		`INSERT INTO {schema}.reaction_counts (chat_id, message_seq, emoji, count, first_seq)
		SELECT chat_id, message_seq, emoji, count(*), CASE emoji WHEN '👍' THEN 1 ELSE 2 END
		FROM {schema}.reactions GROUP BY 1, 2, 3`,
		`VACUUM ANALYZE {schema}.chats`,
		`VACUUM ANALYZE {schema}.members`,
		`VACUUM ANALYZE {schema}.messages`,
		`VACUUM ANALYZE {schema}.mentions`,
		`VACUUM ANALYZE {schema}.replies`,
		`VACUUM ANALYZE {schema}.threads`,
		`VACUUM ANALYZE {schema}.reactions`,
		`VACUUM ANALYZE {schema}.reaction_counts`,
	} {
		_, err := db.ExecContext(ctx, s.q.fill(stmt))
		require.NoError(t, err, stmt)
	}
	t.Logf("filled in %s", time.Since(started).Round(time.Millisecond))
	logSizes(t, db, cfg.Schema)

	explain := func(name, query string, args ...any) {
		t.Helper()
		var lines []string
		require.NoError(t, db.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+query, args...), name)
		t.Logf("%s:\n%s\n", name, strings.Join(lines, "\n"))
	}
	explain("ListMessages 50 after seq 499990 (reactions, 6,000 on one message)", s.q.messagesAfter, "hot", int64(499990), 50)
	explain("ListMessages newest 50", s.q.messagesBefore, "hot", int64(1<<62), 50)
	explain("UserReactions of a page of 50", s.q.userReactions, "hot", "x17", pq.Array(seqRange(499975, 500024)))
	for _, marker := range []struct {
		user string
		seq  int64
	}{{"u00001", 0}, {"u00002", 500000}, {"u00003", 1000000}} {
		explain(fmt.Sprintf("UnreadMentions of %s, marker at %d", marker.user, marker.seq), s.q.unreadMentions, marker.user, pq.Array([]string{"hot"}))
	}
	explain("ListReplies, first 50 of a 9,981-reply thread", s.q.repliesAfter, "hot", int64(1000), int64(0), 50)
	explain("ListReplies, newest 50 of a 9,981-reply thread", s.q.repliesBefore, "hot", int64(1000), int64(1<<62), 50)

	// The counts are exact: compare them with counting.
	counts, err := s.UnreadMentions(ctx, "u00002", []string{"hot"})
	require.NoError(t, err)
	var want int64
	require.NoError(t, db.GetContext(ctx, &want, s.q.fill(`SELECT count(*) FROM {schema}.messages
		WHERE chat_id = 'hot' AND seq > 500000 AND sender <> 'u00002' AND NOT deleted AND 'u00002' = ANY (mentions)`)))
	require.Equal(t, map[string]int64{"hot": want}, counts)
	t.Logf("unread mentions of u00002 (marker 500000): %d", want)
	msgs, err := s.ListMessages(ctx, "hot", chat.MessageQuery{Forward: true, After: 499999, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, int64(5000), msgs[0].Reactions[0].Count)

	// The writes, in a transaction that is rolled back so that the data
	// stay put.
	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	for _, step := range []struct {
		name, sql string
		args      []any
	}{
		{"React, add to the message with 6,000 reactions", s.q.react, []any{"hot", int64(500000), "u00009", "👍", false, testNow(), int64(20)}},
		{"React, remove it again", s.q.react, []any{"hot", int64(500000), "u00009", "👍", true, testNow(), int64(20)}},
		{"send_message, a reply to the 9,981-reply thread mentioning u00002", s.q.sendMessage,
			[]any{"hot", "u00001", "", "hello", nil, testNow(), int64(1000), pq.Array([]string{"u00002"})}},
	} {
		var lines []string
		require.NoError(t, tx.SelectContext(ctx, &lines, "EXPLAIN (ANALYZE, BUFFERS) "+step.sql, step.args...), step.name)
		t.Logf("%s:\n%s\n", step.name, strings.Join(lines, "\n"))
	}
	for _, check := range []struct {
		sql  string
		want int64
	}{
		{`SELECT count FROM {schema}.reaction_counts WHERE chat_id = 'hot' AND message_seq = 500000 AND emoji = '👍'`, 5000},
		{`SELECT count(*) FROM {schema}.reaction_events WHERE chat_id = 'hot'`, 2},
		{`SELECT reply_count FROM {schema}.threads WHERE chat_id = 'hot' AND parent_seq = 1000`, 9982},
		{`SELECT last_seq FROM {schema}.chats WHERE id = 'hot'`, 1000003},
		{`SELECT ordinal FROM {schema}.mentions WHERE chat_id = 'hot' AND user_id = 'u00002' ORDER BY seq DESC LIMIT 1`, 20001},
	} {
		var got int64
		require.NoError(t, tx.GetContext(ctx, &got, s.q.fill(check.sql)), check.sql)
		require.Equal(t, check.want, got, "the calls whose plans were shown changed the chat: %s", check.sql)
	}
}
