package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// These tests hold edits, deletes, read receipts and membership changes to
// the wire contract over real HTTP and WebSocket connections, on one node
// and across nodes sharing a Store and a Broker.

func featGroup(t *testing.T, srv *chattest.Server, creator string, members ...string) chat.Chat {
	t.Helper()
	return mustCreateChat(t, srv, creator, chat.CreateChatRequest{Kind: chat.KindGroup, Members: members})
}

func featDirect(t *testing.T, srv *chattest.Server, creator, other string) chat.Chat {
	t.Helper()
	return mustCreateChat(t, srv, creator, chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{other}})
}

// featEdit sends PATCH /chats/{chatID}/messages/{seq}; seq is anything
// that prints, so that malformed seqs can be sent too.
func featEdit(srv *chattest.Server, user, chatID string, seq any, text string) chattest.Response {
	return srv.Do(user, http.MethodPatch, fmt.Sprintf("/chats/%s/messages/%v", chatID, seq), chat.EditMessageRequest{Text: text})
}

func featDelete(srv *chattest.Server, user, chatID string, seq any) chattest.Response {
	return srv.Do(user, http.MethodDelete, fmt.Sprintf("/chats/%s/messages/%v", chatID, seq), nil)
}

func featAdd(srv *chattest.Server, user, chatID, member string) chattest.Response {
	return srv.Do(user, http.MethodPost, "/chats/"+chatID+"/members", chat.AddMemberRequest{UserID: member})
}

func featRemove(srv *chattest.Server, user, chatID, member string) chattest.Response {
	return srv.Do(user, http.MethodDelete, "/chats/"+chatID+"/members/"+member, nil)
}

func featRead(srv *chattest.Server, user, chatID string, body any) chattest.Response {
	return srv.Do(user, http.MethodPost, "/chats/"+chatID+"/read", body)
}

// featMarkRead marks chatID read up to seq as user, checks the reply's wire
// form and returns the marker it reports.
func featMarkRead(t *testing.T, srv *chattest.Server, user, chatID string, seq int64) int64 {
	t.Helper()
	r := featRead(srv, user, chatID, map[string]int64{"seq": seq})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	raw := restFields(t, "read marker", r.Body, "chat_id", "user_id", "read_seq")
	require.Len(t, raw, 3, "read marker has exactly chat_id, user_id and read_seq: %s", r.Body)
	var m chat.ReadMarker
	r.Decode(t, &m)
	require.Equal(t, chatID, m.ChatID)
	require.Equal(t, user, m.UserID)
	return m.ReadSeq
}

// featChatFields checks the wire form of what a chat object shows its
// viewer: unread_count, last_message, and each member's last_read_seq.
func featChatFields(t *testing.T, raw json.RawMessage) {
	t.Helper()
	fields := restFields(t, "chat object", raw, "unread_count", "last_message", "members")
	var members []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(fields["members"], &members))
	for _, m := range members {
		require.Contains(t, m, "last_read_seq", "member object %s", fields["members"])
	}
}

