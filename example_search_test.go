package chat_test

import (
	"context"
	"fmt"
	"log"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// Search the messages of a user's chats and show where each matched,
// marking the ranges in the text without any markup from the server.
func ExampleService_Search() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, text := range []string{"Lunch on Friday?", "Friday works, lunch at noon", "see you"} {
		if _, _, err := svc.SendMessage(ctx, "bob", c.ID, chat.SendMessageRequest{Text: text}); err != nil {
			log.Fatal(err)
		}
	}

	page, err := svc.Search(ctx, "alice", chat.SearchQuery{Text: "lunch fri"})
	if err != nil {
		log.Fatal(err)
	}
	for _, hit := range page.Hits {
		// The ranges count UTF-16 code units; these texts are ASCII, so
		// they are byte offsets too.
		marked, at := "", 0
		for _, r := range hit.Highlights {
			marked += hit.Message.Text[at:r.Start] + "[" + hit.Message.Text[r.Start:r.End] + "]"
			at = r.End
		}
		fmt.Println(marked + hit.Message.Text[at:])
	}
	// Output:
	// [Fri]day works, [lunch] at noon
	// [Lunch] on [Fri]day?
}
