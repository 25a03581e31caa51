package chat_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// These tests play the attacker of issue 8 over real HTTP and WebSocket:
// another site driving a member's browser, a member flooding writes, a
// non-member probing hooks.

// secHeaders builds request headers: the test user, a content type and
// any browser headers given as name, value pairs.
func secHeaders(user, contentType string, browser ...string) http.Header {
	h := restHeaderAuth(user)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(browser); i += 2 {
		h.Set(browser[i], browser[i+1])
	}
	return h
}

// TestSecurityCrossSiteWritesAreRefused forges, from another site, each
// unsafe request a member's browser could be made to send, and checks that
// none of them is carried out while the same requests from the API's own
// origin, a trusted origin or a non-browser client still work.
func TestSecurityCrossSiteWritesAreRefused(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServerWithConfig(t, svc, chat.HandlerConfig{OriginPatterns: []string{"*.trusted.example"}}, chat.WebSocketConfig{})
	c := restCreateChat(t, srv, "alice", restGroup("bob", "mallory"))
	m := restSend(t, srv, "alice", c.ID, map[string]any{"text": "mine"})
	require.Equal(t, http.StatusNoContent, featRemove(srv, "alice", c.ID, "mallory").Status)

	chats := "/api/v1/chats"
	forged := []struct {
		name         string
		method, path string
		body         string
	}{
		{"send", http.MethodPost, chats + "/" + c.ID + "/messages", `{"text":"forged"}`},
		{"create chat", http.MethodPost, chats, `{"kind":"group","members":["mallory"]}`},
		{"re-add a removed member", http.MethodPost, chats + "/" + c.ID + "/members", `{"user_id":"mallory"}`},
		{"mark read", http.MethodPost, chats + "/" + c.ID + "/read", `{"seq":1}`},
		{"edit", http.MethodPatch, chats + "/" + c.ID + "/messages/" + itoa(m.Seq), `{"text":"forged"}`},
		{"delete", http.MethodDelete, chats + "/" + c.ID + "/messages/" + itoa(m.Seq), ""},
		{"remove member", http.MethodDelete, chats + "/" + c.ID + "/members/bob", ""},
	}
	browsers := []struct {
		name    string
		headers []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://evil.trusted.example.com"}},
		{"Origin only (older browser)", []string{"Origin", "https://evil.example"}},
	}
	for _, f := range forged {
		for _, b := range browsers {
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json"} {
				t.Run(f.name+"/"+b.name+"/"+ct, func(t *testing.T) {
					var body []byte
					if f.body != "" {
						body = []byte(f.body)
					}
					r := restDo(t, srv.Server, f.method, f.path, secHeaders("alice", ct, b.headers...), body)
					restRequireError(t, r, http.StatusForbidden, "forbidden")
				})
			}
		}
	}
	// Nothing happened.
	page := restListMessages(t, srv, "alice", c.ID, "after=0")
	require.Len(t, page.Messages, 1)
	assert.Equal(t, "mine", page.Messages[0].Text)
	assert.Len(t, restListChats(t, srv, "alice", "").Chats, 1)
	got := featGetChat(t, srv, "alice", c.ID)
	assert.Equal(t, []string{"alice", "bob"}, restUserIDs(got))
	assert.Equal(t, int64(0), featMember(t, got, "alice").LastReadSeq)

	// Reads are safe methods: a cross-site GET is answered (the browser
	// keeps the answer from the other site).
	r := restDo(t, srv.Server, http.MethodGet, chats, secHeaders("alice", "", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	send := chats + "/" + c.ID + "/messages"
	for _, ok := range []struct {
		name    string
		headers []string
	}{
		{"no browser headers (curl, mobile, server)", nil},
		{"same origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", srv.URL}},
		{"typed URL", []string{"Sec-Fetch-Site", "none"}},
		{"same origin, older browser", []string{"Origin", srv.URL}},
		{"trusted origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://app.trusted.example"}},
	} {
		t.Run("allowed/"+ok.name, func(t *testing.T) {
			h := secHeaders("bob", "application/json", ok.headers...)
			h.Set("Cookie", "session=bob")
			r := restDo(t, srv.Server, http.MethodPost, send, h, []byte(`{"text":"fine"}`))
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		})
	}
}

// TestSecurityNonJSONBodiesAre415 sends the bodies an HTML form or a
// simple cross-site fetch can send, without any browser header: they are
// refused for their content type alone.
func TestSecurityNonJSONBodiesAre415(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	m := restSend(t, srv, "alice", c.ID, map[string]any{"text": "mine"})
	chats := "/api/v1/chats"
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "not a type"} {
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPost, chats, `{"kind":"group","members":["carol"]}`},
			{http.MethodPost, chats + "/" + c.ID + "/messages", `{"text":"hi"}`},
			{http.MethodPatch, chats + "/" + c.ID + "/messages/" + itoa(m.Seq), `{"text":"edited"}`},
			{http.MethodPost, chats + "/" + c.ID + "/read", `{"seq":1}`},
			{http.MethodPost, chats + "/" + c.ID + "/members", `{"user_id":"dave"}`},
		} {
			t.Run(req.method+" "+req.path+" "+ct, func(t *testing.T) {
				r := restDo(t, srv.Server, req.method, req.path, secHeaders("alice", ct), []byte(req.body))
				restRequireError(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
			})
		}
	}
	page := restListMessages(t, srv, "alice", c.ID, "after=0")
	require.Len(t, page.Messages, 1)
	assert.Equal(t, "mine", page.Messages[0].Text)
	assert.Len(t, restListChats(t, srv, "alice", "").Chats, 1)

	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		r := restDo(t, srv.Server, http.MethodPost, chats+"/"+c.ID+"/messages", secHeaders("alice", ct), []byte(`{"text":"ok"}`))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", ct, r.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
