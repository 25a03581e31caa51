package chat_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// These tests hold the REST handler to the wire contract that clients are
// built against, over real HTTP. They read replies as raw JSON where the
// contract is about the wire form (field names, time format, null), and
// decode into the chat types where it is about values.

func newRESTServer(t *testing.T) (*chat.Service, *chattest.Server) {
	t.Helper()
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServer(t, svc)
	validateAgainstOpenAPI(t, srv)
	return svc, srv
}

// restRequireError checks that r is an error reply of the contract: the given
// status, a JSON body {"error":{"code","message"}} with that code and a
// non-empty message.
func restRequireError(t *testing.T, r chattest.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"),
		"Content-Type %q of an error reply", r.Header.Get("Content-Type"))
	var body struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &body), "error body %s", r.Body)
	require.NotNil(t, body.Error, "no error object in %s", r.Body)
	require.NotNil(t, body.Error.Code, "no code in %s", r.Body)
	require.NotNil(t, body.Error.Message, "no message in %s", r.Body)
	assert.Equal(t, code, *body.Error.Code, "body: %s", r.Body)
	assert.NotEmpty(t, strings.TrimSpace(*body.Error.Message), "empty message in %s", r.Body)
}

// restRequireUTC checks that raw is a JSON string holding an RFC 3339 time in
// UTC, written with a Z.
func restRequireUTC(t *testing.T, field string, raw json.RawMessage) {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(raw, &s), "%s is %s, not a string", field, raw)
	_, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err, "%s %q is not RFC 3339", field, s)
	require.True(t, strings.HasSuffix(s, "Z"), "%s %q does not end with Z", field, s)
}

func restFields(t *testing.T, what string, body []byte, fields ...string) map[string]json.RawMessage {
	t.Helper()
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw), "%s: %s", what, body)
	for _, f := range fields {
		require.Contains(t, raw, f, "%s has no %q: %s", what, f, body)
	}
	return raw
}

// restChatObject checks the wire form of a chat object and returns it.
func restChatObject(t *testing.T, body []byte) chat.Chat {
	t.Helper()
	raw := restFields(t, "chat object", body, "id", "kind", "title", "members", "created_by", "created_at", "last_seq")
	var members []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw["members"], &members), "members: %s", raw["members"])
	for _, m := range members {
		require.Contains(t, m, "user_id", "member object %v", m)
	}
	restRequireUTC(t, "created_at", raw["created_at"])
	var c chat.Chat
	require.NoError(t, json.Unmarshal(body, &c))
	require.NotEmpty(t, c.ID)
	return c
}

// restMessageObject checks the wire form of a message object and returns
// it.
func restMessageObject(t *testing.T, body []byte) chat.Message {
	t.Helper()
	raw := restFields(t, "message object", body, "chat_id", "seq", "sender", "text", "client_id", "metadata", "created_at")
	restRequireUTC(t, "created_at", raw["created_at"])
	var m chat.Message
	require.NoError(t, json.Unmarshal(body, &m))
	return m
}

func restUserIDs(c chat.Chat) []string {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.UserID
	}
	return ids
}

func restCreateChat(t *testing.T, srv *chattest.Server, user string, req any) chat.Chat {
	t.Helper()
	r := srv.Do(user, http.MethodPost, "/chats", req)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	return restChatObject(t, r.Body)
}

func restGroup(members ...string) map[string]any {
	return map[string]any{"kind": "group", "members": members}
}

func restSend(t *testing.T, srv *chattest.Server, user, chatID string, req any) chat.Message {
	t.Helper()
	r := srv.Do(user, http.MethodPost, "/chats/"+chatID+"/messages", req)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	return restMessageObject(t, r.Body)
}