// featGetChat fetches chatID as user with GET /chats/{id}.
func featGetChat(t *testing.T, srv *chattest.Server, user, chatID string) chat.Chat {
	t.Helper()
	r := srv.Do(user, http.MethodGet, "/chats/"+chatID, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	featChatFields(t, r.Body)
	return restChatObject(t, r.Body)
}

// featListed finds chatID in user's GET /chats, checking the wire form of
// every chat listed.
func featListed(t *testing.T, srv *chattest.Server, user, chatID string) (chat.Chat, bool) {
	t.Helper()
	r := srv.Do(user, http.MethodGet, "/chats", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var page struct {
		Chats []json.RawMessage `json:"chats"`
	}
	r.Decode(t, &page)
	for _, raw := range page.Chats {
		featChatFields(t, raw)
		c := restChatObject(t, raw)
		if c.ID == chatID {
			return c, true
		}
	}
	return chat.Chat{}, false
}

func featMember(t *testing.T, c chat.Chat, user string) chat.Member {
	t.Helper()
	for _, m := range c.Members {
		if m.UserID == user {
			return m
		}
	}
	require.Failf(t, "no such member", "%s is not among the members %v", user, restUserIDs(c))
	return chat.Member{}
}

// featExpect reads the next event of c and checks its type, chat and seq.
func featExpect(t *testing.T, c *chattest.Conn, typ chat.EventType, chatID string, seq int64) chat.Event {
	t.Helper()
	ev := c.Next()
	require.Equal(t, typ, ev.Type, "event %+v", ev)
	require.Equal(t, chatID, ev.ChatID, "event %+v", ev)
	require.Equal(t, seq, ev.Seq, "event %+v", ev)
	if ev.Message != nil {
		require.Equal(t, chatID, ev.Message.ChatID)
	}
	return ev
}

// featExpectAll reads one event from each of conns and checks that it is
// want.
func featExpectAll(t *testing.T, want chat.Event, conns ...*chattest.Conn) {
	t.Helper()
	for i, c := range conns {
		require.Equal(t, want, c.Next(), "connection %d", i)
	}
}

func featMustDecodeMessage(t *testing.T, r chattest.Response, status int) chat.Message {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	return restMessageObject(t, r.Body)
}

func TestFeatureEditMessage(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob")
	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	conns := []*chattest.Conn{alice, bob}

	m1 := mustSend(t, srv, "alice", g.ID, "hello")
	m2 := mustSend(t, srv, "bob", g.ID, "hi alice")
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 1)
		featExpect(t, c, chat.EventMessageCreated, g.ID, 2)
	}

	r := featEdit(srv, "alice", g.ID, m1.Seq, "hello, edited")
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	raw := restFields(t, "edited message", r.Body, "edited_at", "deleted")
	restRequireUTC(t, "edited_at", raw["edited_at"])
	require.JSONEq(t, "false", string(raw["deleted"]))
	edited := restMessageObject(t, r.Body)
	require.Equal(t, m1.Seq, edited.Seq, "an edit keeps the message's seq")
	require.Equal(t, "hello, edited", edited.Text)
	require.Equal(t, "alice", edited.Sender)
	require.Equal(t, m1.CreatedAt, edited.CreatedAt)
	require.NotNil(t, edited.EditedAt)
	require.False(t, edited.EditedAt.Before(m1.CreatedAt), "edited_at %v before created_at %v", edited.EditedAt, m1.CreatedAt)
	for _, c := range conns {
		ev := featExpect(t, c, chat.EventMessageUpdated, g.ID, 3)
		require.Equal(t, edited, *ev.Message, "the event carries the edited message with its own seq")
	}

	restRequireError(t, featEdit(srv, "bob", g.ID, m1.Seq, "mine now"), http.StatusForbidden, "forbidden")
	restRequireError(t, featEdit(srv, "carol", g.ID, m1.Seq, "x"), http.StatusNotFound, "not_found")
	restRequireError(t, featEdit(srv, "alice", "0123456789abcdef0123456789abcdef", 1, "x"), http.StatusNotFound, "not_found")
	restRequireError(t, featEdit(srv, "alice", g.ID, 99, "x"), http.StatusNotFound, "not_found")
	restRequireError(t, featEdit(srv, "alice", g.ID, 3, "x"), http.StatusNotFound, "not_found") // the message.updated event
	for _, seq := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		restRequireError(t, featEdit(srv, "alice", g.ID, seq, "x"), http.StatusBadRequest, "invalid_request")
	}
	for _, text := range []string{"", " \n\t ", strings.Repeat("é", chat.DefaultMaxTextRunes+1)} {
		restRequireError(t, featEdit(srv, "alice", g.ID, m1.Seq, text), http.StatusBadRequest, "invalid_request")
	}
	for _, body := range []string{"{}", "not json", `{"text":7}`} {
		r := srv.Do("alice", http.MethodPatch, fmt.Sprintf("/chats/%s/messages/%d", g.ID, m1.Seq), body)
		restRequireError(t, r, http.StatusBadRequest, "invalid_request")
	}

	// A member event's seq names no message.
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "dave").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 4, UserID: "dave"}, conns...)
	restRequireError(t, featEdit(srv, "alice", g.ID, 4, "x"), http.StatusNotFound, "not_found")

	featMustDecodeMessage(t, featDelete(srv, "bob", g.ID, m2.Seq), http.StatusOK)
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageDeleted, g.ID, 5)
	}
	restRequireError(t, featEdit(srv, "bob", g.ID, m2.Seq, "undelete"), http.StatusConflict, "conflict")

	// None of the refused edits took a seq or sent an event.
	m6 := mustSend(t, srv, "alice", g.ID, "after")
	require.Equal(t, int64(6), m6.Seq)
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 6)
	}

	again := featMustDecodeMessage(t, featEdit(srv, "alice", g.ID, m1.Seq, "hello, twice"), http.StatusOK)
	require.NotNil(t, again.EditedAt)
	require.False(t, again.EditedAt.Before(*edited.EditedAt), "edited_at is the latest edit")
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageUpdated, g.ID, 7)
	}

	page := restListMessages(t, srv, "bob", g.ID, "")
	require.Equal(t, []int64{1, 2, 6}, restSeqs(page.Messages))
	require.Equal(t, again, page.Messages[0])
	require.True(t, page.Messages[1].Deleted)
	require.Nil(t, page.Messages[2].EditedAt, "an unedited message has no edited_at")
}

