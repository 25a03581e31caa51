package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// These tests hold reactions, replies and mentions to the wire contract
// over real HTTP and WebSocket connections. internal/integration runs the
// same flows on PostgreSQL and Redis across nodes.

func convReactionPath(chatID string, seq any, emoji string) string {
	return fmt.Sprintf("/chats/%s/messages/%v/reactions/%s", chatID, seq, url.PathEscape(emoji))
}

func convReact(srv *chattest.Server, user, chatID string, seq any, emoji string) chattest.Response {
	return srv.Do(user, http.MethodPut, convReactionPath(chatID, seq, emoji), nil)
}

func convUnreact(srv *chattest.Server, user, chatID string, seq any, emoji string) chattest.Response {
	return srv.Do(user, http.MethodDelete, convReactionPath(chatID, seq, emoji), nil)
}

func convReplies(srv *chattest.Server, user, chatID string, seq any, query string) chattest.Response {
	return srv.Do(user, http.MethodGet, fmt.Sprintf("/chats/%s/messages/%v/replies?%s", chatID, seq, query), nil)
}

func convRepliesPage(t *testing.T, srv *chattest.Server, user, chatID string, seq int64, query string) chat.MessagePage {
	t.Helper()
	r := convReplies(srv, user, chatID, seq, query)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var page chat.MessagePage
	r.Decode(t, &page)
	return page
}

