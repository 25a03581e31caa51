package postgres

import (
	"cmp"
	"context"
	"embed"
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
		if err := applyMigration(ctx, db, schema, m); err != nil {
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

func applyMigration(ctx context.Context, db *sqlx.DB, schema string, m migration) error {
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