func TestFeatureDeleteMessage(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob")
	r := srv.Do("alice", http.MethodGet, "/chats/"+g.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, "null", string(restFields(t, "chat", r.Body, "last_message")["last_message"]),
		"a chat without messages has a null last_message")

	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	conns := []*chattest.Conn{alice, bob}
	m1 := restSend(t, srv, "alice", g.ID, map[string]any{"text": "secret", "metadata": map[string]any{"k": 1}})
	m2 := mustSend(t, srv, "bob", g.ID, "reply")
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 1)
		featExpect(t, c, chat.EventMessageCreated, g.ID, 2)
	}

	restRequireError(t, featDelete(srv, "bob", g.ID, m1.Seq), http.StatusForbidden, "forbidden")
	restRequireError(t, featDelete(srv, "carol", g.ID, m1.Seq), http.StatusNotFound, "not_found")
	restRequireError(t, featDelete(srv, "alice", g.ID, 99), http.StatusNotFound, "not_found")
	for _, seq := range []string{"x", "0", "-2"} {
		restRequireError(t, featDelete(srv, "alice", g.ID, seq), http.StatusBadRequest, "invalid_request")
	}

	r = featDelete(srv, "alice", g.ID, m1.Seq)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	raw := restFields(t, "tombstone", r.Body, "deleted", "text", "metadata")
	require.JSONEq(t, "true", string(raw["deleted"]))
	require.JSONEq(t, `""`, string(raw["text"]))
	require.JSONEq(t, "null", string(raw["metadata"]))
	tomb := restMessageObject(t, r.Body)
	require.Equal(t, m1.Seq, tomb.Seq)
	require.Equal(t, "alice", tomb.Sender)
	require.Equal(t, m1.CreatedAt, tomb.CreatedAt)
	for _, c := range conns {
		ev := featExpect(t, c, chat.EventMessageDeleted, g.ID, 3)
		require.Equal(t, tomb, *ev.Message)
	}

	again := featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, m1.Seq), http.StatusOK)
	require.Equal(t, tomb, again, "deleting twice answers with the tombstone")
	m4 := mustSend(t, srv, "alice", g.ID, "after")
	require.Equal(t, int64(4), m4.Seq, "the second delete took no seq")
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 4) // and sent no event
	}

	page := restListMessages(t, srv, "bob", g.ID, "")
	require.Equal(t, []chat.Message{tomb, m2, m4}, page.Messages, "the tombstone keeps its place")

	tomb4 := featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, m4.Seq), http.StatusOK)
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageDeleted, g.ID, 5)
	}
	got := featGetChat(t, srv, "bob", g.ID)
	require.Equal(t, int64(5), got.LastSeq)
	require.NotNil(t, got.LastMessage)
	require.Equal(t, tomb4, *got.LastMessage, "last_message is the newest message's tombstone")
	require.True(t, got.LastMessage.Deleted)
	listed, ok := featListed(t, srv, "alice", g.ID)
	require.True(t, ok)
	require.Equal(t, &tomb4, listed.LastMessage)
}

func TestFeatureReadMarkers(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob")
	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	bob1, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	bob2, _ := srv.Connect("bob", map[string]int64{g.ID: 0}) // bob's other device
	conns := []*chattest.Conn{alice, bob1, bob2}
	readEvent := func(user string, seq int64) chat.Event {
		return chat.Event{Type: chat.EventRead, ChatID: g.ID, UserID: user, ReadSeq: seq}
	}
	unread := func(user string) int64 {
		t.Helper()
		c := featGetChat(t, srv, user, g.ID)
		listed, ok := featListed(t, srv, user, g.ID)
		require.True(t, ok)
		require.Equal(t, c.UnreadCount, listed.UnreadCount, "GET /chats and GET /chats/{id} agree")
		return c.UnreadCount
	}

	for i, sender := range []string{"alice", "alice", "alice", "bob", "alice"} {
		mustSend(t, srv, sender, g.ID, fmt.Sprint("m", i+1))
	}
	for _, c := range conns {
		for seq := int64(1); seq <= 5; seq++ {
			featExpect(t, c, chat.EventMessageCreated, g.ID, seq)
		}
	}
	c := featGetChat(t, srv, "bob", g.ID)
	require.Equal(t, int64(4), c.UnreadCount, "alice's four messages")
	require.Equal(t, int64(5), c.LastMessage.Seq)
	for _, m := range c.Members {
		require.Zero(t, m.LastReadSeq, "initial members start at 0")
	}
	require.Equal(t, int64(1), unread("alice"), "own messages are never unread")

	require.Equal(t, int64(2), featMarkRead(t, srv, "bob", g.ID, 2))
	featExpectAll(t, readEvent("bob", 2), conns...)
	require.Equal(t, int64(2), unread("bob"))
	require.Equal(t, int64(2), featMember(t, featGetChat(t, srv, "alice", g.ID), "bob").LastReadSeq)

	require.Equal(t, int64(2), featMarkRead(t, srv, "bob", g.ID, 1), "never backward")
	require.Equal(t, int64(2), featMarkRead(t, srv, "bob", g.ID, 2))
	require.Equal(t, int64(5), featMarkRead(t, srv, "bob", g.ID, 1000), "clamped to the last seq")
	featExpectAll(t, readEvent("bob", 5), conns...) // and nothing for the calls that did not move it
	require.Equal(t, int64(0), unread("bob"))

	mustSend(t, srv, "alice", g.ID, "m6")
	mustSend(t, srv, "alice", g.ID, "m7")
	featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, 7), http.StatusOK)
	mustSend(t, srv, "bob", g.ID, "m9")
	featMustDecodeMessage(t, featEdit(srv, "alice", g.ID, 6, "m6 edited"), http.StatusOK)
	for _, c := range conns {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 6)
		featExpect(t, c, chat.EventMessageCreated, g.ID, 7)
		featExpect(t, c, chat.EventMessageDeleted, g.ID, 8)
		featExpect(t, c, chat.EventMessageCreated, g.ID, 9)
		featExpect(t, c, chat.EventMessageUpdated, g.ID, 10)
	}
	require.Equal(t, int64(1), unread("bob"), "seq 6 only: 7 is deleted, 9 is bob's own, 8 and 10 are not messages")
	require.Equal(t, int64(2), unread("alice"), "bob's seqs 4 and 9")

	require.Equal(t, int64(4), featMarkRead(t, srv, "alice", g.ID, 4))
	featExpectAll(t, readEvent("alice", 4), conns...)
	require.Equal(t, int64(1), unread("alice"))

	for _, body := range []string{`{"seq":-1}`, `{"seq":1.5}`, `{"seq":"3"}`, `{}`, `{"seq":null}`, ``, `[]`, `not json`} {
		restRequireError(t, featRead(srv, "bob", g.ID, body), http.StatusBadRequest, "invalid_request")
	}
	restRequireError(t, featRead(srv, "dave", g.ID, map[string]int64{"seq": 1}), http.StatusNotFound, "not_found")
	restRequireError(t, featRead(srv, "bob", "0123456789abcdef0123456789abcdef", map[string]int64{"seq": 1}), http.StatusNotFound, "not_found")

	require.Equal(t, int64(10), featMarkRead(t, srv, "bob", g.ID, 1000), "clamped to the last seq, an edit's")
	featExpectAll(t, readEvent("bob", 10), conns...)
	require.Equal(t, int64(0), unread("bob"))
	got := featGetChat(t, srv, "bob", g.ID)
	require.Equal(t, int64(4), featMember(t, got, "alice").LastReadSeq)
	require.Equal(t, int64(10), featMember(t, got, "bob").LastReadSeq)
}

