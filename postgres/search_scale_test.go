package postgres

import (
	"context"
	"database/sql"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// TestSearchAtScale shows the plans and timings of message search for a
// user in 1,000 chats (u0), over CHAT_PG_SEARCH_MESSAGES messages spread
// evenly over 2,000 chats (the user's and as many of others'), and for a
// user in 10 of them (u3), generated with
// generate_series. It is skipped unless that variable is set: loading
// millions of rows is no CI job. docs/postgres.md ("Search") has the
// figures and the command.
//
// Each message has 8 words drawn from w0 ... w9999 with a skewed
// distribution (w0 is in about 31% of the messages, w9999 in about 0.03%),
// and every 100,000th message also has the word "needle". With
// CHAT_PG_SEARCH_SCHEMA set, the data is kept in that schema and reused by
// the next run.
func TestSearchAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CHAT_PG_SEARCH_MESSAGES"))
	if n <= 0 {
		t.Skip("set CHAT_PG_SEARCH_MESSAGES (e.g. 1000000) to measure search over that many messages")
	}
	db := openTestDB(t, 2)
	ctx := context.Background()
	cfg := Config{Schema: os.Getenv("CHAT_PG_SEARCH_SCHEMA")}
	if cfg.Schema == "" {
		cfg.Schema = randomSchema(t)
		dropSchemaOnCleanup(t, db, cfg.Schema)
	}
	require.NoError(t, Migrate(ctx, db, cfg))
	s, err := New(db, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	logLoad(t)

	const chats, userChats = 2000, 1000
	var have int
	require.NoError(t, db.GetContext(ctx, &have, `SELECT count(*) FROM `+cfg.Schema+`.messages`))
	if have != n {
		require.Zero(t, have, "schema %s holds %d messages, not %d: drop it or pick another", cfg.Schema, have, n)
		loadSearchData(t, db.DB, cfg.Schema, n, chats, userChats)
	}

	var sizes struct {
		Table string `db:"table_size"`
		Index string `db:"index_size"`
	}
	require.NoError(t, db.GetContext(ctx, &sizes, `SELECT
		pg_size_pretty(pg_table_size('`+cfg.Schema+`.messages')) AS table_size,
		pg_size_pretty(pg_relation_size('`+cfg.Schema+`.messages_search_idx')) AS index_size`))
	t.Logf("messages: %d in %d chats, table %s, messages_search_idx %s", n, chats, sizes.Table, sizes.Index)

	newest := searchEpoch.Add(time.Duration(n) * time.Second)
	for _, tc := range []struct {
		name string
		q    chat.MessageSearch
	}{
		{"rare word (needle)", chat.MessageSearch{Terms: []string{"needle"}}},
		{"uncommon word (w9999)", chat.MessageSearch{Terms: []string{"w9999"}}},
		{"common word (w0)", chat.MessageSearch{Terms: []string{"w0"}}},
		{"common prefix (w1: w1, w10..w19, w100..)", chat.MessageSearch{Terms: []string{"w1"}}},
		{"two words, rare together (w0 w9999)", chat.MessageSearch{Terms: []string{"w0", "w9999"}}},
		{"common word, second page", chat.MessageSearch{Terms: []string{"w0"}, After: &chat.SearchPosition{CreatedAt: newest.Add(-time.Hour), ChatID: "c0000", Seq: 1}}},
		{"common word, one chat", chat.MessageSearch{Terms: []string{"w0"}, ChatID: "c0002"}},
		{"no match (zzz)", chat.MessageSearch{Terms: []string{"zzz"}}},
		{"user in 10 chats: common word (w0)", chat.MessageSearch{Terms: []string{"w0"}}},
		{"user in 10 chats: uncommon word (w9999)", chat.MessageSearch{Terms: []string{"w9999"}}},
	} {
		tc.q.Limit = 51
		user := "u0"
		if strings.HasPrefix(tc.name, "user in 10 chats") {
			user = "u3"
		}
		query, args := s.searchStatement(user, tc.q)
		var plan []string
		require.NoError(t, db.SelectContext(ctx, &plan, `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) `+query, args...))
		var times []time.Duration
		var hits int
		for range 5 {
			start := time.Now()
			ms, err := s.SearchMessages(ctx, user, tc.q)
			times = append(times, time.Since(start))
			require.NoError(t, err)
			hits = len(ms)
		}
		slices.Sort(times)
		t.Logf("%s: %d hits, median %v (min %v, max %v) of 5\n%s", tc.name, hits, times[2], times[0], times[4], strings.Join(plan, "\n"))
	}
	logLoad(t)
}

func logLoad(t *testing.T) {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average: %s", strings.TrimSpace(string(b)))
	}
}

