package chat_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// Build a Service, create a chat and talk in it through the Go API.
func Example() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	c, created, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created, "members:", c.Members[0].UserID, c.Members[1].UserID)

	m, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "hi bob", ClientID: "msg-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("seq", m.Seq, m.Sender+":", m.Text)

	// A retry with the same client id stores nothing new.
	_, created, _ = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "hi bob", ClientID: "msg-1"})
	fmt.Println("retry created:", created)

	page, err := svc.ListMessages(ctx, "bob", c.ID, chat.MessageQuery{Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob sees", len(page.Messages), "message(s)")

	// Someone outside the chat cannot tell it exists.
	_, err = svc.GetChat(ctx, "mallory", c.ID)
	fmt.Println("mallory:", errors.Is(err, chat.ErrNotFound))
	// Output:
	// created: true members: alice bob
	// seq 1 alice: hi bob
	// retry created: false
	// bob sees 1 message(s)
	// mallory: true
}

// Mount the REST and WebSocket handlers under a prefix, taking the user
// from the host app's own authentication.
func ExampleNewHandler() {
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
	if err != nil {
		log.Fatal(err)
	}
	// However the host app knows who is calling: a session cookie, a JWT...
	auth := func(r *http.Request) (string, error) {
		return r.Header.Get("X-Authenticated-User"), nil
	}
	mux := http.NewServeMux()
	mux.Handle("/api/chat/", http.StripPrefix("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{Authenticate: auth})))
	mux.Handle("/api/chat/ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: auth}))
	_ = mux // serve it with http.ListenAndServe or the app's server

	_ = svc.Shutdown(context.Background())
}

// Host middleware can authenticate once and pass the user down in the
// request context; the handlers read it when HandlerConfig.Authenticate is
// nil.
func ExampleWithUser() {
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(context.Background())

	requireLogin := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := r.Header.Get("X-Authenticated-User") // the app's own session lookup
			next.ServeHTTP(w, r.WithContext(chat.WithUser(r.Context(), user)))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", requireLogin(http.StripPrefix("/chat", chat.NewHandler(svc, chat.HandlerConfig{}))))
	_ = mux
}

// Follow a user's events from Go, for a bot or a server-sent-events
// bridge: resume from the last seq seen per chat, then read live events.
func ExampleService_Subscribe() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	c, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "Team", Members: []string{"bot"}})
	_, _, _ = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "missed while offline"})

	sub, err := svc.Subscribe(ctx, "bot", map[string]int64{c.ID: 0})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type, ev.Seq)
		if ev.Type == chat.EventResumed {
			break
		}
	}
	_, _, _ = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "live"})
	ev, _ := sub.Next(ctx)
	fmt.Println(ev.Type, ev.Seq, ev.Message.Text)
	// Output:
	// message.created 1
	// resumed 0
	// message.created 2 live
}
