package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed migrations/*.up.sql
var migrationFiles embed.FS

// Migrations returns the SQL that Migrate applies, one file per version
// named NNN_name.up.sql, for hosts that run migrations with their own tool.
// The files use unqualified table names: run each one in a transaction
// after CREATE SCHEMA IF NOT EXISTS and SET LOCAL search_path TO the schema
// that Config.Schema names.
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
}

var migrationName = regexp.MustCompile(`^(\d{3,})_([a-z0-9_]+)\.up\.sql$`)

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
			return nil, fmt.Errorf("migration file %q is not named NNN_name.up.sql", e.Name())
		}
		version, err := strconv.ParseInt(match[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration file %q: %w", e.Name(), err)
		}
		sql, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: match[2], sql: string(sql)})
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
// schema_migrations table does not list yet, each in its own transaction
// together with the row that records its version. Running it when the
// schema is up to date changes nothing.
//
// It is safe to run from several processes at once, such as every server
// of a host app at start-up: each transaction first takes a
// transaction-scoped advisory lock derived from the schema name, so the
// processes apply a migration one after another and the later ones find it
// recorded.
func Migrate(ctx context.Context, db *sqlx.DB, cfg Config) error {
	schema, err := cfg.schema()
	if err != nil {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, schema, ms, m); err != nil {
			return wrapErr(fmt.Sprintf("migrate schema %q to version %d (%s)", schema, m.version, m.name), err)
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

// checkRecorded returns ErrPrereleaseSchema if schema_migrations records
// one of the versions of ms under another name.
func checkRecorded(ctx context.Context, tx *sqlx.Tx, quoted string, ms []migration) error {
	var recorded []struct {
		Version int64  `db:"version"`
		Name    string `db:"name"`
	}
	if err := tx.SelectContext(ctx, &recorded, `SELECT version, name FROM `+quoted+`.schema_migrations ORDER BY version`); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, r := range recorded {
		i := slices.IndexFunc(ms, func(m migration) bool { return m.version == r.Version })
		if i >= 0 && ms[i].name != r.Name {
			return fmt.Errorf("version %d (%s) is recorded: %w", r.Version, r.Name, ErrPrereleaseSchema)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sqlx.DB, schema string, ms []migration, m migration) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // A no-op after Commit.

	quoted := pq.QuoteIdentifier(schema)
	// The lock comes first: two concurrent CREATE SCHEMA IF NOT EXISTS can
	// still collide on the catalog's unique index.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey(schema)); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quoted); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+quoted+`.schema_migrations (
		version    bigint PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := checkRecorded(ctx, tx, quoted, ms); err != nil {
		return err
	}
	var applied bool
	if err := tx.GetContext(ctx, &applied,
		`SELECT EXISTS (SELECT 1 FROM `+quoted+`.schema_migrations WHERE version = $1)`, m.version); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if applied {
		return nil
	}
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
