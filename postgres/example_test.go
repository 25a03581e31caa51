package postgres_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // The "postgres" driver.

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/postgres"
)

// The host app owns the database handle: it opens it, migrates the chat
// schema at start-up (every server may do so at once) and builds the Store.
func Example() {
	ctx := context.Background()
	db, err := sqlx.Open("postgres", "postgres://app@localhost/app?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(16) // A bound, and as many idle: no session churn.
	db.SetMaxIdleConns(16)

	cfg := postgres.Config{Schema: "chat", Logger: slog.Default()}
	if err := postgres.Migrate(ctx, db, cfg); err != nil {
		log.Fatal(err)
	}
	store, err := postgres.New(db, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // Runs before db.Close: waits for writes in flight.
	c, err := store.GetChat(ctx, "c1")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("chat %s is at seq %d", c.ID, c.LastSeq)
}

// A message sent in the host app's own transaction is committed together
// with the host's rows, or not at all. The Service validates and stamps it
// before, and delivers it to connected members after the commit.
func ExampleStore_AppendMessageTx() {
	ctx := context.Background()
	db := sqlx.MustOpen("postgres", "postgres://app@localhost/app?sslmode=disable")
	defer db.Close()
	store, err := postgres.New(db, postgres.Config{})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := chat.New(chat.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	m, err := svc.NewMessage("shop-bot", "support-o-42", chat.SendMessageRequest{
		Text:     "Your order has shipped.",
		ClientID: "o-42-shipped", // Running this twice sends one message.
	})
	if err != nil {
		log.Fatal(err)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback() // A no-op after Commit.
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, "o-42"); err != nil {
		log.Fatal(err)
	}
	m, created, err := store.AppendMessageTx(ctx, tx, m)
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	// Deliver only now that the message is committed.
	if created {
		svc.Announce(ctx, m)
	}
}
