package postgres

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func TestMigrateConcurrentlyFromSeveralPools(t *testing.T) {
	const pools, perPool = 4, 2
	dbs := make([]*sqlx.DB, pools)
	for i := range dbs {
		dbs[i] = openTestDB(t, perPool)
	}
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, dbs[0], cfg.Schema)

	errs := make(chan error, pools*perPool)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, db := range dbs {
		for range perPool {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- Migrate(t.Context(), db, cfg)
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireVersions(t, dbs[0], cfg.Schema)

	require.NoError(t, Migrate(t.Context(), dbs[1], cfg), "Migrate on an up-to-date schema")
	requireVersions(t, dbs[0], cfg.Schema)
}

// embeddedVersions returns the versions of the embedded migrations.
func embeddedVersions(t testing.TB) []int64 {
	t.Helper()
	ms, err := loadMigrations()
	require.NoError(t, err)
	versions := make([]int64, len(ms))
	for i, m := range ms {
		versions[i] = m.version
	}
	return versions
}

// requireVersions checks that schema_migrations records every embedded
// migration exactly once.
func requireVersions(t *testing.T, db *sqlx.DB, schema string) {
	t.Helper()
	var got []int64
	require.NoError(t, db.SelectContext(t.Context(), &got, `SELECT version FROM `+schema+`.schema_migrations ORDER BY version`))
	require.Equal(t, embeddedVersions(t), got)
}

func TestMigrationsAreNumbered(t *testing.T) {
	names, err := fs.Glob(Migrations(), "*")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Len(t, ms, len(names), "every file is a migration")
	// Numbers are handed out to changes before they land, so one may be
	// missing for a while; Migrate applies whichever are not recorded.
	require.Equal(t, int64(1), ms[0].version, "versions start at 1")
	for i := 1; i < len(ms); i++ {
		require.Greater(t, ms[i].version, ms[i-1].version, "versions are unique")
	}
}

// A host that applies Migrations() with its own tool, as Migrations
// describes, gets tables in its schema, and only there, that the Store
// works with.
func TestMigrationsAppliedByHand(t *testing.T) {
	db := openTestDB(t, 1)
	schema := randomSchema(t)
	dropSchemaOnCleanup(t, db, schema)
	names, err := fs.Glob(Migrations(), "*.up.sql")
	require.NoError(t, err)
	for _, name := range names {
		sql, err := fs.ReadFile(Migrations(), name)
		require.NoError(t, err)
		if strings.HasSuffix(name, ".notx.up.sql") {
			applyNoTxByHand(t, db, schema, name, string(sql))
			continue
		}
		tx, err := db.BeginTxx(t.Context(), nil)
		require.NoError(t, err)
		for _, stmt := range []string{`CREATE SCHEMA IF NOT EXISTS ` + schema, `SET LOCAL search_path TO ` + schema, string(sql)} {
			_, err := tx.ExecContext(t.Context(), stmt)
			require.NoError(t, err, name)
		}
		require.NoError(t, tx.Commit())
	}
	var tables []string
	require.NoError(t, db.SelectContext(t.Context(), &tables,
		`SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema IN ($1, 'public') AND table_name IN ('chats', 'members', 'messages')
		ORDER BY table_name`, schema))
	require.Equal(t, []string{schema + ".chats", schema + ".members", schema + ".messages"}, tables)

	s, err := New(db, Config{Schema: schema})
	require.NoError(t, err)
	_, _, err = s.CreateChat(t.Context(), testGroup("g", testNow(), "alice"), "")
	require.NoError(t, err)
	m, created, err := s.AppendMessage(t.Context(), chat.Message{ChatID: "g", Sender: "alice", Text: "hi", CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, int64(1), m.Seq)
}

// applyNoTxByHand runs a .notx migration as Migrations says: its
// statements one at a time in autocommit, on a session whose search_path
// is the schema.
func applyNoTxByHand(t *testing.T, db *sqlx.DB, schema, name, sql string) {
	t.Helper()
	conn, err := db.Connx(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), `SET search_path TO `+schema)
	require.NoError(t, err, name)
	defer func() {
		_, err := conn.ExecContext(context.Background(), `RESET search_path`)
		require.NoError(t, err, name)
	}()
	stmts, err := splitStatements(sql)
	require.NoError(t, err, name)
	for _, stmt := range stmts {
		_, err := conn.ExecContext(t.Context(), stmt)
		require.NoError(t, err, name)
	}
}

func TestConfigSchemaMustBePlainIdentifier(t *testing.T) {
	db, err := sqlx.Open("postgres", "postgres://127.0.0.1:1/unused") // New and the check in Migrate do not connect.
	require.NoError(t, err)
	defer db.Close()
	for _, bad := range []string{"Chat", "1chat", "chat-x", `chat"; DROP TABLE x; --`, "a.b", " chat", string(make([]byte, 64))} {
		_, err := New(db, Config{Schema: bad})
		require.Error(t, err, "New with schema %q", bad)
		require.Error(t, Migrate(t.Context(), db, Config{Schema: bad}), "Migrate with schema %q", bad)
	}
	for _, good := range []string{"", "chat", "_chat", "chat_2", "app_chat_v1"} {
		_, err := New(db, Config{Schema: good})
		require.NoError(t, err, "New with schema %q", good)
	}
	_, err = New(nil, Config{})
	require.Error(t, err, "New with a nil db")
	_, err = New(sqlx.NewDb(nil, "postgres"), Config{})
	require.Error(t, err, "New with a nil *sql.DB")
}

// A schema that a development build migrated with the numbered migrations
// that were squashed into 001_initial_schema (version 1 was create_tables)
// is refused with a clear error, not half-upgraded: the initial schema
// would otherwise be taken as applied.
func TestMigrateRefusesAPrereleaseSchema(t *testing.T) {
	db := openTestDB(t, 1)
	ctx := t.Context()
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, db, cfg.Schema)
	for _, stmt := range []string{
		`CREATE SCHEMA ` + cfg.Schema,
		`CREATE TABLE ` + cfg.Schema + `.schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ` + cfg.Schema + `.schema_migrations (version, name) VALUES (1, 'create_tables'), (2, 'append_message')`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	err := Migrate(ctx, db, cfg)
	require.ErrorIs(t, err, ErrPrereleaseSchema)
	require.Contains(t, err.Error(), "DROP SCHEMA")
	var tables int
	require.NoError(t, db.GetContext(ctx, &tables, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, cfg.Schema))
	require.Equal(t, 1, tables, "nothing but schema_migrations was created")

	// Versions above the embedded ones come from a newer release and are
	// not an error: servers of this release keep starting during its deploy.
	other := newTestSchema(t, db)
	_, err = db.ExecContext(ctx, `INSERT INTO `+other.Schema+`.schema_migrations (version, name) VALUES (1000, 'from_the_future')`)
	require.NoError(t, err)
	require.NoError(t, Migrate(ctx, db, other))
}

// Several processes migrating at once, with a migration that builds an
// index CONCURRENTLY outside a transaction: the ones that wait for the
// lock must not hold a snapshot that the index build waits for, or the
// two would deadlock.
func TestMigrateNonTransactionalConcurrentlyFromSeveralPools(t *testing.T) {
	const pools, perPool = 3, 2
	dbs := make([]*sqlx.DB, pools)
	for i := range dbs {
		dbs[i] = openTestDB(t, perPool)
	}
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, dbs[0], cfg.Schema)
	ms, err := loadMigrations()
	require.NoError(t, err)
	next := ms[len(ms)-1].version + 1
	ms = append(ms,
		migration{version: next, name: "index_concurrently", noTx: true, sql: `
			DROP INDEX CONCURRENTLY IF EXISTS messages_created_at_idx;
			CREATE INDEX CONCURRENTLY messages_created_at_idx ON messages (created_at);`},
		migration{version: next + 1, name: "after_it", sql: `COMMENT ON INDEX messages_created_at_idx IS 'built concurrently'`},
	)

	errs := make(chan error, pools*perPool)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, db := range dbs {
		for range perPool {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- migrate(t.Context(), db, cfg.Schema, ms)
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var versions []int64
	require.NoError(t, dbs[0].SelectContext(t.Context(), &versions, `SELECT version FROM `+cfg.Schema+`.schema_migrations ORDER BY version`))
	require.Equal(t, append(embeddedVersions(t), next, next+1), versions)
	var valid bool
	require.NoError(t, dbs[0].GetContext(t.Context(), &valid, `SELECT indisvalid FROM pg_index WHERE indexrelid = $1::regclass`, cfg.Schema+".messages_created_at_idx"))
	require.True(t, valid)

	// Migrate leaves no session state behind on the pooled connections.
	for _, db := range dbs {
		var searchPath string
		require.NoError(t, db.GetContext(t.Context(), &searchPath, `SHOW search_path`))
		require.Equal(t, `"$user", public`, searchPath)
	}
}

// A failed non-transactional migration is not recorded, and the next
// Migrate runs it again from its first statement.
func TestMigrateNonTransactionalFailureIsRetried(t *testing.T) {
	db := openTestDB(t, 1)
	cfg := newTestSchema(t, db)
	ms, err := loadMigrations()
	require.NoError(t, err)
	next := ms[len(ms)-1].version + 1
	failing := migration{version: next, name: "index", noTx: true, sql: `
		DROP INDEX CONCURRENTLY IF EXISTS messages_text_idx;
		CREATE UNIQUE INDEX CONCURRENTLY messages_text_idx ON messages (text);`}
	_, err = db.ExecContext(t.Context(), `INSERT INTO `+cfg.Schema+`.chats (id, kind, title, created_by, created_at, last_activity_at) VALUES ('c', 'group', '', 'u', now(), now());
		INSERT INTO `+cfg.Schema+`.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal) VALUES ('c', 1, 'u', 'same', now(), 1, 1), ('c', 2, 'u', 'same', now(), 2, 2)`)
	require.NoError(t, err)
	err = migrate(t.Context(), db, cfg.Schema, append(ms, failing))
	require.ErrorContains(t, err, "statement 2 of 2")
	var versions []int64
	require.NoError(t, db.SelectContext(t.Context(), &versions, `SELECT version FROM `+cfg.Schema+`.schema_migrations ORDER BY version`))
	require.Equal(t, embeddedVersions(t), versions)

	_, err = db.ExecContext(t.Context(), `UPDATE `+cfg.Schema+`.messages SET text = 'other' WHERE seq = 2`)
	require.NoError(t, err)
	require.NoError(t, migrate(t.Context(), db, cfg.Schema, append(ms, failing)), "the invalid index of the failed run is dropped and built again")
	var valid bool
	require.NoError(t, db.GetContext(t.Context(), &valid, `SELECT indisvalid FROM pg_index WHERE indexrelid = $1::regclass`, cfg.Schema+".messages_text_idx"))
	require.True(t, valid)
}

func TestSplitStatements(t *testing.T) {
	stmts, err := splitStatements(`
		-- a comment; with a semicolon
		SET lock_timeout = '1s';
		/* block; comment */ CREATE INDEX CONCURRENTLY i ON t (";x");
		DO $body$ BEGIN PERFORM 'a;b'; COMMIT; END $body$;
		DO $$ BEGIN RAISE NOTICE 'it''s; fine'; END $$;
		SELECT $1::int;
		-- only a comment after the last statement
	`)
	require.NoError(t, err)
	require.Equal(t, []string{
		`-- a comment; with a semicolon
		SET lock_timeout = '1s'`,
		`/* block; comment */ CREATE INDEX CONCURRENTLY i ON t (";x")`,
		`DO $body$ BEGIN PERFORM 'a;b'; COMMIT; END $body$`,
		`DO $$ BEGIN RAISE NOTICE 'it''s; fine'; END $$`,
		`SELECT $1::int`,
	}, stmts)
	for _, bad := range []string{`SELECT 'x`, `DO $$ BEGIN`, `/* x`} {
		_, err := splitStatements(bad)
		require.Error(t, err, bad)
	}
}
