package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
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
		{"react", http.MethodPut, chats + "/" + c.ID + "/messages/" + itoa(m.Seq) + "/reactions/%F0%9F%91%8D", ""},
		{"unreact", http.MethodDelete, chats + "/" + c.ID + "/messages/" + itoa(m.Seq) + "/reactions/%F0%9F%91%8D", ""},
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
	assert.Empty(t, page.Messages[0].Reactions)
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
	assert.Empty(t, page.Messages[0].Reactions)
	assert.Len(t, restListChats(t, srv, "alice", "").Chats, 1)

	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		r := restDo(t, srv.Server, http.MethodPost, chats+"/"+c.ID+"/messages", secHeaders("alice", ct), []byte(`{"text":"ok"}`))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", ct, r.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSecurityEditsAndDeletesCountAgainstTheSendRate sends once and then
// edits in a loop: each edit fans a full text out to every member, so it
// is a send as far as the limit goes, and so is a delete.
func TestSecurityEditsAndDeletesCountAgainstTheSendRate(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{RateLimit: chat.RateLimit{Sends: chat.Rate{Events: 3, Per: time.Hour}}})
	srv := chattest.NewServer(t, svc)
	g := featGroup(t, srv, "alice", "bob")
	m := mustSend(t, srv, "alice", g.ID, "once")
	for i := 0; i < 2; i++ {
		featMustDecodeMessage(t, featEdit(srv, "alice", g.ID, m.Seq, "edit "+strconv.Itoa(i)), http.StatusOK)
	}
	r := featEdit(srv, "alice", g.ID, m.Seq, "one edit too many")
	restRequireError(t, r, http.StatusTooManyRequests, "rate_limited")
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	restRequireError(t, featDelete(srv, "alice", g.ID, m.Seq), http.StatusTooManyRequests, "rate_limited")
	_, err := svc.EditMessage(context.Background(), "alice", g.ID, m.Seq, "via Go")
	require.ErrorIs(t, err, chat.ErrRateLimited)
	_, err = svc.DeleteMessage(context.Background(), "alice", g.ID, m.Seq)
	require.ErrorIs(t, err, chat.ErrRateLimited)

	got := restListMessages(t, srv, "bob", g.ID, "after=0").Messages
	require.Len(t, got, 1)
	assert.Equal(t, "edit 1", got[0].Text, "the refused edits changed nothing")
	assert.Equal(t, int64(3), featGetChat(t, srv, "bob", g.ID).LastSeq, "and took no seq")
}

// TestSecurityMemberChangesAreRateLimited runs the add/remove loop that
// makes every connection of the victim replay the chat on each add.
func TestSecurityMemberChangesAreRateLimited(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{RateLimit: chat.RateLimit{MemberChanges: chat.Rate{Events: 3, Per: time.Hour}}})
	srv := chattest.NewServer(t, svc)
	g := featGroup(t, srv, "alice", "bob")
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "victim").Status)
	require.Equal(t, http.StatusNoContent, featRemove(srv, "alice", g.ID, "victim").Status)
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "victim").Status)
	r := featRemove(srv, "alice", g.ID, "victim")
	restRequireError(t, r, http.StatusTooManyRequests, "rate_limited")
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	restRequireError(t, featAdd(srv, "alice", g.ID, "carol"), http.StatusTooManyRequests, "rate_limited")
	_, _, err := svc.AddMember(context.Background(), "alice", g.ID, "carol")
	require.ErrorIs(t, err, chat.ErrRateLimited)
	require.ErrorIs(t, svc.RemoveMember(context.Background(), "alice", g.ID, "victim"), chat.ErrRateLimited)

	assert.Equal(t, []string{"alice", "bob", "victim"}, restUserIDs(featGetChat(t, srv, "bob", g.ID)))
	require.Equal(t, http.StatusCreated, featAdd(srv, "bob", g.ID, "carol").Status, "other users have their own bucket")
}

