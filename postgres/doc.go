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
//	cfg := postgres.Config{Schema: "chat"}
//	if err := postgres.Migrate(ctx, db, cfg); err != nil {
//		return err
//	}
//	store, err := postgres.New(db, cfg)
//	if err != nil {
//		return err
//	}
//	// store is ready to back the chat.Service.
//
// The tables live in their own schema (Config.Schema, "chat" by default), so
// they never collide with the host app's. Hosts that run migrations with
// their own tool can copy the SQL from Migrations.
//
// Every chat's events get gap-free sequence numbers, assigned from the chat's
// row in the same transaction as the insert, even when many servers write to
// one chat. To send a message in the same transaction as the host app's own
// writes, use Store.AppendMessageTx.
//
// Errors caused by a database that cannot be reached wrap chat.ErrUnavailable;
// the Store recovers by itself once the database is back.
package postgres
