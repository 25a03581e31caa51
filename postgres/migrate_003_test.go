package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"
)

// TestMigration003Stall applies migration 003 (reactions, replies,
// mentions) with measureMigrationStall to a schema at version 2 whose
// messages table is filled, while a reader of the previous release pages
// messages and reads last seqs, and logs how long the longest read took.
// CHAT_PG_STALL_MESSAGES sets the table's size (default 100,000).
func TestMigration003Stall(t *testing.T) {
	total := 100000
	if n, err := strconv.Atoi(os.Getenv("CHAT_PG_STALL_MESSAGES")); err == nil && n > 0 {
		total = n
	}
	const chats = 1000
	perChat := total / chats
	db := openTestDB(t, 2)
	readerDB := openTestDB(t, 1)
	ctx := t.Context()
	schema := randomSchema(t)
	dropSchemaOnCleanup(t, db, schema)
	embedded, err := loadMigrations()
	require.NoError(t, err)
	before := embedded[:0]
	for _, m := range embedded {
		if m.version < 3 {
			before = append(before, m)
		}
	}
	require.NoError(t, migrate(ctx, db, schema, before))
	q := newQueries(schema)
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_seq, message_count, last_activity_at)
		SELECT 'c' || i, 'group', '', 'u0', now(), %[1]d, %[1]d, now() FROM generate_series(0, %[2]d) i`, perChat, chats-1),
		fmt.Sprintf(`INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
		SELECT 'c' || i, j, 'u' || (j %% 5), 'message number ' || j, now(), j, (j + 4) / 5
		FROM generate_series(0, %d) i, generate_series(1, %d) j`, chats-1, perChat),
		`VACUUM ANALYZE {schema}.messages`,
	} {
		_, err := db.ExecContext(ctx, q.fill(stmt))
		require.NoError(t, err)
	}
	// The reads of a server of the previous release, which knows nothing
	// of the new columns.
	page := q.fill(`SELECT seq, sender, text FROM {schema}.messages WHERE chat_id = $1 ORDER BY seq DESC LIMIT 50`)
	lastSeqs := q.fill(lastSeqsSQL)
	read := func(ctx context.Context, db *sqlx.DB) error {
		var rows []struct {
			Seq    int64  `db:"seq"`
			Sender string `db:"sender"`
			Text   string `db:"text"`
		}
		if err := db.SelectContext(ctx, &rows, page, fmt.Sprintf("c%d", rand.IntN(chats))); err != nil {
			return err
		}
		var seqs []struct {
			ID      string `db:"id"`
			LastSeq int64  `db:"last_seq"`
		}
		return db.SelectContext(ctx, &seqs, lastSeqs, pq.Array([]string{"c1", "c2", "c3"}))
	}
	stall := measureMigrationStall(t, db, readerDB, schema, embedded, read)
	t.Logf("%d messages, migration 003: took %s, longest read %s (%d reads during it)",
		total, stall.took.Round(time.Millisecond), stall.longest.Round(time.Millisecond), stall.reads)
}
