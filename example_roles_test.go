package chat_test

import (
	"context"
	"fmt"
	"log"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// Owners and admins ban users from a group: a member is removed, and nobody
// can add them back until the ban is lifted. The Store keeps the bans (a
// chat.RoleStore: memory and postgres are); with a Store without roles, a
// host keeps its own bans and denies ActionAddMember for them in
// Hooks.Authorize.
func ExampleService_BanMember() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	g, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	_, err = svc.BanMember(ctx, "carol", g.ID, "bob")
	fmt.Println("carol bans bob:", err)
	banned, err := svc.BanMember(ctx, "alice", g.ID, "bob")
	fmt.Println("alice bans bob:", banned, err)
	_, _, err = svc.AddMember(ctx, "carol", g.ID, "bob")
	fmt.Println("carol adds bob back:", err)
	fmt.Println("alice lifts the ban:", svc.UnbanMember(ctx, "alice", g.ID, "bob"))
	_, added, err := svc.AddMember(ctx, "carol", g.ID, "bob")
	fmt.Println("carol adds bob back:", added, err)
	// Output:
	// carol bans bob: chat: forbidden: ban: your role does not allow it
	// alice bans bob: true <nil>
	// carol adds bob back: chat: forbidden: bob is banned from this chat
	// alice lifts the ban: <nil>
	// carol adds bob back: true <nil>
}

// The creator is the first owner; owners make admins, who may rename the
// group and remove members. When the last owner leaves, the oldest admin
// becomes owner.
func ExampleService_SetRole() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	g, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "Team", Members: []string{"bob", "carol"}})
	m, err := svc.SetRole(ctx, "alice", g.ID, "bob", chat.RoleAdmin)
	fmt.Println(m.UserID, m.Role, err)
	title := "Team (renamed)"
	c, err := svc.UpdateChat(ctx, "bob", g.ID, chat.UpdateChatRequest{Title: &title})
	fmt.Println(c.Title, err)
	fmt.Println("bob removes carol:", svc.RemoveMember(ctx, "bob", g.ID, "carol"))
	fmt.Println("alice leaves:", svc.RemoveMember(ctx, "alice", g.ID, "alice"))
	c, _ = svc.GetChat(ctx, "bob", g.ID)
	for _, m := range c.Members {
		fmt.Println(m.UserID, m.Role)
	}
	// Output:
	// bob admin <nil>
	// Team (renamed) <nil>
	// bob removes carol: <nil>
	// alice leaves: <nil>
	// bob owner
}

// A member's own settings: pinned chats come first in their list, archived
// ones can be left out, and muted ones still count unread messages while
// Hooks.AfterSend learns, through MutedMembers, whose push to skip.
func ExampleService_UpdateSettings() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	older, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "older", Members: []string{"bob"}})
	svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "newer", Members: []string{"bob"}})
	pinned := true
	set, err := svc.UpdateSettings(ctx, "alice", older.ID, chat.SettingsRequest{Pinned: &pinned})
	fmt.Printf("%+v %v\n", set, err)
	page, _ := svc.ListChats(ctx, "alice", chat.ChatListQuery{})
	for _, c := range page.Chats {
		fmt.Println(c.Title)
	}
	page, _ = svc.ListChats(ctx, "bob", chat.ChatListQuery{})
	for _, c := range page.Chats {
		fmt.Println("bob:", c.Title)
	}
	// Output:
	// {Muted:false MutedUntil:<nil> Archived:false Pinned:true} <nil>
	// older
	// newer
	// bob: newer
	// bob: older
}

// While either of two users blocks the other, their direct chat refuses
// sends.
func ExampleService_BlockUser() {
	ctx := context.Background()
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Shutdown(ctx)

	d, _, _ := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	svc.BlockUser(ctx, "bob", "alice")
	_, _, err = svc.SendMessage(ctx, "alice", d.ID, chat.SendMessageRequest{Text: "hi"})
	fmt.Println(err)
	fmt.Println(svc.UnblockUser(ctx, "bob", "alice"))
	_, created, err := svc.SendMessage(ctx, "alice", d.ID, chat.SendMessageRequest{Text: "hi"})
	fmt.Println(created, err)
	// Output:
	// chat: forbidden: this user has blocked you
	// <nil>
	// true <nil>
}
