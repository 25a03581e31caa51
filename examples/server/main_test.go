package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const timeout = 10 * time.Second

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer runs the demo's handler tree on a real listener.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker(), Logger: discard})
	require.NoError(t, err)
	srv := httptest.NewServer(newServer(svc, discard))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		assert.NoError(t, svc.Shutdown(ctx))
		srv.Close()
	})
	return srv
}

// identity is how a request names its user: the X-User header, as the
// page's fetch calls do, or the "user" cookie, as a browser's WebSocket
// handshake does.
type identity struct {
	header, cookie string
}

func (id identity) apply(h http.Header) {
	if id.header != "" {
		h.Set("X-User", id.header)
	}
	if id.cookie != "" {
		h.Set("Cookie", (&http.Cookie{Name: "user", Value: id.cookie}).String())
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, client *http.Client, id identity, method, url string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	id.apply(req.Header)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), "body %s", r.body)
	return v
}

func wsURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
}

// connect opens the WebSocket as id, resumes with no positions and waits
// for the resumed event.
func connect(t *testing.T, base string, id identity) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	h := http.Header{}
	id.apply(h)
	conn, _, err := websocket.Dial(ctx, wsURL(base), &websocket.DialOptions{HTTPHeader: h})
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseNow() })
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"resume","positions":{}}`)))
	ev := nextEvent(t, conn)
	require.Equal(t, chat.EventResumed, ev.Type)
	return conn
}

func nextEvent(t *testing.T, conn *websocket.Conn) chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, data, err := conn.Read(ctx)
	require.NoError(t, err)
	var ev chat.Event
	require.NoError(t, json.Unmarshal(data, &ev), "frame %s", data)
	return ev
}

// nextOfType skips events of other types, such as typing.
func nextOfType(t *testing.T, conn *websocket.Conn, typ chat.EventType) chat.Event {
	t.Helper()
	for {
		if ev := nextEvent(t, conn); ev.Type == typ {
			return ev
		}
	}
}

func TestTwoUsersChat(t *testing.T) {
	srv := startServer(t)
	api := srv.URL + "/api/v1"
	alice := identity{cookie: "alice"} // a browser tab: the cookie
	bob := identity{header: "bob"}     // a script: the header

	aliceWS := connect(t, srv.URL, alice)
	bobWS := connect(t, srv.URL, bob)

	r := do(t, srv.Client(), bob, http.MethodPost, api+"/chats", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"alice"}})
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)
	created := decode[chat.Chat](t, r)
	assert.Equal(t, []chat.Member{{UserID: "alice"}, {UserID: "bob"}}, created.Members)
	assert.Equal(t, "bob", created.CreatedBy)

	ev := nextOfType(t, aliceWS, chat.EventChatCreated)
	assert.Equal(t, created.ID, ev.ChatID)
	require.NotNil(t, ev.Chat)
	assert.Equal(t, created.ID, ev.Chat.ID)

	// The same pair from the other side, authenticated by cookie, gets the
	// existing chat.
	r = do(t, srv.Client(), alice, http.MethodPost, api+"/chats", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
	assert.Equal(t, created.ID, decode[chat.Chat](t, r).ID)

	send := chat.SendMessageRequest{Text: "hi bob <script>", ClientID: "c-1"}
	r = do(t, srv.Client(), alice, http.MethodPost, api+"/chats/"+created.ID+"/messages", send)
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)
	sent := decode[chat.Message](t, r)
	assert.Equal(t, int64(1), sent.Seq)
	assert.Equal(t, "alice", sent.Sender)

	ev = nextOfType(t, bobWS, chat.EventMessageCreated)
	assert.Equal(t, created.ID, ev.ChatID)
	assert.Equal(t, int64(1), ev.Seq)
	require.NotNil(t, ev.Message)
	assert.Equal(t, "hi bob <script>", ev.Message.Text)
	assert.Equal(t, "alice", ev.Message.Sender)

	// A retry with the same client_id returns the original.
	r = do(t, srv.Client(), alice, http.MethodPost, api+"/chats/"+created.ID+"/messages", send)
	require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
	assert.Equal(t, sent.Seq, decode[chat.Message](t, r).Seq)

	r = do(t, srv.Client(), bob, http.MethodGet, api+"/chats/"+created.ID+"/messages?limit=50", nil)
	require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
	page := decode[chat.MessagePage](t, r)
	require.Len(t, page.Messages, 1)
	assert.Equal(t, "hi bob <script>", page.Messages[0].Text)
	assert.False(t, page.HasMore)

	// Typing over the WebSocket reaches the other member.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	require.NoError(t, bobWS.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","chat_id":"`+created.ID+`"}`)))
	ev = nextOfType(t, aliceWS, chat.EventTyping)
	assert.Equal(t, "bob", ev.UserID)
}

func TestDemoUser(t *testing.T) {
	srv := startServer(t)
	api := srv.URL + "/api/v1"

	r := do(t, srv.Client(), identity{}, http.MethodGet, api+"/chats", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":{"code":"unauthenticated","message":"unauthenticated"}}`, string(r.body))

	// The header wins over the cookie.
	r = do(t, srv.Client(), identity{header: "bob", cookie: "alice"}, http.MethodPost, api+"/chats",
		chat.CreateChatRequest{Kind: chat.KindGroup, Title: "t", Members: []string{"carol"}})
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)
	assert.Equal(t, "bob", decode[chat.Chat](t, r).CreatedBy)

	// Names travel percent-encoded, so they may leave ASCII.
	zoe := url.PathEscape("Zoë 李")
	for _, id := range []identity{{header: zoe}, {cookie: zoe}} {
		r = do(t, srv.Client(), id, http.MethodPost, api+"/chats",
			chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "body %s", r.body)
		assert.Equal(t, []chat.Member{{UserID: "Zoë 李"}, {UserID: "bob"}}, decode[chat.Chat](t, r).Members)
	}

	r = do(t, srv.Client(), identity{header: "bad%zz"}, http.MethodGet, api+"/chats", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(srv.URL), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestPage(t *testing.T) {
	srv := startServer(t)

	r := do(t, srv.Client(), identity{}, http.MethodGet, srv.URL+"/", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "text/html")
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Contains(t, string(r.body), `content="/api/v1/ws"`)
	assert.Contains(t, string(r.body), "NOT real authentication")

	r = do(t, srv.Client(), identity{}, http.MethodGet, srv.URL+"/app.js", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "javascript")
	assert.NotContains(t, string(r.body), "innerHTML")

	// The client bundle the page imports, built from clients/js.
	r = do(t, srv.Client(), identity{}, http.MethodGet, srv.URL+"/embedchat.js", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "javascript")
	assert.Contains(t, string(r.body), "ChatClient")
	assert.NotContains(t, string(r.body), "innerHTML")

	r = do(t, srv.Client(), identity{}, http.MethodPost, srv.URL+"/", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)

	r = do(t, srv.Client(), identity{}, http.MethodGet, srv.URL+"/nope", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

// TestGracefulShutdown runs the server as main does and checks that
// cancelling its context closes WebSockets with 1001 and returns cleanly.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, config{}, discard) }()

	base := "http://" + ln.Addr().String()
	conn := connect(t, base, identity{header: "alice"})

	cancel()
	rctx, rcancel := context.WithTimeout(context.Background(), timeout)
	defer rcancel()
	_, _, err = conn.Read(rctx)
	assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "err %v", err)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-rctx.Done():
		t.Fatal("run did not return after its context ended")
	}

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	_, err = client.Get(base + "/")
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "want a refused connection, got %v", err)
}
