package chat_test

import (
	"context"
	"fmt"
	"log"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// Who is online: bob's subscription is told when alice connects, and the
// chat's presence lists who is online. The Broker keeps presence (see
// chat.PresenceBroker); the host may hide users (PresenceConfig.Hidden).
func ExampleService_ChatPresence() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker(),
		Presence: chat.PresenceConfig{Enabled: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	if err != nil {
		log.Fatal(err)
	}

	bob, err := svc.Subscribe(ctx, "bob", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	// Events are changes after resumed; what was before, ChatPresence reads.
	if ev, err := bob.Next(ctx); err != nil || ev.Type != chat.EventResumed {
		log.Fatal(ev.Type, err)
	}
	alice, err := svc.Subscribe(ctx, "alice", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	for {
		ev, err := bob.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if ev.Type == chat.EventPresence {
			fmt.Println("bob is told:", ev.UserID, "online:", ev.Presence.Online)
			break
		}
	}

	page, err := svc.ChatPresence(ctx, "bob", c.ID, chat.MemberQuery{})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range page.Presence {
		fmt.Println(p.UserID, "online:", p.Online, "ever seen:", p.LastSeenAt != nil)
	}
	// Output:
	// bob is told: alice online: true
	// alice online: true ever seen: true
	// bob online: true ever seen: true
	// carol online: false ever seen: false
}