func TestFeatureReactions(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{Limits: chat.Limits{MaxReactionsPerMessage: 3}}))
	g := featGroup(t, srv, "alice", "bob")
	featGroup(t, srv, "carol")
	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	conns := []*chattest.Conn{alice, bob}
	m1 := mustSend(t, srv, "alice", g.ID, "react to me")
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 1)
	}

	got := featMustDecodeMessage(t, convReact(srv, "bob", g.ID, m1.Seq, "👍"), http.StatusOK)
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 1, Me: true}}, got.Reactions)
	want := chat.Event{Type: chat.EventReactionAdded, ChatID: g.ID, Seq: 2, UserID: "bob",
		Reaction: &chat.ReactionEvent{MessageSeq: m1.Seq, Emoji: "👍", Count: 1}}
	featExpectAll(t, want, conns...)

	// Reacting twice is one reaction: the answer is the same, with no event.
	again := featMustDecodeMessage(t, convReact(srv, "bob", g.ID, m1.Seq, "👍"), http.StatusOK)
	require.Equal(t, got, again)
	got = featMustDecodeMessage(t, convReact(srv, "alice", g.ID, m1.Seq, "👍"), http.StatusOK)
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 2, Me: true}}, got.Reactions)
	featExpectAll(t, chat.Event{Type: chat.EventReactionAdded, ChatID: g.ID, Seq: 3, UserID: "alice",
		Reaction: &chat.ReactionEvent{MessageSeq: m1.Seq, Emoji: "👍", Count: 2}}, conns...)
	featMustDecodeMessage(t, convReact(srv, "alice", g.ID, m1.Seq, ":party:"), http.StatusOK)
	featExpectAll(t, chat.Event{Type: chat.EventReactionAdded, ChatID: g.ID, Seq: 4, UserID: "alice",
		Reaction: &chat.ReactionEvent{MessageSeq: m1.Seq, Emoji: ":party:", Count: 1}}, conns...)

	// Each member sees whether they reacted.
	page := restListMessages(t, srv, "bob", g.ID, "")
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 2, Me: true}, {Emoji: ":party:", Count: 1}}, page.Messages[0].Reactions)
	r := srv.Do("bob", http.MethodGet, "/chats/"+g.ID+"/messages", nil)
	require.Contains(t, string(r.Body), `"reactions":[{"emoji":"👍","count":2,"me":true},{"emoji":":party:","count":1,"me":false}]`)

	got = featMustDecodeMessage(t, convUnreact(srv, "bob", g.ID, m1.Seq, "👍"), http.StatusOK)
	require.Equal(t, []chat.Reaction{{Emoji: "👍", Count: 1}, {Emoji: ":party:", Count: 1}}, got.Reactions)
	featExpectAll(t, chat.Event{Type: chat.EventReactionRemoved, ChatID: g.ID, Seq: 5, UserID: "bob",
		Reaction: &chat.ReactionEvent{MessageSeq: m1.Seq, Emoji: "👍", Count: 1}}, conns...)
	// Removing what is not there changes nothing either.
	require.Equal(t, got, featMustDecodeMessage(t, convUnreact(srv, "bob", g.ID, m1.Seq, "👍"), http.StatusOK))

	// The distinct emojis of a message are bounded; the ones it has are not.
	featMustDecodeMessage(t, convReact(srv, "bob", g.ID, m1.Seq, "🎉"), http.StatusOK)
	featExpect(t, alice, chat.EventReactionAdded, g.ID, 6)
	featExpect(t, bob, chat.EventReactionAdded, g.ID, 6)
	restRequireError(t, convReact(srv, "bob", g.ID, m1.Seq, "❤️"), http.StatusBadRequest, "invalid_request")
	featMustDecodeMessage(t, convReact(srv, "bob", g.ID, m1.Seq, ":party:"), http.StatusOK)
	featExpect(t, alice, chat.EventReactionAdded, g.ID, 7)
	featExpect(t, bob, chat.EventReactionAdded, g.ID, 7)

	// Refusals.
	restRequireError(t, convReact(srv, "carol", g.ID, m1.Seq, "👍"), http.StatusNotFound, "not_found")
	restRequireError(t, convUnreact(srv, "carol", g.ID, m1.Seq, "👍"), http.StatusNotFound, "not_found")
	restRequireError(t, convReact(srv, "alice", "0123456789abcdef0123456789abcdef", 1, "👍"), http.StatusNotFound, "not_found")
	restRequireError(t, convReact(srv, "alice", g.ID, 99, "👍"), http.StatusNotFound, "not_found")
	restRequireError(t, convReact(srv, "alice", g.ID, 2, "👍"), http.StatusNotFound, "not_found") // a reaction event
	for _, seq := range []string{"x", "0", "-1"} {
		restRequireError(t, convReact(srv, "alice", g.ID, seq, "👍"), http.StatusBadRequest, "invalid_request")
	}
	for _, emoji := range []string{strings.Repeat("a", chat.MaxEmojiBytes+1), "a b", "a\tb", "a/b", "\x7f"} {
		restRequireError(t, convReact(srv, "alice", g.ID, m1.Seq, emoji), http.StatusBadRequest, "invalid_request")
	}
	restRequireError(t, srv.Do("alice", http.MethodPost, convReactionPath(g.ID, m1.Seq, "👍"), nil), http.StatusMethodNotAllowed, "method_not_allowed")
	restRequireError(t, srv.Do("alice", http.MethodPut, convReactionPath(g.ID, m1.Seq, "👍")+"/x", nil), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("alice", http.MethodPut, fmt.Sprintf("/chats/%s/messages/%d/likes/x", g.ID, m1.Seq), nil), http.StatusNotFound, "not_found")
	crossSite := chattest.WithHeader("Sec-Fetch-Site", "cross-site")
	restRequireError(t, srv.As("alice").Do(http.MethodPut, convReactionPath(g.ID, m1.Seq, "👍"), nil, crossSite), http.StatusForbidden, "forbidden")
	restRequireError(t, srv.As("alice").Do(http.MethodDelete, convReactionPath(g.ID, m1.Seq, ":party:"), nil, crossSite), http.StatusForbidden, "forbidden")
	featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, m1.Seq), http.StatusOK)
	featExpect(t, alice, chat.EventMessageDeleted, g.ID, 8)
	featExpect(t, bob, chat.EventMessageDeleted, g.ID, 8)
	restRequireError(t, convReact(srv, "bob", g.ID, m1.Seq, "👍"), http.StatusConflict, "conflict")
	restRequireError(t, convUnreact(srv, "bob", g.ID, m1.Seq, "🎉"), http.StatusConflict, "conflict")

	// None of the refusals took a seq; resuming replays every reaction
	// event, whose counts end at the current ones.
	require.Equal(t, int64(9), mustSend(t, srv, "alice", g.ID, "after").Seq)
	_, replay := srv.Connect("bob", map[string]int64{g.ID: 1})
	require.Len(t, replay, 8)
	require.Equal(t, want, replay[0])
	require.Equal(t, chat.EventReactionRemoved, replay[3].Type)
	require.Equal(t, chat.EventReactionAdded, replay[5].Type)
	require.Equal(t, int64(2), replay[5].Reaction.Count)
}