// TestSecurityHooksRunAfterMembershipAndOwnership probes the host's
// moderation hook as a non-member and as a member editing someone else's
// message: the hook must not run, and its reason must not leak.
func TestSecurityHooksRunAfterMembershipAndOwnership(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		BeforeSend: func(_ context.Context, d *chat.Draft) error {
			calls.Add(1)
			if strings.Contains(d.Text, "forbidden word") {
				return chat.Reject("the board of chat " + d.ChatID + " forbids that")
			}
			return nil
		},
	}})
	srv := chattest.NewServer(t, svc)
	g := featGroup(t, srv, "alice", "bob")
	m := mustSend(t, srv, "alice", g.ID, "hello")
	calls.Store(0)

	for _, r := range []chattest.Response{
		srv.Do("mallory", http.MethodPost, "/chats/"+g.ID+"/messages", map[string]any{"text": "forbidden word"}),
		srv.Do("mallory", http.MethodPost, "/chats/no-such-chat/messages", map[string]any{"text": "forbidden word"}),
		featEdit(srv, "mallory", g.ID, m.Seq, "forbidden word"),
	} {
		restRequireError(t, r, http.StatusNotFound, "not_found")
		assert.NotContains(t, string(r.Body), "board")
	}
	r := featEdit(srv, "bob", g.ID, m.Seq, "forbidden word")
	restRequireError(t, r, http.StatusForbidden, "forbidden")
	assert.NotContains(t, string(r.Body), "board")
	restRequireError(t, featEdit(srv, "alice", g.ID, m.Seq+1, "forbidden word"), http.StatusNotFound, "not_found")
	require.Equal(t, http.StatusOK, featDelete(srv, "alice", g.ID, m.Seq).Status)
	restRequireError(t, featEdit(srv, "alice", g.ID, m.Seq, "forbidden word"), http.StatusConflict, "conflict")
	assert.Zero(t, calls.Load(), "the hook ran for a request that was refused anyway")

	// A member's message still meets the hook.
	r = srv.Do("bob", http.MethodPost, "/chats/"+g.ID+"/messages", map[string]any{"text": "forbidden word"})
	restRequireError(t, r, http.StatusUnprocessableEntity, "rejected")
	assert.Contains(t, string(r.Body), "forbids that")
	assert.Equal(t, int32(1), calls.Load())
}

