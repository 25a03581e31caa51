// Package readme holds every Go snippet of the repository's README.md as
// written there, so that go vet and go build compile them; readme_test.go
// fails when the README shows a snippet that is not here. The functions
// only give the snippets a body; host.go stands in for the host app's own
// code that they call.
package readme

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver behind sqlx.Open("postgres", ...)
	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/postgres"
	"github.com/embedchat/chat/redisbroker"
)

// embedding is the README's "Embedding" snippet.
func embedding(ctx context.Context) error {
	svc, err := chat.New(chat.Config{
		Store:  memory.NewStore(),  // production: the PostgreSQL Store, below
		Broker: memory.NewBroker(), // production: the Redis Broker, below
		Logger: slog.Default(),
	})
	if err != nil {
		return err
	}

	// Your session lookup: return "" for an anonymous request (401).
	auth := func(r *http.Request) (string, error) { return sessions.UserID(r), nil }

	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", chat.NewHandler(svc, chat.HandlerConfig{Authenticate: auth})))
	mux.Handle("/chat/ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: auth}))
	// Or, if your middleware already knows the user, leave Authenticate nil and
	// pass the request on as r.WithContext(chat.WithUser(r.Context(), userID)).

	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// ... serve; on exit:
	srv.Shutdown(ctx) // stops accepting, finishes REST requests
	svc.Shutdown(ctx) // closes WebSockets with 1001 (going away) and stops the Service
	return nil
}

// hooks is the README's hooks and rate limits snippet.
func hooks(store chat.Store) (*chat.Service, error) {
	svc, err := chat.New(chat.Config{
		Store: store,
		Hooks: chat.Hooks{
			// Before a message (or an edit) is stored: refuse it (422) or rewrite it.
			BeforeSend: func(ctx context.Context, d *chat.Draft) error {
				if strings.Contains(d.Text, "http://") {
					return chat.Reject("links are not allowed here")
				}
				return nil
			},
			// After it is stored, off the sender's path: push notifications, webhooks.
			AfterSend: func(ctx context.Context, m chat.Message) { push.Notify(ctx, m) },
			// Who may create chats with, or add to groups, whom (403 with the reason).
			Authorize: func(ctx context.Context, a chat.Action) error {
				if !friends.All(ctx, a.UserID, a.Members) {
					return chat.Deny("you can only chat with friends")
				}
				return nil
			},
			Users: userTable, // a chat.UserDirectory: unknown ids are 400; members get display names
		},
		RateLimit: chat.RateLimit{
			Sends:         chat.Rate{Events: 10, Per: time.Second, Burst: 20}, // edits and deletes too
			ChatCreates:   chat.Rate{Events: 5, Per: time.Minute},
			MemberChanges: chat.Rate{Events: 60, Per: time.Hour, Burst: 20},
		},
	})
	return svc, err
}

// production is the README's PostgreSQL and Redis snippet.
func production(ctx context.Context) (*chat.Service, error) {
	// DATABASE_URL is e.g. postgres://chat:secret@127.0.0.1:5432/app?sslmode=disable
	db, err := sqlx.Open("postgres", os.Getenv("DATABASE_URL")) // with import _ "github.com/lib/pq"
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(20) // the pool is yours to size and to close
	// Creates the "chat" schema and its tables, or brings them up to date.
	// Safe to run from every server at start-up.
	if err := postgres.Migrate(ctx, db, postgres.Config{}); err != nil {
		return nil, err
	}
	store, err := postgres.New(db, postgres.Config{})
	if err != nil {
		return nil, err
	}

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // or redis.NewClusterClient
	broker, err := redisbroker.New(rdb, redisbroker.Config{})
	if err != nil {
		return nil, err
	}

	return chat.New(chat.Config{Store: store, Broker: broker})
}