func TestFeatureReplies(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob")
	other := featGroup(t, srv, "alice", "carol")
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	parent := mustSend(t, srv, "alice", g.ID, "thread starter")
	featExpect(t, bob, chat.EventMessageCreated, g.ID, 1)

	r1 := featMustDecodeMessage(t, srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages",
		chat.SendMessageRequest{Text: "first reply", ReplyTo: parent.Seq}), http.StatusCreated)
	require.Equal(t, parent.Seq, r1.ReplyTo)
	require.Equal(t, &chat.Quote{Sender: "alice", Text: "thread starter"}, r1.Quote)
	ev := featExpect(t, bob, chat.EventMessageCreated, g.ID, 2)
	require.Equal(t, r1, *ev.Message, "the live event carries reply_to and the quote")
	r2 := restSend(t, srv, "alice", g.ID, map[string]any{"text": "second reply", "reply_to": parent.Seq})
	featExpect(t, bob, chat.EventMessageCreated, g.ID, 3)

	// Replies are in the main timeline too; the parent counts them.
	page := restListMessages(t, srv, "bob", g.ID, "")
	require.Equal(t, []int64{1, 2, 3}, restSeqs(page.Messages))
	require.Equal(t, int64(2), page.Messages[0].ReplyCount)
	require.Equal(t, r2.Seq, page.Messages[0].LastReplySeq)
	require.Equal(t, r2.CreatedAt, *page.Messages[0].LastReplyAt)
	r := srv.Do("bob", http.MethodGet, "/chats/"+g.ID+"/messages?after=0&limit=1", nil)
	raw := restFields(t, "messages page", r.Body, "messages")
	var msgs []json.RawMessage
	require.NoError(t, json.Unmarshal(raw["messages"], &msgs))
	restRequireUTC(t, "last_reply_at", restFields(t, "parent", msgs[0], "reply_count", "last_reply_seq", "last_reply_at")["last_reply_at"])

	thread := convRepliesPage(t, srv, "bob", g.ID, parent.Seq, "")
	require.Equal(t, []int64{2, 3}, restSeqs(thread.Messages))
	require.False(t, thread.HasMore)
	thread = convRepliesPage(t, srv, "bob", g.ID, parent.Seq, "limit=1")
	require.Equal(t, []int64{3}, restSeqs(thread.Messages))
	require.True(t, thread.HasMore)
	thread = convRepliesPage(t, srv, "bob", g.ID, parent.Seq, "after=2")
	require.Equal(t, []int64{3}, restSeqs(thread.Messages))
	require.Empty(t, convRepliesPage(t, srv, "bob", g.ID, parent.Seq, "before=0").Messages)
	require.Empty(t, convRepliesPage(t, srv, "bob", g.ID, r1.Seq, "").Messages, "a reply without replies")

	// Refusals: a send naming no live message of the chat, thread pages of
	// what the caller cannot see.
	for _, replyTo := range []int64{99, -1} {
		r := srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", ReplyTo: replyTo})
		restRequireError(t, r, http.StatusBadRequest, "invalid_request")
	}
	mustSend(t, srv, "alice", other.ID, "elsewhere")
	r = srv.Do("carol", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", ReplyTo: 1})
	restRequireError(t, r, http.StatusNotFound, "not_found")
	restRequireError(t, convReplies(srv, "carol", g.ID, parent.Seq, ""), http.StatusNotFound, "not_found")
	restRequireError(t, convReplies(srv, "bob", "0123456789abcdef0123456789abcdef", 1, ""), http.StatusNotFound, "not_found")
	restRequireError(t, convReplies(srv, "bob", g.ID, 99, ""), http.StatusNotFound, "not_found")
	for _, seq := range []string{"x", "0"} {
		restRequireError(t, convReplies(srv, "bob", g.ID, seq, ""), http.StatusBadRequest, "invalid_request")
	}
	restRequireError(t, convReplies(srv, "bob", g.ID, parent.Seq, "before=1&after=1"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, srv.Do("bob", http.MethodPost, fmt.Sprintf("/chats/%s/messages/1/replies", g.ID), nil), http.StatusMethodNotAllowed, "method_not_allowed")

	// Deleting the parent leaves the thread readable and refuses new replies.
	featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, parent.Seq), http.StatusOK)
	featExpect(t, bob, chat.EventMessageDeleted, g.ID, 4)
	thread = convRepliesPage(t, srv, "bob", g.ID, parent.Seq, "")
	require.Equal(t, []int64{2, 3}, restSeqs(thread.Messages))
	require.Equal(t, &chat.Quote{Sender: "alice", Deleted: true}, thread.Messages[0].Quote)
	r = srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "late", ReplyTo: parent.Seq})
	restRequireError(t, r, http.StatusConflict, "conflict")

	// Resuming replays the replies with their parent's seq.
	_, replay := srv.Connect("bob", map[string]int64{g.ID: 1})
	require.Len(t, replay, 3)
	require.Equal(t, parent.Seq, replay[0].Message.ReplyTo)
	require.Equal(t, &chat.Quote{Sender: "alice", Deleted: true}, replay[0].Message.Quote, "replayed as it is now")
}

