// Package postgres provides a chat.Store backed by PostgreSQL.
//
// The host app opens the database itself, brings the schema up to date with
// Migrate (safe to run from every server at start-up), and hands the handle
// to New:
//
//	db, err := sqlx.Open("postgres", dsn)
//	if err != nil {
//		return err
//	}
//	db.SetMaxOpenConns(16) // per server; all servers together below max_connections
//	db.SetMaxIdleConns(16) // as many as open, or the pool churns
//	cfg := postgres.Config{Schema: "chat", Logger: logger}
//	if err := postgres.Migrate(ctx, db, cfg); err != nil {
//		return err
//	}
//	store, err := postgres.New(db, cfg)
//	if err != nil {
//		return err
//	}
//	defer store.Close() // before db.Close: waits for the writes in flight
//	// store is ready to back the chat.Service.
//
// Size the pool before New. database/sql keeps 2 idle connections unless
// told otherwise and closes every other connection it returns to the pool,
// so a steady load of more than 2 concurrent requests opens new PostgreSQL
// sessions over and over (a backend fork and an authentication each: 89 per
// 1,000 sends with 8 concurrent requests on the example server); and it
// opens connections without bound unless told otherwise, so a burst, such
// as every client resuming after a restart, can exhaust max_connections for
// every server sharing the database. Set MaxOpenConns to a bound (16 per
// server keeps 2 cores busy; more only helps with more cores or a slower
// disk) and MaxIdleConns to the same number. New logs a warning to
// Config.Logger when the pool is unbounded or keeps fewer idle connections
// than it opens.
//
// The tables live in their own schema (Config.Schema, "chat" by default), so
// they never collide with the host app's. Hosts that run migrations with
// their own tool can copy the SQL from Migrations.
//
// Every chat's events get gap-free sequence numbers, assigned from the chat's
// row in the same transaction as the insert, even when many servers write to
// one chat. Concurrent sends and other single-event writes are committed
// together (group commit: one statement and one WAL flush for all the writes
// that queued while the previous commit was in flight), each with its own
// result. To send a message in the same transaction as the host app's own
// writes, use Store.AppendMessageTx.
//
// Errors caused by a database that cannot be reached wrap chat.ErrUnavailable;
// the Store recovers by itself once the database is back.
package postgres
