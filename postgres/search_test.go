package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/searchtest"
)

func TestSearch(t *testing.T) {
	db := openTestDB(t, 4)
	searchtest.Run(t, func(t *testing.T) chat.Store {
		return newTestStore(t, db)
	})
}

// TestMigrationStallOfSearchIndexes measures, with measureMigrationStall,
// what migration 005 costs readers while it builds the search indexes on a
// filled messages table: CONCURRENTLY, it blocks neither them nor sends.
// It runs only when CHAT_PG_STALL_MESSAGES sets the table's size: a
// concurrent build waits for every transaction of the database that holds
// a snapshot, so on a shared server it takes as long as the longest
// transaction anyone runs meanwhile.
func TestMigrationStallOfSearchIndexes(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("CHAT_PG_STALL_MESSAGES"))
	if total <= 0 {
		t.Skip("set CHAT_PG_STALL_MESSAGES (e.g. 100000) to measure migration 005 on a filled table")
	}
	const chats, searchVersion = 1000, 5
	db := openTestDB(t, 2)
	readerDB := openTestDB(t, 1)
	ctx := t.Context()
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, db, cfg.Schema)
	embedded, err := loadMigrations()
	require.NoError(t, err)
	before := slices.DeleteFunc(slices.Clone(embedded), func(m migration) bool { return m.version >= searchVersion })
	through := slices.DeleteFunc(slices.Clone(embedded), func(m migration) bool { return m.version > searchVersion })
	require.Equal(t, len(before)+1, len(through), "migration %d is the search indexes", searchVersion)
	require.NoError(t, migrate(ctx, db, cfg.Schema, before))

	s, err := New(db, cfg)
	require.NoError(t, err)
	ids := benchChats(t, db, s, chats, 5)
	perChat := total / chats
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
		SELECT 'c' || i, j, 'u' || (j %% 5), 'message number ' || j || ' of chat ' || i, now(), j, (j + 4) / 5
		FROM generate_series(0, %d) i, generate_series(1, %d) j`, chats-1, perChat),
		fmt.Sprintf(`UPDATE {schema}.chats SET last_seq = %[1]d, message_count = %[1]d`, perChat),
		`VACUUM ANALYZE {schema}.messages`,
	} {
		_, err := db.ExecContext(ctx, s.q.fill(stmt))
		require.NoError(t, err)
	}
	readerStore, err := New(readerDB, cfg)
	require.NoError(t, err)
	read := func(ctx context.Context, _ *sqlx.DB) error {
		id := ids[rand.IntN(len(ids))]
		if _, _, err := readerStore.AppendMessage(ctx, chat.Message{ChatID: id, Sender: "u0", Text: "during the migration", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
			return err
		}
		_, err := readerStore.ListMessages(ctx, id, chat.MessageQuery{Limit: 50})
		return err
	}
	stall := measureMigrationStall(t, db, readerDB, cfg.Schema, through, read)
	t.Logf("%d messages, migration %d: took %s, longest send and read %s (%d during it)",
		total, searchVersion, stall.took.Round(time.Millisecond), stall.longest.Round(time.Millisecond), stall.reads)

	hits, err := s.SearchMessages(ctx, "u0", chat.MessageSearch{Terms: []string{"migration"}, Limit: 10})
	require.NoError(t, err)
	require.Len(t, hits, min(stall.reads+1, 10), "the messages sent during the build are in the index")
}

func TestConfigSearchConfigMustBeAName(t *testing.T) {
	db, err := sqlx.Open("postgres", "postgres://127.0.0.1:1/unused") // New does not connect.
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, name := range []string{"", "simple", "english", "pg_catalog.english", "my_schema.my_config2"} {
		s, err := New(db, Config{SearchConfig: name})
		require.NoError(t, err, "%q", name)
		require.NoError(t, s.Close())
	}
	for _, name := range []string{"English", "english;drop table x", "a.b.c", "'simple'", "1simple", ".simple"} {
		_, err := New(db, Config{SearchConfig: name})
		require.Error(t, err, "%q", name)
	}
}

func TestSearchStatementInlinesTheConfiguration(t *testing.T) {
	db, err := sqlx.Open("postgres", "postgres://127.0.0.1:1/unused")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s, err := New(db, Config{SearchConfig: "english"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	query, args := s.searchStatement("u", chat.MessageSearch{Terms: []string{"lun", "fri"}, ChatID: "c", Limit: 5,
		After: &chat.SearchPosition{CreatedAt: time.Unix(1, 0), ChatID: "c", Seq: 3}})
	require.Contains(t, query, `to_tsvector('english'::regconfig, m.text) @@ to_tsquery('english'::regconfig, $2)`)
	require.Contains(t, query, "mb.chat_id = $4")
	require.Contains(t, query, "< ($5, $6, $7)")
	require.Equal(t, []any{"u", "'lun':* & 'fri':*", 5, "c", time.Unix(1, 0), "c", int64(3)}, args)
}
