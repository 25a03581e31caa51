package chat_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
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

// A removal is not a ban: any member of a group may add a removed user
// back. A host that wants bans keeps them itself, next to its other rules
// about who may talk to whom, and refuses the additions in the Authorize
// hook. Record the ban before removing, so that no re-addition slips in
// between.
func ExampleHooks_bans() {
	ctx := context.Background()
	type membership struct{ chatID, userID string }
	var mu sync.Mutex
	banned := map[membership]bool{}
	svc, err := chat.New(chat.Config{
		Store: memory.NewStore(),
		Hooks: chat.Hooks{
			Authorize: func(ctx context.Context, a chat.Action) error {
				if a.Kind != chat.ActionAddMember {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if banned[membership{a.ChatID, a.Members[0]}] {
					return chat.Deny(a.Members[0] + " is banned from this chat")
				}
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	// ban is what the host's own "ban" route would call, after checking
	// that by may ban (here: only the creator may remove others anyway).
	ban := func(by, chatID, userID string) error {
		mu.Lock()
		banned[membership{chatID, userID}] = true
		mu.Unlock()
		return svc.RemoveMember(ctx, by, chatID, userID)
	}

	g, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	fmt.Println("alice bans bob:", ban("alice", g.ID, "bob"))
	_, _, err = svc.AddMember(ctx, "carol", g.ID, "bob")
	fmt.Println("carol adds bob back:", err)
	_, added, err := svc.AddMember(ctx, "carol", g.ID, "dave")
	fmt.Println("carol adds dave:", added, err)
	// Output:
	// alice bans bob: <nil>
	// carol adds bob back: chat: forbidden: bob is banned from this chat
	// carol adds dave: true <nil>
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
