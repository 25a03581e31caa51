package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTestDB opens a pool of at most maxConns connections to the test
// server and closes it when the test ends. params are added to the URL's
// query, such as application_name.
func openTestDB(t testing.TB, maxConns int, params ...string) *sqlx.DB {
	t.Helper()
	dsn := testenv.PostgresURL(t)
	for i := 0; i+1 < len(params); i += 2 {
		dsn = withParam(t, dsn, params[i], params[i+1])
	}
	return openDB(t, dsn, maxConns)
}

func openDB(t testing.TB, dsn string, maxConns int) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// randomSchema returns a schema name no other test uses.
func randomSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "chattest_" + hex.EncodeToString(b)
}

// dropSchemaOnCleanup drops schema, and everything in it, when t ends.
func dropSchemaOnCleanup(t testing.TB, db *sqlx.DB, schema string) {
	t.Helper()
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		require.NoError(t, err, "drop test schema %s", schema)
	})
}

// newTestSchema migrates a fresh schema that is dropped when t ends.
func newTestSchema(t testing.TB, db *sqlx.DB) Config {
	t.Helper()
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, db, cfg.Schema)
	require.NoError(t, Migrate(t.Context(), db, cfg))
	return cfg
}

// newTestStore returns a Store in a fresh schema of db.
func newTestStore(t testing.TB, db *sqlx.DB) *Store {
	t.Helper()
	s, err := New(db, newTestSchema(t, db))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// withParam returns dsn with the query parameter set.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