func restListMessages(t *testing.T, srv *chattest.Server, user, chatID, query string) chat.MessagePage {
	t.Helper()
	path := "/chats/" + chatID + "/messages"
	if query != "" {
		path += "?" + query
	}
	r := srv.Do(user, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	raw := restFields(t, "message page", r.Body, "messages", "has_more")
	require.NotEqual(t, "null", string(raw["messages"]), "messages must be a list")
	var page chat.MessagePage
	r.Decode(t, &page)
	for i := 1; i < len(page.Messages); i++ {
		require.Less(t, page.Messages[i-1].Seq, page.Messages[i].Seq, "page not in ascending seq order")
	}
	return page
}

func restListChats(t *testing.T, srv *chattest.Server, user, query string) chat.ChatPage {
	t.Helper()
	path := "/chats"
	if query != "" {
		path += "?" + query
	}
	r := srv.Do(user, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	raw := restFields(t, "chat page", r.Body, "chats", "next_cursor")
	require.NotEqual(t, "null", string(raw["chats"]), "chats must be a list")
	var page chat.ChatPage
	r.Decode(t, &page)
	return page
}

func restSeqs(msgs []chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// restSeqRange returns from, from+1, ..., to; empty when to < from.
func restSeqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// restSeed sends n messages through the Service, which is far quicker
// than n HTTP round trips and stores exactly what the handler would.
func restSeed(t *testing.T, svc *chat.Service, user, chatID string, n int) {
	t.Helper()
	for i := range n {
		_, _, err := svc.SendMessage(context.Background(), user, chatID, chat.SendMessageRequest{Text: fmt.Sprintf("message %d", i+1)})
		require.NoError(t, err)
	}
}

func TestRESTDirectChat(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)

	r := srv.Do("alice", http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	c := restChatObject(t, r.Body)
	assert.Equal(t, chat.KindDirect, c.Kind)
	assert.Equal(t, "", c.Title)
	assert.Equal(t, "alice", c.CreatedBy)
	assert.Equal(t, int64(0), c.LastSeq)
	assert.ElementsMatch(t, []string{"alice", "bob"}, restUserIDs(c))

	for _, tc := range []struct{ user, other string }{{"alice", "bob"}, {"bob", "alice"}} {
		r := srv.Do(tc.user, http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{tc.other}})
		require.Equal(t, http.StatusOK, r.Status, "%s again with %s: %s", tc.user, tc.other, r.Body)
		again := restChatObject(t, r.Body)
		assert.Equal(t, c.ID, again.ID, "%s with %s", tc.user, tc.other)
		assert.ElementsMatch(t, []string{"alice", "bob"}, restUserIDs(again))
		assert.Equal(t, "alice", again.CreatedBy)
	}

	other := restCreateChat(t, srv, "alice", map[string]any{"kind": "direct", "members": []string{"carol"}})
	assert.NotEqual(t, c.ID, other.ID, "a direct chat is per pair")

	for _, tc := range []struct {
		name string
		body any
	}{
		{"no members", map[string]any{"kind": "direct"}},
		{"empty members", map[string]any{"kind": "direct", "members": []string{}}},
		{"two others", map[string]any{"kind": "direct", "members": []string{"bob", "carol"}}},
		{"with the caller", map[string]any{"kind": "direct", "members": []string{"alice"}}},
		{"caller and another", map[string]any{"kind": "direct", "members": []string{"alice", "bob"}}},
		{"empty member id", map[string]any{"kind": "direct", "members": []string{""}}},
		{"title", map[string]any{"kind": "direct", "members": []string{"bob"}, "title": "hello"}},
		{"title on a new pair", map[string]any{"kind": "direct", "members": []string{"dave"}, "title": "hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restRequireError(t, srv.Do("alice", http.MethodPost, "/chats", tc.body), http.StatusBadRequest, "invalid_request")
		})
	}
	page := restListChats(t, srv, "dave", "")
	assert.Empty(t, page.Chats, "a rejected direct chat must not be stored")
}

func TestRESTGroupChat(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	for _, tc := range []struct {
		name    string
		body    map[string]any
		title   string
		members []string
	}{
		{"with title", map[string]any{"kind": "group", "title": "Team", "members": []string{"bob", "carol"}}, "Team", []string{"alice", "bob", "carol"}},
		{"without title", map[string]any{"kind": "group", "members": []string{"bob"}}, "", []string{"alice", "bob"}},
		{"no members", map[string]any{"kind": "group"}, "", []string{"alice"}},
		{"caller listed", map[string]any{"kind": "group", "members": []string{"alice", "bob"}}, "", []string{"alice", "bob"}},
		{"duplicates", map[string]any{"kind": "group", "members": []string{"bob", "carol", "bob", "alice", "carol"}}, "", []string{"alice", "bob", "carol"}},
		{"unicode title", map[string]any{"kind": "group", "title": "Équipe 🚀"}, "Équipe 🚀", []string{"alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := restCreateChat(t, srv, "alice", tc.body)
			assert.Equal(t, chat.KindGroup, c.Kind)
			assert.Equal(t, tc.title, c.Title)
			assert.Equal(t, "alice", c.CreatedBy)
			assert.Equal(t, int64(0), c.LastSeq)
			assert.ElementsMatch(t, tc.members, restUserIDs(c))

			// Every member sees the same chat.
			for _, m := range tc.members {
				r := srv.Do(m, http.MethodGet, "/chats/"+c.ID, nil)
				require.Equal(t, http.StatusOK, r.Status, "GET as %s: %s", m, r.Body)
				got := restChatObject(t, r.Body)
				assert.Equal(t, c.ID, got.ID)
				assert.ElementsMatch(t, tc.members, restUserIDs(got))
			}
		})
	}

	// Groups are never deduplicated the way direct chats are.
	a := restCreateChat(t, srv, "alice", restGroup("bob"))
	b := restCreateChat(t, srv, "alice", restGroup("bob"))
	assert.NotEqual(t, a.ID, b.ID)
}

// TestRESTUnauthenticated sends every route without an identity.
func TestRESTUnauthenticated(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	restSend(t, srv, "alice", c.ID, map[string]any{"text": "hi"})

	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/chats", restGroup("bob")},
		{http.MethodGet, "/chats", nil},
		{http.MethodGet, "/chats/" + c.ID, nil},
		{http.MethodGet, "/chats/no-such-chat", nil},
		{http.MethodPost, "/chats/" + c.ID + "/messages", map[string]any{"text": "hi"}},
		{http.MethodGet, "/chats/" + c.ID + "/messages", nil},
		{http.MethodGet, "/chats/" + c.ID + "/messages?after=0", nil},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			restRequireError(t, srv.Do("", tc.method, tc.path, tc.body), http.StatusUnauthorized, "unauthenticated")
		})
	}
	// Nothing was done on the anonymous requests' behalf.
	assert.Len(t, restListMessages(t, srv, "alice", c.ID, "").Messages, 1)
	assert.Len(t, restListChats(t, srv, "bob", "").Chats, 1)
}

func TestRESTRouting(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))

	for _, path := range []string{"/", "/nope", "/chat", "/chatsx", "/chats/" + c.ID + "/nope", "/chats/" + c.ID + "/messages/1/x", "/users/alice"} {
		t.Run("GET "+path, func(t *testing.T) {
			restRequireError(t, srv.Do("alice", http.MethodGet, path, nil), http.StatusNotFound, "not_found")
		})
	}
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{http.MethodDelete, "/chats", []string{"GET", "POST"}},
		{http.MethodPut, "/chats", []string{"GET", "POST"}},
		{http.MethodPost, "/chats/" + c.ID, []string{"GET"}},
		{http.MethodDelete, "/chats/" + c.ID, []string{"GET"}},
		{http.MethodPatch, "/chats/" + c.ID + "/messages", []string{"GET", "POST"}},
		{http.MethodDelete, "/chats/" + c.ID + "/messages", []string{"GET", "POST"}},
		{http.MethodGet, "/chats/" + c.ID + "/messages/1", []string{"PATCH", "DELETE"}},
		{http.MethodPut, "/chats/" + c.ID + "/members", []string{"GET", "POST"}},
		{http.MethodGet, "/chats/" + c.ID + "/members/bob", []string{"DELETE"}},
		{http.MethodGet, "/chats/" + c.ID + "/read", []string{"POST"}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := srv.Do("alice", tc.method, tc.path, nil)
			require.Equal(t, http.StatusMethodNotAllowed, r.Status, "body: %s", r.Body)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &body), "body: %s", r.Body)
			assert.NotEmpty(t, body.Error.Code)
			assert.NotEmpty(t, body.Error.Message)
			// RFC 9110 requires Allow on a 405.
			for _, m := range tc.allow {
				assert.Contains(t, r.Header.Get("Allow"), m)
			}
		})
	}
	// The chat is untouched by the rejected methods.
	r := srv.Do("alice", http.MethodGet, "/chats/"+c.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
}