func TestFeatureMembers(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob")
	d := featDirect(t, srv, "alice", "bob")
	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{g.ID: 0})
	carol, _ := srv.Connect("carol", nil)
	for _, sender := range []string{"alice", "alice", "bob"} {
		mustSend(t, srv, sender, g.ID, "before carol")
	}
	for _, c := range []*chattest.Conn{alice, bob} {
		for seq := int64(1); seq <= 3; seq++ {
			featExpect(t, c, chat.EventMessageCreated, g.ID, seq)
		}
	}

	r := featAdd(srv, "bob", g.ID, "carol") // any member may add
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	featChatFields(t, r.Body)
	added := restChatObject(t, r.Body)
	require.Equal(t, []string{"alice", "bob", "carol"}, restUserIDs(added))
	require.Equal(t, int64(4), added.LastSeq)
	require.Equal(t, int64(4), featMember(t, added, "carol").LastReadSeq, "a new member has read up to their member.added")
	require.Zero(t, featMember(t, added, "alice").LastReadSeq)
	featExpectAll(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 4, UserID: "carol"}, alice, bob)

	ev := carol.Next()
	require.Equal(t, chat.EventChatCreated, ev.Type, "the new member's connection learns of the chat first: %+v", ev)
	require.Equal(t, g.ID, ev.ChatID)
	require.NotNil(t, ev.Chat)
	require.Contains(t, restUserIDs(*ev.Chat), "carol")
	// The connection now follows the chat, through to carol's own arrival.
	for prev := int64(0); prev < 4; {
		ev := carol.Next()
		require.Equal(t, g.ID, ev.ChatID, "event %+v", ev)
		require.Greater(t, ev.Seq, prev, "event %+v", ev)
		prev = ev.Seq
		if prev == 4 {
			require.Equal(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 4, UserID: "carol"}, ev)
		}
	}
	require.Equal(t, []int64{1, 2, 3}, restSeqs(restListMessages(t, srv, "carol", g.ID, "").Messages), "the history is readable")
	carolView := featGetChat(t, srv, "carol", g.ID)
	require.Zero(t, carolView.UnreadCount, "history from before joining is not unread")
	require.Equal(t, int64(4), featMember(t, carolView, "carol").LastReadSeq)

	r = featAdd(srv, "alice", g.ID, "carol")
	require.Equal(t, http.StatusOK, r.Status, "already a member: body %s", r.Body)
	require.Equal(t, int64(4), restChatObject(t, r.Body).LastSeq)
	require.Equal(t, int64(5), mustSend(t, srv, "alice", g.ID, "welcome carol").Seq, "re-adding took no seq")
	for _, c := range []*chattest.Conn{alice, bob, carol} {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 5) // and sent no event
	}
	require.Equal(t, int64(1), featGetChat(t, srv, "carol", g.ID).UnreadCount)

	restRequireError(t, featAdd(srv, "dave", g.ID, "erin"), http.StatusNotFound, "not_found")
	restRequireError(t, featRemove(srv, "dave", g.ID, "bob"), http.StatusNotFound, "not_found")
	restRequireError(t, featRemove(srv, "dave", g.ID, "dave"), http.StatusNotFound, "not_found")
	restRequireError(t, featAdd(srv, "alice", d.ID, "carol"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, featRemove(srv, "alice", d.ID, "bob"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, featRemove(srv, "bob", d.ID, "bob"), http.StatusBadRequest, "invalid_request")
	for _, body := range []string{`{"user_id":""}`, `{"user_id":7}`, `{}`, `not json`} {
		r := srv.Do("alice", http.MethodPost, "/chats/"+g.ID+"/members", body)
		restRequireError(t, r, http.StatusBadRequest, "invalid_request")
	}
	restRequireError(t, featRemove(srv, "bob", g.ID, "carol"), http.StatusForbidden, "forbidden")
	restRequireError(t, featRemove(srv, "alice", g.ID, "dave"), http.StatusNotFound, "not_found")

	r = featRemove(srv, "bob", g.ID, "bob")
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 6, UserID: "bob"}, alice, carol, bob)
	r = featRemove(srv, "alice", g.ID, "carol") // the creator removes another
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 7, UserID: "carol"}, alice, carol)

	for _, user := range []string{"bob", "carol"} {
		restRequireError(t, srv.Do(user, http.MethodGet, "/chats/"+g.ID, nil), http.StatusNotFound, "not_found")
		restRequireError(t, srv.Do(user, http.MethodGet, "/chats/"+g.ID+"/messages", nil), http.StatusNotFound, "not_found")
		restRequireError(t, srv.Do(user, http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: "still here?"}), http.StatusNotFound, "not_found")
		restRequireError(t, featRead(srv, user, g.ID, map[string]int64{"seq": 1}), http.StatusNotFound, "not_found")
		restRequireError(t, featEdit(srv, user, g.ID, 3, "x"), http.StatusNotFound, "not_found")
		restRequireError(t, featAdd(srv, user, g.ID, user), http.StatusNotFound, "not_found")
		_, listed := featListed(t, srv, user, g.ID)
		require.False(t, listed, "%s's chat list still has the chat", user)
	}
	_, listed := featListed(t, srv, "bob", d.ID)
	require.True(t, listed, "other chats are untouched")
	left := featGetChat(t, srv, "alice", g.ID)
	require.Equal(t, []string{"alice"}, restUserIDs(left))
	require.Equal(t, int64(7), left.LastSeq)
}

