package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// migrationStall is what measureMigrationStall saw.
type migrationStall struct {
	took    time.Duration // the migration, lock wait included
	longest time.Duration // the longest single read that overlapped it
	reads   int           // reads that overlapped it
}

// measureMigrationStall applies ms to schema of db, which is already at
// the versions before them, while a reader calls read over and over on a
// pool of its own, and reports the longest read that overlapped the
// migration: how long the migration stopped the service. The reader starts
// before the migration and finishes the read in flight when it ends; a
// read that fails fails the test.
func measureMigrationStall(t testing.TB, db, readerDB *sqlx.DB, schema string, ms []migration, read func(context.Context, *sqlx.DB) error) migrationStall {
	t.Helper()
	ctx := t.Context()
	started := make(chan struct{})
	stop := make(chan struct{})
	var stall migrationStall
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for first := true; ; first = false {
			begin := time.Now()
			if err := read(ctx, readerDB); err != nil {
				readErr = err
				if first {
					close(started)
				}
				return
			}
			if first {
				close(started) // The reader's connection is open and warm.
				continue
			}
			stall.longest = max(stall.longest, time.Since(begin))
			stall.reads++
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	<-started
	begin := time.Now()
	err := migrate(ctx, db, schema, ms)
	stall.took = time.Since(begin)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.NoError(t, readErr, "a read during the migration")
	return stall
}

// TestMigrationStallOnALargeMessagesTable measures, with
// measureMigrationStall, what two ways of adding a numbered column to
// messages cost the readers (a page of a random chat's messages and the
// last seqs that a resume reads): the way the squashed pre-release
// migration 003 did it, in one transaction, and the way the migration
// policy in docs/postgres.md prescribes. It logs the figures; they are not
// asserted, since the machine's load decides them. CHAT_PG_STALL_MESSAGES
// sets the table's size (default 100,000; docs/postgres.md quotes
// 1,000,000).
func TestMigrationStallOnALargeMessagesTable(t *testing.T) {
	total := 100000
	if n, err := strconv.Atoi(os.Getenv("CHAT_PG_STALL_MESSAGES")); err == nil && n > 0 {
		total = n
	}
	const chats = 1000
	db := openTestDB(t, 2)
	readerDB := openTestDB(t, 1)
	ctx := t.Context()
	cfg := newTestSchema(t, db)
	s, err := New(db, cfg)
	require.NoError(t, err)
	ids := benchChats(t, db, s, chats, 5)
	perChat := total / chats
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal)
		SELECT 'c' || i, j, 'u' || (j %% 5), 'message number ' || j, now(), j, (j + 4) / 5
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
		if _, err := readerStore.ListMessages(ctx, ids[rand.IntN(len(ids))], chat.MessageQuery{Limit: 50}); err != nil {
			return err
		}
		_, err := readerStore.LastSeqs(ctx, ids[:20])
		return err
	}
	embedded, err := loadMigrations()
	require.NoError(t, err)
	next := embedded[len(embedded)-1].version + 1

	// As pre-release migration 003 did: add the column, number every row
	// and build the index in one transaction, holding ACCESS EXCLUSIVE on
	// messages until it commits.
	oneTx := append(embedded, migration{version: next, name: "number_in_one_transaction", sql: `
		ALTER TABLE messages ADD COLUMN stall_a bigint NOT NULL DEFAULT 0;
		UPDATE messages SET stall_a = seq;
		CREATE INDEX messages_stall_a_idx ON messages (chat_id, stall_a);`})
	stall := measureMigrationStall(t, db, readerDB, cfg.Schema, oneTx, read)
	t.Logf("%d messages, in one transaction: migration took %s, longest read %s (%d reads during it)",
		total, stall.took.Round(time.Millisecond), stall.longest.Round(time.Millisecond), stall.reads)

	// By the policy: a nullable column without default (a catalog change,
	// under a short lock_timeout), a backfill in batches that commit one by
	// one, and the index built concurrently, both outside a transaction.
	byPolicy := append(oneTx,
		migration{version: next + 1, name: "add_column", sql: `
			SET LOCAL lock_timeout = '2s';
			ALTER TABLE messages ADD COLUMN stall_b bigint;`},
		migration{version: next + 2, name: "backfill_in_batches", noTx: true, sql: `
			DO $$
			DECLARE
				v_chat text := '';
				v_seq  bigint := 0;
				r      record;
			BEGIN
				LOOP
					-- The last key of the next batch of 5,000, in primary key order.
					SELECT k.chat_id, k.seq INTO r FROM (
						SELECT chat_id, seq FROM messages
						WHERE (chat_id, seq) > (v_chat, v_seq)
						ORDER BY chat_id, seq LIMIT 5000
					) k ORDER BY k.chat_id DESC, k.seq DESC LIMIT 1;
					EXIT WHEN NOT FOUND;
					UPDATE messages SET stall_b = seq
					WHERE (chat_id, seq) > (v_chat, v_seq) AND (chat_id, seq) <= (r.chat_id, r.seq)
					  AND stall_b IS NULL;
					v_chat := r.chat_id;
					v_seq := r.seq;
					COMMIT;
				END LOOP;
			END
			$$;`},
		migration{version: next + 3, name: "index_concurrently", noTx: true, sql: `
			-- A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind.
			DROP INDEX CONCURRENTLY IF EXISTS messages_stall_b_idx;
			CREATE INDEX CONCURRENTLY messages_stall_b_idx ON messages (chat_id, stall_b);`},
	)
	stall = measureMigrationStall(t, db, readerDB, cfg.Schema, byPolicy, read)
	t.Logf("%d messages, by the migration policy: migration took %s, longest read %s (%d reads during it)",
		total, stall.took.Round(time.Millisecond), stall.longest.Round(time.Millisecond), stall.reads)

	var unnumbered int
	require.NoError(t, db.GetContext(ctx, &unnumbered, s.q.fill(`SELECT count(*) FROM {schema}.messages WHERE stall_b IS DISTINCT FROM seq`)))
	require.Zero(t, unnumbered, "the batched backfill numbered every message")
	var valid []bool
	require.NoError(t, db.SelectContext(ctx, &valid, `
		SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])`, cfg.Schema, pq.Array([]string{"messages_stall_a_idx", "messages_stall_b_idx"})))
	require.Equal(t, []bool{true, true}, valid)
	var versions []int64
	require.NoError(t, db.SelectContext(ctx, &versions, s.q.fill(`SELECT version FROM {schema}.schema_migrations ORDER BY version`)))
	require.Equal(t, append(embeddedVersions(t), next, next+1, next+2, next+3), versions)
}