// secLog is a slog destination that tests can read while handlers write.
type secLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *secLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *secLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestSecurityMountMistakesAreExplained mounts the REST handler the two
// wrong ways hosts do: the first request that shows the mistake logs one
// warning that names the fix; clients still get the standard 404.
func TestSecurityMountMistakesAreExplained(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mount func(mux *http.ServeMux, h func(chat.HandlerConfig) http.Handler)
		want  []string
	}{
		{"StripPrefix missing", func(mux *http.ServeMux, h func(chat.HandlerConfig) http.Handler) {
			mux.Handle("/api/v1/", h(chat.HandlerConfig{}))
		}, []string{"/api/v1", "http.StripPrefix", "HandlerConfig.Prefix"}},
		{"prefix stripped twice", func(mux *http.ServeMux, h func(chat.HandlerConfig) http.Handler) {
			mux.Handle("/api/v1/", http.StripPrefix("/api/v1", h(chat.HandlerConfig{Prefix: "/api/v1"})))
		}, []string{"/api/v1", "HandlerConfig.Prefix", "already"}},
		{"wrong Prefix", func(mux *http.ServeMux, h func(chat.HandlerConfig) http.Handler) {
			mux.Handle("/api/v1/", h(chat.HandlerConfig{Prefix: "/v1"}))
		}, []string{"/api/v1", "HandlerConfig.Prefix"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs secLog
			svc := chattest.NewService(t, chat.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			mux := http.NewServeMux()
			tc.mount(mux, func(cfg chat.HandlerConfig) http.Handler {
				cfg.Authenticate = chattest.HeaderAuth
				return chat.NewHandler(svc, cfg)
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			for i := 0; i < 3; i++ {
				restRequireError(t, restDo(t, srv, http.MethodGet, "/api/v1/chats", restHeaderAuth("alice"), nil), http.StatusNotFound, "not_found")
			}
			out := logs.String()
			require.Equal(t, 1, strings.Count(out, "level=WARN"), "one warning, the first time: %s", out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}

	t.Run("correct mounts and stray paths warn nothing", func(t *testing.T) {
		var logs secLog
		svc := chattest.NewService(t, chat.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		srv := chattest.NewServer(t, svc)
		for _, p := range []string{"/chats", "/nope", "/chatsx/1", "/"} {
			srv.Do("alice", http.MethodGet, p, nil)
		}
		assert.NotContains(t, logs.String(), "level=WARN")
	})
}

// TestSecurityWebSocketRefusalsAreJSON sends the requests the WebSocket
// handler refuses before upgrading: each gets the standard JSON error body.
func TestSecurityWebSocketRefusalsAreJSON(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServerWithConfig(t, svc, chat.HandlerConfig{}, chat.WebSocketConfig{OriginPatterns: []string{"app.example"}})
	ws := strings.TrimPrefix(srv.WebSocketURL(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	upgrade := func(extra ...string) http.Header {
		h := secHeaders("alice", "", "Connection", "Upgrade", "Upgrade", "websocket",
			"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		status int
		code   string
	}{
		{"plain GET", http.MethodGet, restHeaderAuth("alice"), http.StatusUpgradeRequired, "upgrade_required"},
		{"no Upgrade header", http.MethodGet, upgrade("Upgrade", "h2c"), http.StatusUpgradeRequired, "upgrade_required"},
		{"POST", http.MethodPost, upgrade(), http.StatusMethodNotAllowed, "method_not_allowed"},
		{"old version", http.MethodGet, upgrade("Sec-WebSocket-Version", "8"), http.StatusBadRequest, "invalid_request"},
		{"bad key", http.MethodGet, upgrade("Sec-WebSocket-Key", "short"), http.StatusBadRequest, "invalid_request"},
		{"foreign Origin", http.MethodGet, upgrade("Origin", "https://evil.example"), http.StatusForbidden, "forbidden"},
		{"malformed Origin", http.MethodGet, upgrade("Origin", "://"), http.StatusForbidden, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restRequireError(t, restDo(t, srv.Server, tc.method, ws, tc.header, nil), tc.status, tc.code)
		})
	}
	r := restDo(t, srv.Server, http.MethodGet, ws, restHeaderAuth("alice"), nil)
	assert.Equal(t, "websocket", r.Header.Get("Upgrade"), "RFC 9110: a 426 names the protocol to upgrade to")

	h := http.Header{}
	h.Set(chattest.UserHeader, "alice")
	h.Set("Origin", "https://app.example")
	c, _, err := websocket.Dial(context.Background(), srv.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
	require.NoError(t, err, "a trusted origin still connects")
	c.CloseNow()
}

// TestSecurityChatsPerUserAreBounded puts a user into chats until the
// bound: whoever adds them further, or creates a chat with them, is told
// which limit they hit; a slot freed by leaving can be taken again.
func TestSecurityChatsPerUserAreBounded(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{Limits: chat.Limits{MaxChatsPerUser: 3}})
	srv := chattest.NewServer(t, svc)
	d := featDirect(t, srv, "alice", "bob")
	g1 := featGroup(t, srv, "alice", "bob")
	g2 := featGroup(t, srv, "carol")
	require.Equal(t, http.StatusCreated, featAdd(srv, "carol", g2.ID, "bob").Status)

	requireLimit := func(r chattest.Response, who string) {
		t.Helper()
		restRequireError(t, r, http.StatusBadRequest, "invalid_request")
		assert.Contains(t, string(r.Body), who)
		assert.Contains(t, string(r.Body), "3 chats")
	}
	g3 := featGroup(t, srv, "carol")
	requireLimit(featAdd(srv, "carol", g3.ID, "bob"), `\"bob\"`)
	requireLimit(srv.Do("carol", http.MethodPost, "/chats", restGroup("dave", "bob")), `\"bob\"`)
	requireLimit(srv.Do("carol", http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}}), `\"bob\"`)
	requireLimit(srv.Do("bob", http.MethodPost, "/chats", restGroup()), `\"bob\"`)
	_, _, err := svc.AddMember(context.Background(), "carol", g3.ID, "bob")
	require.ErrorIs(t, err, chat.ErrInvalid)

	// The direct chat bob already has is still found, not refused.
	r := srv.Do("bob", http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{"alice"}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, d.ID, restChatObject(t, r.Body).ID)
	// Adding a current member changes nothing and needs no slot.
	require.Equal(t, http.StatusOK, featAdd(srv, "alice", g1.ID, "bob").Status)

	assert.Len(t, restListChats(t, srv, "bob", "").Chats, 3)
	require.Equal(t, http.StatusNoContent, featRemove(srv, "bob", g1.ID, "bob").Status)
	require.Equal(t, http.StatusCreated, featAdd(srv, "carol", g3.ID, "bob").Status, "leaving frees a slot")

	assert.Equal(t, chat.DefaultMaxChatsPerUser, chattest.NewService(t, chat.Config{}).Limits().MaxChatsPerUser)
}

// countingDirectory is a user directory that records how many ids it was
// asked about.
type countingDirectory struct {
	mu      sync.Mutex
	largest int
}

func (d *countingDirectory) LookupUsers(_ context.Context, ids []string) (map[string]chat.User, error) {
	d.mu.Lock()
	d.largest = max(d.largest, len(ids))
	d.mu.Unlock()
	out := make(map[string]chat.User, len(ids))
	for _, id := range ids {
		out[id] = chat.User{DisplayName: strings.ToUpper(id)}
	}
	return out, nil
}

func (d *countingDirectory) askedAtMost() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.largest
	d.largest = 0
	return n
}

// TestSecurityChatListBoundsInlineMembers lists chats of large groups: each
// carries its first members, the caller's own entry and member_count, and
// the directory is asked about those alone; the members endpoint pages
// the rest.
func TestSecurityChatListBoundsInlineMembers(t *testing.T) {
	t.Parallel()
	const inline, size = 5, 23
	dir := &countingDirectory{}
	svc := chattest.NewService(t, chat.Config{Limits: chat.Limits{MaxInlineMembers: inline}, Hooks: chat.Hooks{Users: dir}})
	srv := chattest.NewServer(t, svc)
	var members []string
	for i := 0; i < size-1; i++ {
		members = append(members, fmt.Sprintf("m%02d", i))
	}
	var groups []chat.Chat
	for i := 0; i < 3; i++ {
		groups = append(groups, featGroup(t, srv, "zed", members...))
	}
	small := featGroup(t, srv, "zed", "m00")
	dir.askedAtMost()

	check := func(c chat.Chat, raw []byte) {
		t.Helper()
		if c.ID == small.ID {
			assert.Equal(t, []string{"m00", "zed"}, restUserIDs(c))
			assert.Equal(t, 2, c.MemberCount)
			return
		}
		assert.Equal(t, size, c.MemberCount)
		assert.Equal(t, []string{"m00", "m01", "m02", "m03", "m04", "zed"}, restUserIDs(c), "the first members, then the caller's own entry")
		assert.Equal(t, "ZED", featMember(t, c, "zed").DisplayName)
	}
	r := srv.Do("zed", http.MethodGet, "/chats", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var raw struct {
		Chats []map[string]json.RawMessage `json:"chats"`
	}
	r.Decode(t, &raw)
	require.Len(t, raw.Chats, 4)
	for _, c := range raw.Chats {
		require.Contains(t, c, "member_count")
	}
	for _, c := range restListChats(t, srv, "zed", "").Chats {
		check(c, nil)
	}
	assert.LessOrEqual(t, dir.askedAtMost(), 4*(inline+1), "the directory was asked about members nobody is sent")
	check(featGetChat(t, srv, "zed", groups[0].ID), nil)

	// A member within the first ones is not repeated.
	c := featGetChat(t, srv, "m01", groups[0].ID)
	assert.Equal(t, []string{"m00", "m01", "m02", "m03", "m04"}, restUserIDs(c))

	// The members endpoint pages everyone, in user id order, with names.
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, size, "paging does not end")
		path := "/chats/" + groups[1].ID + "/members?limit=7"
		if after != "" {
			path += "&after=" + after
		}
		r := srv.Do("m03", http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var page chat.MemberPage
		r.Decode(t, &page)
		require.LessOrEqual(t, len(page.Members), 7)
		for _, m := range page.Members {
			all = append(all, m.UserID)
			assert.Equal(t, strings.ToUpper(m.UserID), m.DisplayName)
		}
		if !page.HasMore {
			break
		}
		after = page.Members[len(page.Members)-1].UserID
	}
	assert.Equal(t, append(slices.Clone(members), "zed"), all)
	assert.LessOrEqual(t, dir.askedAtMost(), 7)

	restRequireError(t, srv.Do("mallory", http.MethodGet, "/chats/"+groups[1].ID+"/members", nil), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("zed", http.MethodGet, "/chats/"+groups[1].ID+"/members?limit=0", nil), http.StatusBadRequest, "invalid_request")
	r = srv.Do("zed", http.MethodGet, "/chats/"+groups[1].ID+"/members?after=zed", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"members":[],"has_more":false}`, string(r.Body))

	assert.Equal(t, chat.DefaultMaxInlineMembers, chattest.NewService(t, chat.Config{}).Limits().MaxInlineMembers)
}