// loadSearchData fills schema with n messages over chats chats, user u0
// being in the even ones and u1 in the odd ones, u2 in all and the sender
// of every message, one message a second; u3 is in 10 chats, 0.5% of the
// messages. It builds messages_search_idx
// after the load, as CREATE INDEX CONCURRENTLY would on a filled table, and
// logs how long each step took.
func loadSearchData(t *testing.T, db *sql.DB, schema string, n, chats, userChats int) {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	step := func(what, sql string, args ...any) {
		start := time.Now()
		_, err := conn.ExecContext(ctx, sql, args...)
		require.NoError(t, err, what)
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
	}
	require.Equal(t, chats, 2*userChats, "u0 is in every other chat")
	step("set search_path", `SET search_path TO `+schema)
	step("drop the search indexes for the load", `DROP INDEX messages_search_idx, messages_created_at_idx`)
	step("insert chats", `INSERT INTO chats (id, kind, title, created_by, created_at, last_activity_at)
		SELECT 'c' || lpad(i::text, 4, '0'), 'group', '', 'u2', $1, $1 FROM generate_series(0, $2 - 1) i`,
		searchEpoch, chats)
	step("insert members", `INSERT INTO members (chat_id, user_id)
		SELECT 'c' || lpad(i::text, 4, '0'), u FROM generate_series(0, $1 - 1) i,
			LATERAL (VALUES (CASE WHEN i % 2 = 0 THEN 'u0' ELSE 'u1' END), ('u2')) AS m(u)
		UNION ALL
		SELECT 'c' || lpad(i::text, 4, '0'), 'u3' FROM generate_series(0, 9) i`, chats)
	word := `'w' || floor(random() ^ 3 * 10000)::int`
	text := strings.Repeat(word+` || ' ' || `, 7) + word + ` || CASE WHEN i % 100000 = 0 THEN ' needle' ELSE '' END`
	const batch = 1_000_000
	for from := 0; from < n; from += batch {
		to := min(from+batch, n) - 1
		step("insert messages "+strconv.Itoa(from)+".."+strconv.Itoa(to), `INSERT INTO messages
			(chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
			SELECT 'c' || lpad((i % $3)::text, 4, '0'), i / $3 + 1, 'u2', `+text+`,
				$4::timestamptz + i * interval '1 second', i / $3 + 1, i / $3 + 1
			FROM generate_series($1::bigint, $2::bigint) i`, from, to, chats, searchEpoch)
	}
	step("set last seqs", `UPDATE chats c SET last_seq = m.n, message_count = m.n, last_activity_at = m.at
		FROM (SELECT chat_id, max(seq) AS n, max(created_at) AS at FROM messages GROUP BY chat_id) m
		WHERE c.id = m.chat_id`)
	step("set maintenance_work_mem", `SET maintenance_work_mem = '256MB'`)
	step("build messages_search_idx", `CREATE INDEX messages_search_idx ON messages USING gin (to_tsvector('simple'::regconfig, text))`)
	step("build messages_created_at_idx", `CREATE INDEX messages_created_at_idx ON messages (created_at, chat_id, seq)`)
	step("analyze", `ANALYZE chats, members, messages`)
	step("reset search_path", `RESET search_path`)
}

// searchEpoch is the time of the first generated message.
var searchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