// featRemovedMemberGoesSilent removes bob, connected to b, through a, and
// checks that his connection gets member.removed and then nothing of the
// chat, however the chat's members carry on. settle waits until a's
// notifications have reached the other nodes, so that no chat.created of
// the chats arrives after the connections (harmless, but not what the
// test reads).
func featRemovedMemberGoesSilent(t *testing.T, a, b *chattest.Server, settle func()) {
	g := featGroup(t, a, "alice", "bob", "carol")
	d := featDirect(t, a, "alice", "bob")
	settle()
	positions := map[string]int64{g.ID: 0, d.ID: 0}
	bob, _ := b.Connect("bob", positions)
	watcher, _ := b.Connect("alice", positions) // sees on bob's node what bob must not
	carol, _ := a.Connect("carol", positions)

	mustSend(t, a, "alice", g.ID, "before")
	for _, c := range []*chattest.Conn{bob, watcher, carol} {
		featExpect(t, c, chat.EventMessageCreated, g.ID, 1)
	}
	r := featRemove(a, "alice", g.ID, "bob")
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 2, UserID: "bob"}, bob, watcher)

	// Bob's typing in g goes nowhere now; his typing in d, sent after it
	// on the same connection, shows that the first was handled.
	bob.Send(map[string]string{"type": "typing", "chat_id": g.ID})
	bob.Send(map[string]string{"type": "typing", "chat_id": d.ID})
	require.Equal(t, chat.Event{Type: chat.EventTyping, ChatID: d.ID, UserID: "bob"}, watcher.Next())

	// The chat carries on; the watcher, on bob's node, sees each step
	// before the next is taken.
	mustSend(t, a, "alice", g.ID, "after")
	featExpect(t, watcher, chat.EventMessageCreated, g.ID, 3)
	carol.Send(map[string]string{"type": "typing", "chat_id": g.ID})
	require.Equal(t, chat.Event{Type: chat.EventTyping, ChatID: g.ID, UserID: "carol"}, watcher.Next())
	featMustDecodeMessage(t, featEdit(a, "alice", g.ID, 1, "before, edited"), http.StatusOK)
	featExpect(t, watcher, chat.EventMessageUpdated, g.ID, 4)
	featMustDecodeMessage(t, featDelete(a, "alice", g.ID, 3), http.StatusOK)
	featExpect(t, watcher, chat.EventMessageDeleted, g.ID, 5)
	featMarkRead(t, a, "carol", g.ID, 5)
	require.Equal(t, chat.Event{Type: chat.EventRead, ChatID: g.ID, UserID: "carol", ReadSeq: 5}, watcher.Next())
	require.Equal(t, http.StatusCreated, featAdd(a, "alice", g.ID, "dave").Status)
	featExpect(t, watcher, chat.EventMemberAdded, g.ID, 6)
	mustSend(t, a, "alice", g.ID, "last")
	featExpect(t, watcher, chat.EventMessageCreated, g.ID, 7)

	// The barrier: an event of another chat bob is still in. Whatever of
	// g had reached bob would come before it.
	mustSend(t, a, "alice", d.ID, "barrier")
	featExpect(t, watcher, chat.EventMessageCreated, d.ID, 1)
	ev := bob.Next()
	require.Equal(t, d.ID, ev.ChatID, "bob got an event of the chat he was removed from: %+v", ev)
	require.Equal(t, chat.EventMessageCreated, ev.Type)
	require.Equal(t, "barrier", ev.Message.Text)

	for _, srv := range []*chattest.Server{a, b} {
		restRequireError(t, srv.Do("bob", http.MethodGet, "/chats/"+g.ID, nil), http.StatusNotFound, "not_found")
		_, listed := featListed(t, srv, "bob", g.ID)
		require.False(t, listed)
	}

	// Added back, the same connection follows the chat again.
	r = featAdd(a, "alice", g.ID, "bob")
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	back := restChatObject(t, r.Body)
	require.Equal(t, int64(8), featMember(t, back, "bob").LastReadSeq)
	ev = bob.Next()
	require.Equal(t, chat.EventChatCreated, ev.Type, "event %+v", ev)
	require.Equal(t, g.ID, ev.ChatID)
	mustSend(t, a, "alice", g.ID, "welcome back")
	for {
		ev := bob.Next()
		require.Equal(t, g.ID, ev.ChatID, "event %+v", ev)
		if ev.Seq == 9 {
			require.Equal(t, "welcome back", ev.Message.Text)
			break
		}
	}
}