func TestFeatureMentions(t *testing.T) {
	t.Parallel()
	pushed := make(chan chat.Message, 4)
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{
		Limits: chat.Limits{MaxMentions: 2},
		Hooks:  chat.Hooks{AfterSend: func(_ context.Context, m chat.Message) { pushed <- m }},
	}))
	g := featGroup(t, srv, "alice", "bob", "carol")
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})

	m1 := restSend(t, srv, "alice", g.ID, map[string]any{"text": "@bob @carol look", "mentions": []string{"carol", "bob", "bob"}})
	require.Equal(t, []string{"bob", "carol"}, m1.Mentions, "sorted, without duplicates")
	require.Equal(t, []string{"bob", "carol"}, (<-pushed).Mentions, "AfterSend sees the mentions")
	ev := featExpect(t, bob, chat.EventMessageCreated, g.ID, 1)
	require.Equal(t, m1, *ev.Message)
	mustSend(t, srv, "carol", g.ID, "no mention")
	<-pushed
	restSend(t, srv, "carol", g.ID, map[string]any{"text": "@bob again", "mentions": []string{"bob"}})
	<-pushed

	got := featGetChat(t, srv, "bob", g.ID)
	require.Equal(t, int64(3), got.UnreadCount)
	require.Equal(t, int64(2), got.UnreadMentions)
	listed, ok := featListed(t, srv, "bob", g.ID)
	require.True(t, ok)
	require.Equal(t, int64(2), listed.UnreadMentions)
	r := srv.Do("alice", http.MethodGet, "/chats/"+g.ID, nil)
	require.NotContains(t, string(r.Body), "unread_mentions", "omitted when 0")
	featMarkRead(t, srv, "bob", g.ID, 1)
	require.Equal(t, int64(1), featGetChat(t, srv, "bob", g.ID).UnreadMentions)

	// Refusals: mentions of non-members, too many, malformed; a non-member
	// sender learns nothing.
	for _, mentions := range [][]string{{"dave"}, {"bob", "carol", "alice"}, {""}, {"a\nb"}} {
		r := srv.Do("alice", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", Mentions: mentions})
		restRequireError(t, r, http.StatusBadRequest, "invalid_request")
	}
	r = srv.Do("dave", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", Mentions: []string{"bob"}})
	restRequireError(t, r, http.StatusNotFound, "not_found")
	require.Equal(t, int64(4), mustSend(t, srv, "alice", g.ID, "after").Seq, "refused sends took no seq")
}

// convMinimalStore is a Store without any optional ability.
type convMinimalStore struct{ chat.Store }

func TestFeatureConversationsNeedTheStoresAbilities(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{Store: convMinimalStore{memory.NewStore()}}))
	g := featGroup(t, srv, "alice", "bob")
	m := mustSend(t, srv, "alice", g.ID, "plain sends work")
	for _, r := range []chattest.Response{
		convReact(srv, "bob", g.ID, m.Seq, "👍"),
		convUnreact(srv, "bob", g.ID, m.Seq, "👍"),
		convReplies(srv, "bob", g.ID, m.Seq, ""),
		srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", ReplyTo: m.Seq}),
		srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "x", Mentions: []string{"alice"}}),
	} {
		restRequireError(t, r, http.StatusNotImplemented, "not_implemented")
		require.Contains(t, string(r.Body), "not supported by this server's store")
	}
	require.Zero(t, featGetChat(t, srv, "bob", g.ID).UnreadMentions)
	require.Len(t, restListMessages(t, srv, "bob", g.ID, "").Messages, 1)
}
