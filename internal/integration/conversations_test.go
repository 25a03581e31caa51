package integration_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// On PostgreSQL and Redis, reactions, replies and mentions made on node A
// reach a member connected to node B live, count the same from either
// node, and replay on resume.
func TestMultiNodeReactionsRepliesMentions(t *testing.T) {
	nodes := startNodes(t, 2, postgresStores(t), redisClients(t, ""), randomName("it:")+":")
	a, b := nodes[0], nodes[1]
	g := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	send(t, a, "alice", g.ID, "ship it?")
	bob, _ := b.srv.Connect("bob", map[string]int64{g.ID: 1})

	resp := a.srv.Do("carol", http.MethodPut, "/chats/"+g.ID+"/messages/1/reactions/%F0%9F%91%8D", nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	ev := bob.Next()
	require.Equal(t, chat.Event{Type: chat.EventReactionAdded, ChatID: g.ID, Seq: 2, UserID: "carol",
		Reaction: &chat.ReactionEvent{MessageSeq: 1, Emoji: "👍", Count: 1}}, ev)
	resp = b.srv.Do("bob", http.MethodPut, "/chats/"+g.ID+"/messages/1/reactions/%F0%9F%91%8D", nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var m chat.Message
	resp.Decode(t, &m)
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 2, Me: true}}, m.Reactions)
	require.Equal(t, int64(2), bob.Next().Reaction.Count)

	resp = a.srv.Do("alice", http.MethodPost, "/chats/"+g.ID+"/messages",
		chat.SendMessageRequest{Text: "@bob yes", ReplyTo: 1, Mentions: []string{"bob"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	ev = bob.Next()
	require.Equal(t, chat.EventMessageCreated, ev.Type)
	require.Equal(t, int64(1), ev.Message.ReplyTo)
	require.Equal(t, &chat.Quote{Sender: "alice", Text: "ship it?"}, ev.Message.Quote)
	require.Equal(t, []string{"bob"}, ev.Message.Mentions)

	resp = b.srv.Do("bob", http.MethodGet, "/chats/"+g.ID, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var c chat.Chat
	resp.Decode(t, &c)
	require.Equal(t, int64(2), c.UnreadCount)
	require.Equal(t, int64(1), c.UnreadMentions)

	resp = b.srv.Do("bob", http.MethodGet, "/chats/"+g.ID+"/messages/1/replies", nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var thread chat.MessagePage
	resp.Decode(t, &thread)
	require.Len(t, thread.Messages, 1)
	require.Equal(t, int64(4), thread.Messages[0].Seq)

	resp = a.srv.Do("carol", http.MethodDelete, "/chats/"+g.ID+"/messages/1/reactions/%F0%9F%91%8D", nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, chat.EventReactionRemoved, bob.Next().Type)

	// A resume from the start replays every event, the reactions' counts
	// ending at the current ones, the parent showing its thread.
	_, replay := b.srv.Connect("carol", map[string]int64{g.ID: 0})
	var types []chat.EventType
	for _, ev := range replay {
		types = append(types, ev.Type)
	}
	require.Equal(t, []chat.EventType{chat.EventMessageCreated, chat.EventReactionAdded, chat.EventReactionAdded,
		chat.EventMessageCreated, chat.EventReactionRemoved}, types)
	require.Equal(t, int64(1), replay[0].Message.ReplyCount)
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 1}}, replay[0].Message.Reactions)
	require.Equal(t, int64(1), replay[4].Reaction.Count)
}
