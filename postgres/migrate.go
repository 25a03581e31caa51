package postgres

import (
	"cmp"
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed migrations/*.up.sql
var migrationFiles embed.FS

// Migrations returns the SQL that Migrate applies, one file per version
// named NNN_name.up.sql or NNN_name.notx.up.sql, for hosts that run
// migrations with their own tool. The files use unqualified table names:
// run each NNN_name.up.sql in a transaction after CREATE SCHEMA IF NOT
// EXISTS and SET LOCAL search_path TO the schema that Config.Schema names.
// A NNN_name.notx.up.sql file must run outside a transaction (it builds an
// index CONCURRENTLY, or backfills in batches that commit one by one):
// after SET search_path on the session, run its statements one at a time
// in autocommit. Each of its statements can be run again after a failure.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // The directory is embedded: it is there.
	}
	return sub
}

type migration struct {
	version int64
	name    string
	sql     string
	// noTx marks a migration that runs outside a transaction, one
	// statement at a time, such as CREATE INDEX CONCURRENTLY.
	noTx bool
}

var migrationName = regexp.MustCompile(`^(\d{3,})_([a-z0-9_]+)(\.notx)?\.up\.sql$`)

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(entries))
	for _, e := range entries {
		match := migrationName.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, fmt.Errorf("migration file %q is not named NNN_name.up.sql or NNN_name.notx.up.sql", e.Name())
		}
		version, err := strconv.ParseInt(match[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration file %q: %w", e.Name(), err)
		}
		sql, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: match[2], sql: string(sql), noTx: match[3] != ""})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("two migrations have version %d", ms[i].version)
		}
	}
	return ms, nil
}

// Migrate creates cfg.Schema if needed and applies the migrations that its
// schema_migrations table does not list yet. A migration runs in its own
// transaction together with the row that records its version, except a
// non-transactional one (NNN_name.notx.up.sql, see Migrations), whose
// statements run one by one in autocommit and whose version is recorded
// after the last. Running it when the schema is up to date changes nothing.
//
// It is safe to run from several processes at once, such as every server
// of a host app at start-up: it first takes a session-level advisory lock
// derived from the schema name on a connection of its own, so the
// processes migrate one after another and the later ones find every
// version recorded. It waits for that lock by polling, never inside a
// statement, because CREATE INDEX CONCURRENTLY waits for every statement
// that holds a snapshot, and a statement blocked on the lock would hold one.
func Migrate(ctx context.Context, db *sqlx.DB, cfg Config) error {
	schema, err := cfg.schema()
	if err != nil {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return migrate(ctx, db, schema, ms)
}

// lockPollInterval bounds the wait between two attempts to take the
// migration lock.
const lockPollInterval = 200 * time.Millisecond

// migrate applies ms to schema; Migrate passes the embedded migrations,
// tests their own.
func migrate(ctx context.Context, db *sqlx.DB, schema string, ms []migration) (err error) {
	op := fmt.Sprintf("migrate schema %q", schema)
	conn, err := db.Connx(ctx)
	if err != nil {
		return wrapErr(op, err)
	}
	locked := false
	defer func() {
		if locked {
			// Unlock on a fresh context: ctx may be what ended the migration.
			unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, unlockErr := conn.ExecContext(unlockCtx, `SELECT pg_advisory_unlock($1)`, migrationLockKey(schema))
			_, resetErr := conn.ExecContext(unlockCtx, `RESET search_path`)
			if unlockErr != nil || resetErr != nil {
				// A pooled connection must not keep the lock or the
				// search_path: discard it, which ends its session.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
		_ = conn.Close()
	}()
	wait := 5 * time.Millisecond
	for {
		if err := conn.GetContext(ctx, &locked, `SELECT pg_try_advisory_lock($1)`, migrationLockKey(schema)); err != nil {
			return wrapErr(op+": take advisory lock", err)
		}
		if locked {
			break
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return wrapErr(op+": wait for advisory lock", ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, lockPollInterval)
	}

	applied, err := prepareSchema(ctx, conn, schema, ms)
	if err != nil {
		return wrapErr(op, err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		apply := applyInTx
		if m.noTx {
			apply = applyWithoutTx
		}
		if err := apply(ctx, conn, schema, m); err != nil {
			return wrapErr(fmt.Sprintf("%s to version %d (%s)", op, m.version, m.name), err)
		}
	}
	return nil
}

// migrationLockKey is the advisory lock that serialises Migrate calls on
// one schema. It is derived from the schema name so that stores in other
// schemas of the same database migrate independently.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/embedchat/chat/postgres.Migrate:" + schema))
	return int64(h.Sum64())
}

// ErrPrereleaseSchema is returned by Migrate for a schema that a
// development build migrated before the numbered migrations were squashed
// into the initial schema: its schema_migrations table records one of the
// embedded versions under another name (version 1 was create_tables).
// Nothing released wrote such a schema, so there is no upgrade path: drop
// the schema (DROP SCHEMA <schema> CASCADE) and migrate again.
//
// Versions above the embedded ones are not an error: a newer release
// applied them, and every migration keeps the previous release working
// (see docs/postgres.md).
var ErrPrereleaseSchema = errors.New("schema was migrated by a pre-release development build whose migrations were squashed into 001_initial_schema; drop it (DROP SCHEMA ... CASCADE) and migrate again")

// prepareSchema creates the schema and its schema_migrations table if
// needed, and returns the versions recorded there. It returns
// ErrPrereleaseSchema if one of the versions of ms is recorded under
// another name.
func prepareSchema(ctx context.Context, conn *sqlx.Conn, schema string, ms []migration) (map[int64]bool, error) {
	quoted := pq.QuoteIdentifier(schema)
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }() // A no-op after Commit.
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoted); err != nil {
		return nil, fmt.Errorf("create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+quoted+`.schema_migrations (
		version    bigint PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var recorded []struct {
		Version int64  `db:"version"`
		Name    string `db:"name"`
	}
	if err := tx.SelectContext(ctx, &recorded, `SELECT version, name FROM `+quoted+`.schema_migrations ORDER BY version`); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := make(map[int64]bool, len(recorded))
	for _, r := range recorded {
		i := slices.IndexFunc(ms, func(m migration) bool { return m.version == r.Version })
		if i >= 0 && ms[i].name != r.Name {
			return nil, fmt.Errorf("version %d (%s) is recorded: %w", r.Version, r.Name, ErrPrereleaseSchema)
		}
		applied[r.Version] = true
	}
	return applied, tx.Commit()
}

// applyInTx runs m and records its version in one transaction.
func applyInTx(ctx context.Context, conn *sqlx.Conn, schema string, m migration) error {
	quoted := pq.QuoteIdentifier(schema)
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // A no-op after Commit.
	if _, err := tx.ExecContext(ctx, `SET LOCAL search_path TO `+quoted); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO `+quoted+`.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return tx.Commit()
}

// applyWithoutTx runs the statements of m one by one in autocommit, with
// the session's search_path set to the schema (migrate resets it), and
// then records the version. A failure leaves the statements before it
// applied; they are written so that running them again is harmless.
func applyWithoutTx(ctx context.Context, conn *sqlx.Conn, schema string, m migration) error {
	quoted := pq.QuoteIdentifier(schema)
	stmts, err := splitStatements(m.sql)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `SET search_path TO `+quoted); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	for i, stmt := range stmts {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("statement %d of %d: %w", i+1, len(stmts), err)
		}
	}
	if _, err := conn.ExecContext(ctx,
		`INSERT INTO `+quoted+`.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return nil
}

// splitStatements splits SQL at the semicolons that end statements: not
// those inside quotes ('...', "..."), dollar-quoted bodies ($$...$$,
// $tag$...$tag$) or comments. Statements that hold nothing but comments
// and blanks are dropped.
func splitStatements(sql string) ([]string, error) {
	var stmts []string
	start := 0
	code := false // the current statement has something besides comments
	flush := func(end int) {
		if code {
			stmts = append(stmts, strings.TrimSpace(sql[start:end]))
		}
		start, code = end+1, false
	}
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				i = len(sql)
			} else {
				i += end
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("unterminated /* comment")
			}
			i += 2 + end + 1
		case c == '\'' || c == '"':
			end := strings.IndexByte(sql[i+1:], c) // '' and "" escape by doubling: two quoted runs
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			i += 1 + end
			code = true
		case c == '$':
			tag := dollarTag.FindString(sql[i:])
			if tag == "" {
				code = true
				continue // a parameter like $1
			}
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %s quote", tag)
			}
			i += len(tag) + end + len(tag) - 1
			code = true
		case c == ';':
			flush(i)
		case !unicode.IsSpace(rune(c)):
			code = true
		}
	}
	flush(len(sql))
	return stmts, nil
}

var dollarTag = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)
