package chat_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// A BeforeSend hook moderates messages: it refuses some with a reason the
// sender sees, and rewrites others before they are stored.
func ExampleHooks_beforeSend() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{
		Store: memory.NewStore(),
		Hooks: chat.Hooks{
			BeforeSend: func(ctx context.Context, d *chat.Draft) error {
				if strings.Contains(d.Text, "http://") {
					return chat.Reject("links are not allowed here")
				}
				d.Text = strings.ReplaceAll(d.Text, "darn", "d**n")
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})

	_, _, err = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "buy at http://spam.example"})
	fmt.Println(err)
	m, _, _ := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "darn, I forgot"})
	fmt.Println(m.Text)
	// Output:
	// chat: rejected: links are not allowed here
	// d**n, I forgot
}

// An AfterSend hook reacts to stored messages (push notifications,
// webhooks, search indexing) without delaying the sender.
func ExampleHooks_afterSend() {
	ctx := context.Background()
	notified := make(chan string, 1)
	svc, err := chat.New(chat.Config{
		Store: memory.NewStore(),
		Hooks: chat.Hooks{
			AfterSend: func(ctx context.Context, m chat.Message) {
				notified <- fmt.Sprintf("push to members of %s: %s wrote %q", "the chat", m.Sender, m.Text)
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	_, _, _ = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "lunch?"})
	select {
	case n := <-notified:
		fmt.Println(n)
	case <-time.After(5 * time.Second):
		fmt.Println("no notification")
	}
	// Output:
	// push to members of the chat: alice wrote "lunch?"
}

// An Authorize hook applies the host app's rules to who may create chats
// with whom and add whom to a group.
func ExampleHooks_authorize() {
	ctx := context.Background()
	friends := map[string][]string{"alice": {"bob"}}
	isFriend := func(a, b string) bool {
		for _, f := range friends[a] {
			if f == b {
				return true
			}
		}
		return false
	}
	svc, err := chat.New(chat.Config{
		Store: memory.NewStore(),
		Hooks: chat.Hooks{
			Authorize: func(ctx context.Context, a chat.Action) error {
				for _, m := range a.Members {
					if !isFriend(a.UserID, m) {
						return chat.Deny("you can only chat with friends")
					}
				}
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	_, _, err = svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	fmt.Println("alice with bob:", err)
	_, _, err = svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"mallory"}})
	fmt.Println("alice with mallory:", err)
	// Output:
	// alice with bob: <nil>
	// alice with mallory: chat: forbidden: you can only chat with friends
}

// users is a host app's user table, as a UserDirectory.
type users map[string]string

func (u users) LookupUsers(ctx context.Context, ids []string) (map[string]chat.User, error) {
	found := make(map[string]chat.User)
	for _, id := range ids {
		if name, ok := u[id]; ok {
			found[id] = chat.User{DisplayName: name}
		}
	}
	return found, nil
}

// A UserDirectory refuses unknown user ids and puts display names in chat
// objects.
func ExampleUserDirectory() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{
		Store: memory.NewStore(),
		Hooks: chat.Hooks{Users: users{"alice": "Alice Liddell", "bob": "Bob Dylan"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	_, _, err = svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"nobody"}})
	fmt.Println(err)
	c, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for _, m := range c.Members {
		fmt.Println(m.UserID, "is", m.DisplayName)
	}
	// Output:
	// chat: invalid request: unknown user "nobody"
	// alice is Alice Liddell
	// bob is Bob Dylan
}

// A RateLimit caps each user's sends and chat creations; callers over it
// get ErrRateLimited (HTTP 429 with Retry-After).
func ExampleRateLimit() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{
		Store:     memory.NewStore(),
		RateLimit: chat.RateLimit{Sends: chat.Rate{Events: 2, Per: time.Minute}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for i := 0; i < 3; i++ {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "spam"})
		fmt.Println(err == nil)
	}
	// Output:
	// true
	// true
	// false
}