func TestRESTGetChat(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", map[string]any{"kind": "group", "title": "T", "members": []string{"bob"}})

	for _, user := range []string{"alice", "bob"} {
		r := srv.Do(user, http.MethodGet, "/chats/"+c.ID, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		got := restChatObject(t, r.Body)
		assert.Equal(t, c.ID, got.ID)
		assert.Equal(t, "T", got.Title)
		assert.Equal(t, "alice", got.CreatedBy)
		assert.Equal(t, c.CreatedAt, got.CreatedAt)
	}
	restSend(t, srv, "bob", c.ID, map[string]any{"text": "one"})
	r := srv.Do("alice", http.MethodGet, "/chats/"+c.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, int64(1), restChatObject(t, r.Body).LastSeq)

	nonMember := srv.Do("mallory", http.MethodGet, "/chats/"+c.ID, nil)
	missing := srv.Do("mallory", http.MethodGet, "/chats/0123456789abcdef0123456789abcdef", nil)
	restRequireError(t, nonMember, http.StatusNotFound, "not_found")
	restRequireError(t, missing, http.StatusNotFound, "not_found")
	assert.Equal(t, missing.Status, nonMember.Status)
	assert.Equal(t, missing.ErrorCode(), nonMember.ErrorCode())
	assert.NotContains(t, string(nonMember.Body), "alice", "a non-member learns nothing about the chat")
}

func TestRESTSendMessage(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))

	r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hello", "client_id": "k1"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
	m := restMessageObject(t, r.Body)
	assert.Equal(t, c.ID, m.ChatID)
	assert.Equal(t, int64(1), m.Seq)
	assert.Equal(t, "alice", m.Sender)
	assert.Equal(t, "hello", m.Text)
	assert.Equal(t, "k1", m.ClientID)
	assert.GreaterOrEqual(t, m.CreatedAt, c.CreatedAt)

	t.Run("retry returns the original", func(t *testing.T) {
		r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hello, edited", "client_id": "k1"})
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		again := restMessageObject(t, r.Body)
		assert.Equal(t, m.Seq, again.Seq)
		assert.Equal(t, "hello", again.Text, "the retry returns the original text")
		assert.Equal(t, m.CreatedAt, again.CreatedAt)
		assert.Equal(t, "k1", again.ClientID)

		page := restListMessages(t, srv, "alice", c.ID, "")
		require.Len(t, page.Messages, 1, "a retry stores nothing")
		assert.Equal(t, "hello", page.Messages[0].Text)
	})

	t.Run("same client_id from another sender", func(t *testing.T) {
		bobs := restSend(t, srv, "bob", c.ID, map[string]any{"text": "bob's", "client_id": "k1"})
		assert.Equal(t, int64(2), bobs.Seq)
		assert.Equal(t, "bob", bobs.Sender)
		assert.Equal(t, "bob's", bobs.Text)
	})

	t.Run("same client_id in another chat", func(t *testing.T) {
		other := restCreateChat(t, srv, "alice", restGroup("bob"))
		m := restSend(t, srv, "alice", other.ID, map[string]any{"text": "elsewhere", "client_id": "k1"})
		assert.Equal(t, int64(1), m.Seq)
		assert.Equal(t, "elsewhere", m.Text)
	})

	t.Run("no client_id is never deduplicated", func(t *testing.T) {
		a := restSend(t, srv, "alice", c.ID, map[string]any{"text": "same"})
		b := restSend(t, srv, "alice", c.ID, map[string]any{"text": "same"})
		assert.Equal(t, a.Seq+1, b.Seq)
		assert.Equal(t, "", a.ClientID)
	})

	t.Run("non-member", func(t *testing.T) {
		restRequireError(t, srv.Do("mallory", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hi"}), http.StatusNotFound, "not_found")
		restRequireError(t, srv.Do("mallory", http.MethodPost, "/chats/no-such-chat/messages", map[string]any{"text": "hi"}), http.StatusNotFound, "not_found")
		restRequireError(t, srv.Do("mallory", http.MethodGet, "/chats/"+c.ID+"/messages", nil), http.StatusNotFound, "not_found")
		restRequireError(t, srv.Do("mallory", http.MethodGet, "/chats/no-such-chat/messages", nil), http.StatusNotFound, "not_found")
		// Every query form checks membership, even one that selects nothing.
		for _, q := range []string{"before=0", "before=1", "after=0", "after=1000", "limit=1"} {
			restRequireError(t, srv.Do("mallory", http.MethodGet, "/chats/"+c.ID+"/messages?"+q, nil), http.StatusNotFound, "not_found")
			restRequireError(t, srv.Do("mallory", http.MethodGet, "/chats/no-such-chat/messages?"+q, nil), http.StatusNotFound, "not_found")
		}
	})

	page := restListMessages(t, srv, "bob", c.ID, "")
	assert.Equal(t, []int64{1, 2, 3, 4}, restSeqs(page.Messages))
	for _, m := range page.Messages {
		assert.NotEqual(t, "hi", m.Text, "a non-member's message was stored")
	}
}

func TestRESTMetadata(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup())

	obj := `{"reply_to":7,"tags":["a","b"],"nested":{"ok":true,"none":null},"s":"é🚀"}`
	r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", `{"text":"with metadata","metadata":`+obj+`}`)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	raw := restFields(t, "message", r.Body, "metadata")
	assert.JSONEq(t, obj, string(raw["metadata"]))

	for _, body := range []string{`{"text":"no metadata"}`, `{"text":"null metadata","metadata":null}`} {
		r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", body)
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		raw := restFields(t, "message", r.Body, "metadata")
		assert.Equal(t, "null", string(raw["metadata"]), "%s", body)
	}

	// The list gives back what was stored.
	lr := srv.Do("alice", http.MethodGet, "/chats/"+c.ID+"/messages", nil)
	require.Equal(t, http.StatusOK, lr.Status)
	var page struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(lr.Body, &page))
	require.Len(t, page.Messages, 3)
	assert.JSONEq(t, obj, string(page.Messages[0]["metadata"]))
	assert.Equal(t, "null", string(page.Messages[1]["metadata"]))
	assert.Equal(t, "null", string(page.Messages[2]["metadata"]))
}

