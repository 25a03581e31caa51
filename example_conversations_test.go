package chat_test

import (
	"context"
	"fmt"
	"log"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// React to a message, reply to it in a thread and mention a member, then
// see it all as bob does.
func ExampleService_React() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	if err != nil {
		log.Fatal(err)
	}
	q, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "Ship on Friday?"})
	if err != nil {
		log.Fatal(err)
	}

	if _, err := svc.React(ctx, "carol", c.ID, q.Seq, "👍"); err != nil {
		log.Fatal(err)
	}
	m, err := svc.React(ctx, "bob", c.ID, q.Seq, "👍")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s ×%d, bob reacted: %v\n", m.Reactions[0].Emoji, m.Reactions[0].Count, m.Reactions[0].Me)

	reply, _, err := svc.SendMessage(ctx, "carol", c.ID, chat.SendMessageRequest{
		Text: "@bob can you?", ReplyTo: q.Seq, Mentions: []string{"bob"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("reply quotes %s: %q\n", reply.Quote.Sender, reply.Quote.Text)

	thread, err := svc.ListReplies(ctx, "bob", c.ID, q.Seq, chat.MessageQuery{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("thread:", len(thread.Messages), "reply")
	seen, err := svc.GetChat(ctx, "bob", c.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob: unread", seen.UnreadCount, "mentions", seen.UnreadMentions)
	// Output:
	// 👍 ×2, bob reacted: true
	// reply quotes alice: "Ship on Friday?"
	// thread: 1 reply
	// bob: unread 2 mentions 1
}