func TestFeatureRemovedMemberGoesSilent(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	featRemovedMemberGoesSilent(t, srv, srv, func() {})
}

func TestFeatureRemovedMemberGoesSilentAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 2, memory.NewBroker())
	featRemovedMemberGoesSilent(t, chattest.NewServer(t, nodes[0]), chattest.NewServer(t, nodes[1]),
		func() { chat.WaitPublished(nodes[0]) })
}

func TestFeatureResumeReplaysEditsDeletesAndMembership(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob", "carol")
	mustSend(t, srv, "alice", g.ID, "one")
	mustSend(t, srv, "alice", g.ID, "two")
	mustSend(t, srv, "bob", g.ID, "three")
	bob, replay := srv.Connect("bob", map[string]int64{g.ID: 0})
	require.Len(t, replay, 3)
	bob.Close()

	edited := featMustDecodeMessage(t, featEdit(srv, "alice", g.ID, 1, "one, edited"), http.StatusOK)
	tomb := featMustDecodeMessage(t, featDelete(srv, "alice", g.ID, 2), http.StatusOK)
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "dave").Status)
	require.Equal(t, http.StatusNoContent, featRemove(srv, "alice", g.ID, "carol").Status)

	bob, replay = srv.Connect("bob", map[string]int64{g.ID: 3})
	want := []chat.Event{
		{Type: chat.EventMessageUpdated, ChatID: g.ID, Seq: 4, Message: &edited},
		{Type: chat.EventMessageDeleted, ChatID: g.ID, Seq: 5, Message: &tomb},
		{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 6, UserID: "dave"},
		{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 7, UserID: "carol"},
	}
	require.Equal(t, want, replay)
	mustSend(t, srv, "alice", g.ID, "live")
	featExpect(t, bob, chat.EventMessageCreated, g.ID, 8)

	// From the start, message events carry the message as it is now, so a
	// client applying them in order ends in the current state.
	_, full := srv.Connect("bob", map[string]int64{g.ID: 0})
	require.Len(t, full, 8)
	require.Equal(t, chat.Event{Type: chat.EventMessageCreated, ChatID: g.ID, Seq: 1, Message: &edited}, full[0])
	require.Equal(t, chat.Event{Type: chat.EventMessageCreated, ChatID: g.ID, Seq: 2, Message: &tomb}, full[1])
	require.Equal(t, want, full[3:7])

	// The removed member resuming from before her removal gets nothing
	// after it.
	_, replay = srv.Connect("carol", map[string]int64{g.ID: 3})
	for _, ev := range replay {
		require.LessOrEqual(t, ev.Seq, int64(7), "event %+v", ev)
	}
	if len(replay) > 0 {
		require.Equal(t, want[3], replay[len(replay)-1])
	}

	// Added back, she resumes from the same old position: she is a member,
	// so every later event is hers, her removal included, and live events
	// follow.
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "carol").Status)
	carol, replay := srv.Connect("carol", map[string]int64{g.ID: 3})
	seqs := make([]int64, len(replay))
	for i, ev := range replay {
		seqs[i] = ev.Seq
	}
	require.Equal(t, restSeqRange(4, 9), seqs)
	require.Equal(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 9, UserID: "carol"}, replay[5])
	mustSend(t, srv, "alice", g.ID, "welcome back")
	featExpect(t, carol, chat.EventMessageCreated, g.ID, 10)
}