func TestRESTMessagePaging(t *testing.T) {
	t.Parallel()
	svc, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))

	empty := restListMessages(t, srv, "alice", c.ID, "")
	assert.Empty(t, empty.Messages)
	assert.False(t, empty.HasMore)

	restSeed(t, svc, "alice", c.ID, 10)
	for _, tc := range []struct {
		query   string
		want    []int64
		hasMore bool
	}{
		{"", restSeqRange(1, 10), false},
		{"limit=10", restSeqRange(1, 10), false},
		{"limit=11", restSeqRange(1, 10), false},
		{"limit=9", restSeqRange(2, 10), true},
		{"limit=1", []int64{10}, true},

		{"before=11", restSeqRange(1, 10), false},
		{"before=1000", restSeqRange(1, 10), false},
		{"before=11&limit=10", restSeqRange(1, 10), false},
		{"before=11&limit=9", restSeqRange(2, 10), true},
		{"before=10&limit=9", restSeqRange(1, 9), false},
		{"before=10&limit=8", restSeqRange(2, 9), true},
		{"before=6&limit=3", []int64{3, 4, 5}, true},
		{"before=4&limit=3", []int64{1, 2, 3}, false},
		{"before=2", []int64{1}, false},
		{"before=1", []int64{}, false},
		{"before=0", []int64{}, false},

		{"after=0", restSeqRange(1, 10), false},
		{"after=0&limit=10", restSeqRange(1, 10), false},
		{"after=0&limit=9", restSeqRange(1, 9), true},
		{"after=1&limit=9", restSeqRange(2, 10), false},
		{"after=3&limit=3", []int64{4, 5, 6}, true},
		{"after=7&limit=3", []int64{8, 9, 10}, false},
		{"after=9", []int64{10}, false},
		{"after=9&limit=1", []int64{10}, false},
		{"after=8&limit=1", []int64{9}, true},
		{"after=10", []int64{}, false},
		{"after=1000", []int64{}, false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			page := restListMessages(t, srv, "bob", c.ID, tc.query)
			assert.Equal(t, tc.want, restSeqs(page.Messages))
			assert.Equal(t, tc.hasMore, page.HasMore, "has_more")
		})
	}

	for _, m := range restListMessages(t, srv, "bob", c.ID, "").Messages {
		assert.Equal(t, c.ID, m.ChatID)
		assert.Equal(t, "alice", m.Sender)
		assert.Equal(t, fmt.Sprintf("message %d", m.Seq), m.Text)
	}
}

// TestRESTMessagePagingWalk pages through a whole chat each way, as a
// client scrolling back through history or catching up would.
func TestRESTMessagePagingWalk(t *testing.T) {
	t.Parallel()
	svc, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	const total = 120
	restSeed(t, svc, "alice", c.ID, total)

	t.Run("backward", func(t *testing.T) {
		var got []int64
		var sizes []int
		query := "limit=50"
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "paging does not end")
			page := restListMessages(t, srv, "bob", c.ID, query)
			sizes = append(sizes, len(page.Messages))
			got = append(restSeqs(page.Messages), got...)
			if !page.HasMore {
				break
			}
			require.NotEmpty(t, page.Messages, "has_more with an empty page")
			query = "limit=50&before=" + strconv.FormatInt(page.Messages[0].Seq, 10)
		}
		assert.Equal(t, restSeqRange(1, total), got)
		assert.Equal(t, []int{50, 50, 20}, sizes)
	})

	t.Run("forward", func(t *testing.T) {
		var got []int64
		var sizes []int
		after := int64(0)
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "paging does not end")
			page := restListMessages(t, srv, "bob", c.ID, "limit=50&after="+strconv.FormatInt(after, 10))
			sizes = append(sizes, len(page.Messages))
			got = append(got, restSeqs(page.Messages)...)
			if !page.HasMore {
				break
			}
			require.NotEmpty(t, page.Messages, "has_more with an empty page")
			after = page.Messages[len(page.Messages)-1].Seq
		}
		assert.Equal(t, restSeqRange(1, total), got)
		assert.Equal(t, []int{50, 50, 20}, sizes)
	})
}

func TestRESTMessageListLimits(t *testing.T) {
	t.Parallel()
	svc, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup())
	restSeed(t, svc, "alice", c.ID, chat.MaxPageSize+1)

	for _, tc := range []struct {
		query   string
		want    []int64
		hasMore bool
	}{
		{"", restSeqRange(152, 201), true},
		{"limit=200", restSeqRange(2, 201), true},
		{"limit=201", restSeqRange(2, 201), true},
		{"limit=100000", restSeqRange(2, 201), true},
		{"after=0&limit=201", restSeqRange(1, 200), true},
		{"after=0", restSeqRange(1, 50), true},
		{"before=202&limit=500", restSeqRange(2, 201), true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			page := restListMessages(t, srv, "alice", c.ID, tc.query)
			assert.Equal(t, tc.want, restSeqs(page.Messages))
			assert.Equal(t, tc.hasMore, page.HasMore)
		})
	}

	for _, query := range []string{
		"limit=0", "limit=-1", "limit=abc", "limit=", "limit=1.5",
		"before=abc", "before=", "before=-1", "before=1e3",
		"after=abc", "after=", "after=-1", "after=0x10",
		"before=5&after=1", "after=1&before=5", "before=0&after=0",
	} {
		t.Run(query, func(t *testing.T) {
			restRequireError(t, srv.Do("alice", http.MethodGet, "/chats/"+c.ID+"/messages?"+query, nil), http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestRESTChatListOrder(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	ids := func(p chat.ChatPage) []string {
		out := make([]string, len(p.Chats))
		for i, c := range p.Chats {
			out[i] = c.ID
		}
		return out
	}

	empty := restListChats(t, srv, "alice", "")
	assert.Empty(t, empty.Chats)
	assert.Equal(t, "", empty.NextCursor)

	c1 := restCreateChat(t, srv, "alice", restGroup("bob"))
	c2 := restCreateChat(t, srv, "alice", restGroup("carol"))
	c3 := restCreateChat(t, srv, "carol", map[string]any{"kind": "direct", "members": []string{"alice"}})
	assert.Equal(t, []string{c3.ID, c2.ID, c1.ID}, ids(restListChats(t, srv, "alice", "")))

	restSend(t, srv, "bob", c1.ID, map[string]any{"text": "bump"})
	page := restListChats(t, srv, "alice", "")
	assert.Equal(t, []string{c1.ID, c3.ID, c2.ID}, ids(page))
	assert.Equal(t, "", page.NextCursor)
	require.NotEmpty(t, page.Chats)
	assert.Equal(t, int64(1), page.Chats[0].LastSeq)
	assert.ElementsMatch(t, []string{"alice", "bob"}, restUserIDs(page.Chats[0]), "listed chats carry their members")

	restSend(t, srv, "alice", c2.ID, map[string]any{"text": "bump"})
	assert.Equal(t, []string{c2.ID, c1.ID, c3.ID}, ids(restListChats(t, srv, "alice", "")))
	// Other users see only their own chats, in their own order.
	assert.Equal(t, []string{c2.ID, c3.ID}, ids(restListChats(t, srv, "carol", "")))
	assert.Equal(t, []string{c1.ID}, ids(restListChats(t, srv, "bob", "")))

	// The wire form of a listed chat is the chat object.
	r := srv.Do("alice", http.MethodGet, "/chats", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var rawPage struct {
		Chats []json.RawMessage `json:"chats"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &rawPage))
	for _, raw := range rawPage.Chats {
		restChatObject(t, raw)
	}
}

func TestRESTChatListPaging(t *testing.T) {
	t.Parallel()
	svc, srv := newRESTServer(t)
	ctx := context.Background()
	// Chats made in a tight loop share activity times, which exercises the
	// id tie-break of the cursor.
	create := func(user string, n int) map[string]bool {
		ids := make(map[string]bool)
		for range n {
			c, _, err := svc.CreateChat(ctx, user, chat.CreateChatRequest{Kind: chat.KindGroup})
			require.NoError(t, err)
			ids[c.ID] = true
		}
		return ids
	}

	walk := func(t *testing.T, user string, limit int) (seen []string, sizes []int) {
		t.Helper()
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100, "paging does not end")
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			page := restListChats(t, srv, user, q.Encode())
			sizes = append(sizes, len(page.Chats))
			for i, c := range page.Chats {
				seen = append(seen, c.ID)
				if i > 0 {
					prev := page.Chats[i-1]
					require.False(t, c.LastActivityAt.After(prev.LastActivityAt), "chats out of order")
				}
			}
			if page.NextCursor == "" {
				return seen, sizes
			}
			require.NotEmpty(t, page.Chats, "a cursor after an empty page")
			cursor = page.NextCursor
		}
	}

	chats := create("walker", 23)
	for _, tc := range []struct {
		limit int
		sizes []int
	}{
		{5, []int{5, 5, 5, 5, 3}},
		{1, nil},
		{22, []int{22, 1}},
		{23, []int{23}},
		{24, []int{23}},
		{50, []int{23}},
	} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			seen, sizes := walk(t, "walker", tc.limit)
			require.Len(t, seen, len(chats))
			got := make(map[string]bool)
			for _, id := range seen {
				assert.False(t, got[id], "chat %s listed twice", id)
				got[id] = true
			}
			assert.Equal(t, chats, got)
			if tc.sizes != nil {
				assert.Equal(t, tc.sizes, sizes)
			}
		})
	}

	// Paging stays exact while messages reorder the list between pages as
	// long as nothing moves across the cursor: bumping a chat already seen
	// moves it to the front, behind the cursor.
	t.Run("bump behind the cursor", func(t *testing.T) {
		first := restListChats(t, srv, "walker", "limit=10")
		require.Len(t, first.Chats, 10)
		_, _, err := svc.SendMessage(ctx, "walker", first.Chats[3].ID, chat.SendMessageRequest{Text: "bump"})
		require.NoError(t, err)
		rest := restListChats(t, srv, "walker", url.Values{"limit": {"50"}, "cursor": {first.NextCursor}}.Encode())
		assert.Len(t, rest.Chats, 13)
		for _, c := range rest.Chats {
			for _, f := range first.Chats {
				assert.NotEqual(t, f.ID, c.ID)
			}
		}
	})

	t.Run("limits", func(t *testing.T) {
		create("many", chat.MaxPageSize+1)
		page := restListChats(t, srv, "many", "")
		assert.Len(t, page.Chats, chat.DefaultPageSize)
		assert.NotEmpty(t, page.NextCursor)
		for _, limit := range []string{"200", "201", "100000"} {
			page := restListChats(t, srv, "many", "limit="+limit)
			assert.Len(t, page.Chats, chat.MaxPageSize, "limit=%s", limit)
			require.NotEmpty(t, page.NextCursor)
			last := restListChats(t, srv, "many", url.Values{"limit": {limit}, "cursor": {page.NextCursor}}.Encode())
			assert.Len(t, last.Chats, 1)
			assert.Equal(t, "", last.NextCursor)
		}
		for _, q := range []string{"limit=0", "limit=-1", "limit=abc", "limit=", "limit=2.5"} {
			restRequireError(t, srv.Do("many", http.MethodGet, "/chats?"+q, nil), http.StatusBadRequest, "invalid_request")
		}
	})

	t.Run("bad cursor", func(t *testing.T) {
		for _, cursor := range []string{
			"!!!",
			"not a cursor",
			restBase64URL("no-colon"),
			restBase64URL("12345:"),
			restBase64URL("abc:def"),
			restBase64URL(":def"),
		} {
			restRequireError(t, srv.Do("walker", http.MethodGet, "/chats?"+url.Values{"cursor": {cursor}}.Encode(), nil), http.StatusBadRequest, "invalid_request")
		}
	})
}

// restBase64URL encodes s the way opaque cursors commonly are, to forge
// cursors that decode but do not parse.
func restBase64URL(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func TestRESTBadInput(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	messages := "/chats/" + c.ID + "/messages"

	long := func(n int) string { return strings.Repeat("x", n) }
	jsonText := func(s string) string {
		b, err := json.Marshal(map[string]string{"text": s})
		require.NoError(t, err)
		return string(b)
	}
	manyMembers := func(n int) map[string]any {
		m := make([]string, n)
		for i := range m {
			m[i] = fmt.Sprintf("member-%04d", i)
		}
		return restGroup(m...)
	}
	tooBig := `{"kind":"group","title":"` + long(chat.DefaultMaxBodyBytes+1) + `"}`

	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"chat: malformed JSON", "/chats", `{"kind":"group",`, 400, "invalid_request"},
		{"chat: not JSON", "/chats", `kind=group`, 400, "invalid_request"},
		{"chat: JSON array", "/chats", `[{"kind":"group"}]`, 400, "invalid_request"},
		{"chat: JSON string", "/chats", `"group"`, 400, "invalid_request"},
		{"chat: empty body", "/chats", "", 400, "invalid_request"},
		{"chat: whitespace body", "/chats", " \n", 400, "invalid_request"},
		{"chat: trailing garbage", "/chats", `{"kind":"group"} x`, 400, "invalid_request"},
		{"chat: two objects", "/chats", `{"kind":"group"}{"kind":"group"}`, 400, "invalid_request"},
		{"chat: kind not a string", "/chats", `{"kind":1}`, 400, "invalid_request"},
		{"chat: members not a list", "/chats", `{"kind":"group","members":"bob"}`, 400, "invalid_request"},
		{"chat: member not a string", "/chats", `{"kind":"group","members":[1]}`, 400, "invalid_request"},
		{"chat: title not a string", "/chats", `{"kind":"group","title":5}`, 400, "invalid_request"},
		{"chat: unknown kind", "/chats", `{"kind":"channel"}`, 400, "invalid_request"},
		{"chat: kind case", "/chats", `{"kind":"Group"}`, 400, "invalid_request"},
		{"chat: missing kind", "/chats", `{"members":["bob"]}`, 400, "invalid_request"},
		{"chat: empty kind", "/chats", `{"kind":""}`, 400, "invalid_request"},
		{"chat: body over 64 KiB", "/chats", tooBig, 413, "payload_too_large"},
		{"chat: member id over 128 bytes", "/chats", restGroup(long(chat.DefaultMaxIDBytes + 1)), 400, "invalid_request"},
		{"chat: member id over 128 bytes in code points", "/chats", restGroup(strings.Repeat("é", 65)), 400, "invalid_request"},
		{"chat: direct member id over 128 bytes", "/chats", map[string]any{"kind": "direct", "members": []string{long(129)}}, 400, "invalid_request"},
		{"chat: empty member id", "/chats", restGroup("bob", ""), 400, "invalid_request"},
		{"chat: member id with control character", "/chats", restGroup("bob\n"), 400, "invalid_request"},
		{"chat: invalid UTF-8 member id", "/chats", []byte("{\"kind\":\"group\",\"members\":[\"b\xffb\"]}"), 400, "invalid_request"},
		{"chat: more than 1000 members", "/chats", manyMembers(chat.DefaultMaxMembers), 400, "invalid_request"},
		{"chat: title over 200 characters", "/chats", map[string]any{"kind": "group", "title": strings.Repeat("é", 201)}, 400, "invalid_request"},
		{"chat: invalid UTF-8 title", "/chats", []byte("{\"kind\":\"group\",\"title\":\"\xff\xfe\"}"), 400, "invalid_request"},

		{"message: malformed JSON", messages, `{"text":`, 400, "invalid_request"},
		{"message: JSON array", messages, `["hi"]`, 400, "invalid_request"},
		{"message: JSON number", messages, `42`, 400, "invalid_request"},
		{"message: empty body", messages, "", 400, "invalid_request"},
		{"message: trailing garbage", messages, `{"text":"hi"}]`, 400, "invalid_request"},
		{"message: text not a string", messages, `{"text":1}`, 400, "invalid_request"},
		{"message: client_id not a string", messages, `{"text":"hi","client_id":7}`, 400, "invalid_request"},
		{"message: body over 64 KiB", messages, jsonText(long(chat.DefaultMaxBodyBytes)), 413, "payload_too_large"},
		{"message: no text", messages, `{}`, 400, "invalid_request"},
		{"message: empty text", messages, jsonText(""), 400, "invalid_request"},
		{"message: spaces", messages, jsonText("   "), 400, "invalid_request"},
		{"message: newline and tab", messages, jsonText("\n\t"), 400, "invalid_request"},
		{"message: unicode whitespace", messages, jsonText("\u00a0\u2003"), 400, "invalid_request"},
		{"message: ideographic space", messages, jsonText("\u3000 \r\n"), 400, "invalid_request"},
		{"message: 4001 code points of é", messages, jsonText(strings.Repeat("é", chat.DefaultMaxTextRunes+1)), 400, "invalid_request"},
		{"message: 4001 emoji", messages, jsonText(strings.Repeat("🚀", chat.DefaultMaxTextRunes+1)), 400, "invalid_request"},
		{"message: invalid UTF-8 text", messages, []byte("{\"text\":\"\xff\"}"), 400, "invalid_request"},
		{"message: invalid UTF-8 among valid text", messages, []byte("{\"text\":\"ok \xc3\x28 ok\"}"), 400, "invalid_request"},
		{"message: metadata array", messages, `{"text":"hi","metadata":[1,2]}`, 400, "invalid_request"},
		{"message: metadata string", messages, `{"text":"hi","metadata":"x"}`, 400, "invalid_request"},
		{"message: metadata number", messages, `{"text":"hi","metadata":3}`, 400, "invalid_request"},
		{"message: metadata bool", messages, `{"text":"hi","metadata":true}`, 400, "invalid_request"},
		{"message: metadata over 4 KiB", messages, `{"text":"hi","metadata":{"k":"` + long(chat.DefaultMaxMetadataBytes) + `"}}`, 400, "invalid_request"},
		{"message: client_id over 128 bytes", messages, map[string]any{"text": "hi", "client_id": long(chat.DefaultMaxIDBytes + 1)}, 400, "invalid_request"},
		{"message: client_id with control character", messages, map[string]any{"text": "hi", "client_id": "a\x00b"}, 400, "invalid_request"},
		{"message: invalid UTF-8 client_id", messages, []byte("{\"text\":\"hi\",\"client_id\":\"\xff\"}"), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restRequireError(t, srv.Do("alice", http.MethodPost, tc.path, tc.body), tc.status, tc.code)
		})
	}

	// Nothing above was stored, and the server still serves.
	page := restListMessages(t, srv, "alice", c.ID, "")
	assert.Empty(t, page.Messages, "rejected messages were stored")
	chats := restListChats(t, srv, "alice", "")
	assert.Len(t, chats.Chats, 1, "rejected chats were stored")
	restSend(t, srv, "alice", c.ID, map[string]any{"text": "still here"})
	restCreateChat(t, srv, "alice", restGroup("bob"))
}

// TestRESTLimitsAccepted checks the values right at each limit, which must
// be accepted.
func TestRESTLimitsAccepted(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))

	for _, text := range []string{
		strings.Repeat("é", chat.DefaultMaxTextRunes),
		strings.Repeat("🚀", chat.DefaultMaxTextRunes),
		strings.Repeat("x", chat.DefaultMaxTextRunes),
		"  padded\u00a0",
	} {
		m := restSend(t, srv, "alice", c.ID, map[string]any{"text": text})
		assert.Equal(t, text, m.Text, "text is stored verbatim")
	}
	page := restListMessages(t, srv, "bob", c.ID, "")
	require.Len(t, page.Messages, 4)
	assert.Equal(t, strings.Repeat("🚀", chat.DefaultMaxTextRunes), page.Messages[1].Text)

	clientID := strings.Repeat("k", chat.DefaultMaxIDBytes)
	m := restSend(t, srv, "alice", c.ID, map[string]any{"text": "hi", "client_id": clientID})
	assert.Equal(t, clientID, m.ClientID)

	for _, title := range []string{strings.Repeat("é", chat.DefaultMaxTitleRunes), strings.Repeat("🚀", chat.DefaultMaxTitleRunes)} {
		g := restCreateChat(t, srv, "alice", map[string]any{"kind": "group", "title": title})
		assert.Equal(t, title, g.Title)
	}

	longID := strings.Repeat("u", chat.DefaultMaxIDBytes)
	g := restCreateChat(t, srv, "alice", restGroup(longID))
	assert.Contains(t, restUserIDs(g), longID)
}

// TestRESTLargestChat creates a chat of exactly MaxMembers: 999 others,
// some named twice, and the caller.
func TestRESTLargestChat(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	others := make([]string, chat.DefaultMaxMembers-1)
	for i := range others {
		others[i] = fmt.Sprintf("member-%04d", i)
	}
	big := restCreateChat(t, srv, "alice", restGroup(append(others, others[:10]...)...))
	assert.Equal(t, chat.DefaultMaxMembers, big.MemberCount)
	assert.Len(t, big.Members, chat.DefaultMaxInlineMembers, "the first members inline, the caller among them")
	assert.Contains(t, restUserIDs(big), "alice")
}

// restSecretStore is a Store whose ListChats and AppendMessage fail with err.
type restSecretStore struct {
	chat.Store
	err error
}

func (s restSecretStore) ListChats(context.Context, string, chat.ChatQuery) ([]chat.Chat, error) {
	return nil, s.err
}

func (s restSecretStore) AppendMessage(context.Context, chat.Message) (chat.Message, bool, error) {
	return chat.Message{}, false, s.err
}

func TestRESTStoreErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-password@db.internal:5432"
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{"internal", fmt.Errorf("pq: connection to %s refused: %w", secret, errors.New("boom")), http.StatusInternalServerError, "internal", false},
		{"unavailable", fmt.Errorf("dial tcp %s: %w", secret, chat.ErrUnavailable), http.StatusServiceUnavailable, "unavailable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := chattest.NewService(t, chat.Config{Store: restSecretStore{Store: memory.NewStore(), err: tc.err}})
			srv := chattest.NewServer(t, svc)
			c := restCreateChat(t, srv, "alice", restGroup())

			for _, r := range []chattest.Response{
				srv.Do("alice", http.MethodGet, "/chats", nil),
				srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hi"}),
			} {
				restRequireError(t, r, tc.status, tc.code)
				assert.NotContains(t, string(r.Body), "s3cr3t")
				assert.NotContains(t, string(r.Body), "db.internal")
				assert.NotContains(t, string(r.Body), "pq:")
				if tc.retryAfter {
					assert.NotEmpty(t, r.Header.Get("Retry-After"), "503 without Retry-After")
				}
			}
			// The failure of one call does not break the others.
			r := srv.Do("alice", http.MethodGet, "/chats/"+c.ID, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		})
	}
}

// TestRESTAuthenticatorError checks that an Authenticator failure is a 500
// that leaks nothing, not a 401.
func TestRESTAuthenticatorError(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{})
	h := chat.NewHandler(svc, chat.HandlerConfig{Authenticate: func(*http.Request) (string, error) {
		return "", errors.New("session store at s3cr3t.internal is down")
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	r := restDo(t, srv, http.MethodGet, "/chats", nil, nil)
	restRequireError(t, r, http.StatusInternalServerError, "internal")
	assert.NotContains(t, string(r.Body), "s3cr3t")
}

// restDo sends a request to a server of the test's own making.
func restDo(t *testing.T, srv *httptest.Server, method, path string, header http.Header, body []byte) chattest.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return chattest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// restExerciseMount runs the main flow through a handler mounted at base,
// identifying users by the headers auth returns; a request without them is
// anonymous.
func restExerciseMount(t *testing.T, srv *httptest.Server, base string, auth func(user string) http.Header) {
	t.Helper()
	withJSON := func(h http.Header) http.Header {
		h = h.Clone()
		h.Set("Content-Type", "application/json")
		return h
	}
	r := restDo(t, srv, http.MethodPost, base+"/chats", withJSON(auth("alice")), []byte(`{"kind":"group","title":"mounted","members":["bob"]}`))
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	c := restChatObject(t, r.Body)
	assert.Equal(t, "alice", c.CreatedBy)

	r = restDo(t, srv, http.MethodGet, base+"/chats/"+c.ID, auth("bob"), nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, c.ID, restChatObject(t, r.Body).ID)

	r = restDo(t, srv, http.MethodPost, base+"/chats/"+c.ID+"/messages", withJSON(auth("bob")), []byte(`{"text":"via mount"}`))
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	m := restMessageObject(t, r.Body)
	assert.Equal(t, "bob", m.Sender)

	r = restDo(t, srv, http.MethodGet, base+"/chats/"+c.ID+"/messages?after=0", auth("alice"), nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var page chat.MessagePage
	r.Decode(t, &page)
	require.Len(t, page.Messages, 1)
	assert.Equal(t, "via mount", page.Messages[0].Text)

	r = restDo(t, srv, http.MethodGet, base+"/chats", auth("alice"), nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	r = restDo(t, srv, http.MethodGet, base+"/chats/"+c.ID, auth("mallory"), nil)
	restRequireError(t, r, http.StatusNotFound, "not_found")
	restRequireError(t, restDo(t, srv, http.MethodGet, base+"/chats", nil, nil), http.StatusUnauthorized, "unauthenticated")
	restRequireError(t, restDo(t, srv, http.MethodGet, base+"/nope", auth("alice"), nil), http.StatusNotFound, "not_found")
}

func restHeaderAuth(user string) http.Header {
	return http.Header{chattest.UserHeader: {user}}
}

func TestHTTPMountStripPrefix(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServer(t, svc)
	restExerciseMount(t, srv.Server, "/api/v1", restHeaderAuth)
}

func TestHTTPMountPrefix(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"/api/v2", "/api/v2/"} {
		t.Run(prefix, func(t *testing.T) {
			svc := chattest.NewService(t, chat.Config{})
			mux := http.NewServeMux()
			mux.Handle("/api/v2/", chat.NewHandler(svc, chat.HandlerConfig{Prefix: prefix, Authenticate: chattest.HeaderAuth}))
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			restExerciseMount(t, srv, "/api/v2", restHeaderAuth)
		})
	}

	t.Run("path outside the prefix", func(t *testing.T) {
		svc := chattest.NewService(t, chat.Config{})
		srv := httptest.NewServer(chat.NewHandler(svc, chat.HandlerConfig{Prefix: "/api/v2", Authenticate: chattest.HeaderAuth}))
		t.Cleanup(srv.Close)
		restRequireError(t, restDo(t, srv, http.MethodGet, "/chats", restHeaderAuth("alice"), nil), http.StatusNotFound, "not_found")
		restRequireError(t, restDo(t, srv, http.MethodGet, "/api/v1/chats", restHeaderAuth("alice"), nil), http.StatusNotFound, "not_found")
		// The prefix is a path prefix: it ends at a segment boundary.
		restRequireError(t, restDo(t, srv, http.MethodGet, "/api/v2chats", restHeaderAuth("alice"), nil), http.StatusNotFound, "not_found")
		r := restDo(t, srv, http.MethodGet, "/api/v2/chats", restHeaderAuth("alice"), nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	})
}

// TestHTTPMountContextUser authenticates in host middleware that puts the
// user in the request context, the way a host's session middleware would.
func TestHTTPMountContextUser(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{})
	const sessionHeader = "X-Session-User"
	session := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := r.Header.Get(sessionHeader); u != "" {
				r = r.WithContext(chat.WithUser(r.Context(), u))
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", session(chat.NewHandler(svc, chat.HandlerConfig{}))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	restExerciseMount(t, srv, "/api", func(user string) http.Header {
		return http.Header{sessionHeader: {user}}
	})
	// The test-only header means nothing to a handler that reads the
	// context.
	restRequireError(t, restDo(t, srv, http.MethodGet, "/api/chats", restHeaderAuth("alice"), nil), http.StatusUnauthorized, "unauthenticated")
}