// Senders write into a group while the reader's two devices mark it read:
// one with the seqs it receives, the other with seqs that may lag or run
// ahead. The marker never goes back, and the unread count matches a
// recount from the messages.
func TestFeatureReadMarkersUnderConcurrentSendsAndReads(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "reader", "s0", "s1", "s2")
	device, _ := srv.Connect("reader", map[string]int64{g.ID: 0})

	const perSender = 30
	var senderWG sync.WaitGroup
	for i, s := range []string{"s0", "s1", "s2", "reader"} {
		senderWG.Add(1)
		go func() {
			defer senderWG.Done()
			n := perSender
			if s == "reader" {
				n = 10 // the reader's own messages are never unread to it
			}
			for j := range n {
				r := srv.Do(s, http.MethodPost, "/chats/"+g.ID+"/messages", chat.SendMessageRequest{Text: fmt.Sprint(s, " ", j)})
				if !assert.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body) {
					return
				}
				if i == 0 && j%4 == 0 { // some messages are deleted again
					var m chat.Message
					if !assert.NoError(t, json.Unmarshal(r.Body, &m)) {
						return
					}
					r = featDelete(srv, s, g.ID, m.Seq)
					assert.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
				}
			}
		}()
	}

	// highest is the highest marker any reply has reported. A request
	// made after a reply arrived must not report less: the marker never
	// goes back, whichever device moves it.
	var mu sync.Mutex
	var highest int64
	current := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return highest
	}
	markRead := func(device string, seq int64) (int64, bool) {
		floor := current()
		r := featRead(srv, "reader", g.ID, map[string]int64{"seq": seq})
		if !assert.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body) {
			return 0, false
		}
		var m chat.ReadMarker
		if !assert.NoError(t, json.Unmarshal(r.Body, &m)) {
			return 0, false
		}
		mu.Lock()
		highest = max(highest, m.ReadSeq)
		mu.Unlock()
		return m.ReadSeq, assert.GreaterOrEqual(t, m.ReadSeq, floor, "%s asked for %d: the marker went back", device, seq)
	}

	// The first device marks read what it receives, for the first 60
	// messages, so that later ones stay unread.
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		marked := 0
		for {
			f, err := device.ReadFrame(chattest.Timeout)
			if !assert.NoError(t, err) {
				return
			}
			if f.Type != chat.EventMessageCreated {
				continue
			}
			if f.Message.Text == "done" {
				return
			}
			if marked < 60 {
				marked++
				reply, ok := markRead("device 1", f.Seq)
				if !ok || !assert.GreaterOrEqual(t, reply, f.Seq, "a seq that exists is not clamped below itself") {
					return
				}
			}
		}
	}()
	// The second is a stale device, asking for seqs behind the marker,
	// and now and then one ahead of the chat.
	go func() {
		defer readers.Done()
		for i := range 60 {
			seq := max(current()-3, 1)
			if i%5 == 0 {
				seq = current() + 10
			}
			if _, ok := markRead("device 2", seq); !ok {
				return
			}
		}
	}()

	senderWG.Wait()
	mustSend(t, srv, "s1", g.ID, "done")
	readers.Wait()
	if t.Failed() {
		return
	}
	// However far the devices got, these stay unread.
	mustSend(t, srv, "s2", g.ID, "unread 1")
	mustSend(t, srv, "reader", g.ID, "own")
	gone := mustSend(t, srv, "s2", g.ID, "deleted")
	featMustDecodeMessage(t, featDelete(srv, "s2", g.ID, gone.Seq), http.StatusOK)
	mustSend(t, srv, "s0", g.ID, "unread 2")

	c := featGetChat(t, srv, "reader", g.ID)
	marker := featMember(t, c, "reader").LastReadSeq
	require.Equal(t, highest, marker, "the marker is the highest any reply reported")
	msgs := restListMessages(t, srv, "reader", g.ID, "limit=200").Messages
	require.Len(t, msgs, 3*perSender+10+5)
	var recount, othersFor0 int64
	for _, m := range msgs {
		if m.Deleted {
			continue
		}
		if m.Sender != "reader" && m.Seq > marker {
			recount++
		}
		if m.Sender != "s0" {
			othersFor0++
		}
	}
	require.GreaterOrEqual(t, recount, int64(2), "the messages sent last are unread")
	require.Equal(t, recount, c.UnreadCount)
	listed, ok := featListed(t, srv, "reader", g.ID)
	require.True(t, ok)
	require.Equal(t, recount, listed.UnreadCount)
	require.Equal(t, othersFor0, featGetChat(t, srv, "s0", g.ID).UnreadCount, "s0 has read nothing")

	require.Equal(t, c.LastSeq, featMarkRead(t, srv, "reader", g.ID, c.LastSeq))
	require.Zero(t, featGetChat(t, srv, "reader", g.ID).UnreadCount)
}

func TestFeatureHooksOnEditsAndMembers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var drafts []chat.Draft
	var actions []chat.Action
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		Users: directory{"alice": "Alice", "bob": "Bob", "carol": "Carol", "mallory": "Mallory"},
		BeforeSend: func(_ context.Context, d *chat.Draft) error {
			mu.Lock()
			drafts = append(drafts, *d)
			mu.Unlock()
			if strings.Contains(d.Text, "spam") {
				return chat.Reject("no spam here")
			}
			d.Text = strings.ReplaceAll(d.Text, "darn", "d**n")
			return nil
		},
		Authorize: func(_ context.Context, a chat.Action) error {
			if a.Kind != chat.ActionAddMember {
				return nil
			}
			mu.Lock()
			actions = append(actions, a)
			mu.Unlock()
			if slices.Contains(a.Members, "mallory") {
				return chat.Deny("mallory may not join")
			}
			return nil
		},
	}})
	srv := chattest.NewServer(t, svc)
	g := featGroup(t, srv, "alice", "bob")
	m := mustSend(t, srv, "alice", g.ID, "hello")
	lastDraft := func() chat.Draft {
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, drafts)
		return drafts[len(drafts)-1]
	}
	require.Zero(t, lastDraft().Seq, "a new message has no seq yet")

	r := featEdit(srv, "alice", g.ID, m.Seq, "buy spam")
	restRequireError(t, r, http.StatusUnprocessableEntity, "rejected")
	require.Contains(t, string(r.Body), "no spam here")
	require.Equal(t, chat.Draft{ChatID: g.ID, Sender: "alice", Seq: m.Seq, Text: "buy spam"}, lastDraft())
	require.Equal(t, "hello", restListMessages(t, srv, "bob", g.ID, "").Messages[0].Text, "a rejected edit changes nothing")

	edited := featMustDecodeMessage(t, featEdit(srv, "alice", g.ID, m.Seq, "darn it"), http.StatusOK)
	require.Equal(t, "d**n it", edited.Text, "the hook rewrites edits too")
	require.Equal(t, m.Seq, lastDraft().Seq)
	require.Equal(t, int64(2), featGetChat(t, srv, "alice", g.ID).LastSeq, "the rejected edit took no seq")

	r = featAdd(srv, "bob", g.ID, "mallory")
	restRequireError(t, r, http.StatusForbidden, "forbidden")
	require.Contains(t, string(r.Body), "mallory may not join")
	mu.Lock()
	require.Contains(t, actions, chat.Action{Kind: chat.ActionAddMember, UserID: "bob", ChatID: g.ID, ChatKind: chat.KindGroup, Members: []string{"mallory"}})
	mu.Unlock()

	r = featAdd(srv, "bob", g.ID, "nobody")
	restRequireError(t, r, http.StatusBadRequest, "invalid_request")
	require.Contains(t, string(r.Body), "unknown user")

	r = featAdd(srv, "bob", g.ID, "carol")
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	c := restChatObject(t, r.Body)
	require.Equal(t, "Carol", featMember(t, c, "carol").DisplayName)
	require.Equal(t, int64(3), c.LastSeq, "refused additions took no seq")
}

// The Go API reports the new operations' failures with the package's
// sentinel errors.
func TestFeatureGoAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{})
	g, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, svc, "bob", map[string]int64{g.ID: 0})
	m, _, err := svc.SendMessage(ctx, "alice", g.ID, chat.SendMessageRequest{Text: "hi"})
	require.NoError(t, err)
	require.Equal(t, int64(1), nextIn(t, bob, g.ID).Seq)

	_, err = svc.EditMessage(ctx, "bob", g.ID, m.Seq, "x")
	require.ErrorIs(t, err, chat.ErrForbidden)
	_, err = svc.EditMessage(ctx, "carol", g.ID, m.Seq, "x")
	require.ErrorIs(t, err, chat.ErrNotFound)
	_, err = svc.EditMessage(ctx, "alice", g.ID, 42, "x")
	require.ErrorIs(t, err, chat.ErrNotFound)
	_, err = svc.EditMessage(ctx, "alice", g.ID, m.Seq, " ")
	require.ErrorIs(t, err, chat.ErrInvalid)
	edited, err := svc.EditMessage(ctx, "alice", g.ID, m.Seq, "hi!")
	require.NoError(t, err)
	require.NotNil(t, edited.EditedAt)
	ev := nextIn(t, bob, g.ID)
	require.Equal(t, chat.Event{Type: chat.EventMessageUpdated, ChatID: g.ID, Seq: 2, Message: &edited}, ev)

	_, err = svc.DeleteMessage(ctx, "bob", g.ID, m.Seq)
	require.ErrorIs(t, err, chat.ErrForbidden)
	tomb, err := svc.DeleteMessage(ctx, "alice", g.ID, m.Seq)
	require.NoError(t, err)
	require.True(t, tomb.Deleted)
	again, err := svc.DeleteMessage(ctx, "alice", g.ID, m.Seq)
	require.NoError(t, err)
	require.Equal(t, tomb, again)
	_, err = svc.EditMessage(ctx, "alice", g.ID, m.Seq, "back")
	require.ErrorIs(t, err, chat.ErrConflict)
	require.Equal(t, chat.EventMessageDeleted, nextIn(t, bob, g.ID).Type)

	read, err := svc.MarkRead(ctx, "bob", g.ID, 100)
	require.NoError(t, err)
	require.Equal(t, int64(3), read)
	require.Equal(t, chat.Event{Type: chat.EventRead, ChatID: g.ID, UserID: "bob", ReadSeq: 3}, nextIn(t, bob, g.ID),
		"the reader's own subscriptions follow its marker")
	_, err = svc.MarkRead(ctx, "bob", g.ID, -1)
	require.ErrorIs(t, err, chat.ErrInvalid)
	_, err = svc.MarkRead(ctx, "carol", g.ID, 1)
	require.ErrorIs(t, err, chat.ErrNotFound)

	c, added, err := svc.AddMember(ctx, "bob", g.ID, "carol")
	require.NoError(t, err)
	require.True(t, added)
	require.Equal(t, int64(4), featMember(t, c, "carol").LastReadSeq)
	_, added, err = svc.AddMember(ctx, "bob", g.ID, "carol")
	require.NoError(t, err)
	require.False(t, added)
	_, _, err = svc.AddMember(ctx, "dave", g.ID, "erin")
	require.ErrorIs(t, err, chat.ErrNotFound)

	require.ErrorIs(t, svc.RemoveMember(ctx, "bob", g.ID, "carol"), chat.ErrForbidden)
	require.ErrorIs(t, svc.RemoveMember(ctx, "alice", g.ID, "dave"), chat.ErrNotFound)
	require.NoError(t, svc.RemoveMember(ctx, "carol", g.ID, "carol"))
	require.ErrorIs(t, svc.RemoveMember(ctx, "carol", g.ID, "carol"), chat.ErrNotFound)
	_, _, err = svc.SendMessage(ctx, "carol", g.ID, chat.SendMessageRequest{Text: "gone"})
	require.ErrorIs(t, err, chat.ErrNotFound)

	d, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	_, _, err = svc.AddMember(ctx, "alice", d.ID, "carol")
	require.ErrorIs(t, err, chat.ErrInvalid)
	require.ErrorIs(t, svc.RemoveMember(ctx, "alice", d.ID, "bob"), chat.ErrInvalid)

	small := chattest.NewService(t, chat.Config{Limits: chat.Limits{MaxMembers: 2}})
	full, _, err := small.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	_, _, err = small.AddMember(ctx, "alice", full.ID, "carol")
	require.ErrorIs(t, err, chat.ErrInvalid, "the chat is full")
}
