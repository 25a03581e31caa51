package chat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// dialCountingPings connects user to srv with a client that reports each
// ping it receives on pings and answers it only if pong is true.
func dialCountingPings(t *testing.T, srv *chattest.Server, user string, pong bool) (*chattest.Conn, <-chan struct{}) {
	t.Helper()
	pings := make(chan struct{}, 100)
	c := chattest.DialWithOptions(t, srv.WebSocketURL(), user, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return pong
		},
	})
	return c, pings
}

// An idle connection is pinged again and again (each ping re-arms the
// timer once answered), and carries events as before in between.
func TestWebSocketPingsAnIdleConnectionThatStaysUp(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := newServerWith(t, svc, chat.WebSocketConfig{PingInterval: 5 * time.Millisecond})
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	bob, pings := dialCountingPings(t, srv, "bob", true)
	require.Empty(t, bob.Resume(map[string]int64{c.ID: 0}))

	// Pings are answered while the client reads.
	next := make(chan chattest.Frame, 1)
	go func() {
		f, err := bob.ReadFrame(chattest.Timeout)
		if err != nil {
			f.Type = chat.EventType("read failed: " + err.Error())
		}
		next <- f
	}()
	for range 3 {
		select {
		case <-pings:
		case <-time.After(chattest.Timeout):
			t.Fatal("the server stopped pinging")
		}
	}
	_, _, err := svc.SendMessage(context.Background(), "alice", c.ID, chat.SendMessageRequest{Text: "still here"})
	require.NoError(t, err)
	f := <-next
	require.Equal(t, chat.EventMessageCreated, f.Type)
	require.Equal(t, int64(1), f.Seq)
}

// A client that answers no ping is closed with 1008 "ping timeout" after
// WriteTimeout, and reads that close frame.
func TestWebSocketUnansweredPingClosesWithPolicyViolation(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := newServerWith(t, svc, chat.WebSocketConfig{PingInterval: 5 * time.Millisecond, WriteTimeout: 50 * time.Millisecond})
	bob, _ := dialCountingPings(t, srv, "bob", false)
	// Not Resume: the first ping may time out before resumed arrives.
	bob.Send(map[string]any{"type": "resume", "positions": map[string]int64{}})

	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = bob.WebSocket().Read(ctx)
	}
	var ce websocket.CloseError
	require.True(t, errors.As(err, &ce), "read ended with %v", err)
	require.Equal(t, websocket.StatusPolicyViolation, ce.Code)
	require.Equal(t, "ping timeout", ce.Reason)
	require.Eventually(t, func() bool { return svc.Stats().Connections == 0 }, chattest.Timeout, time.Millisecond)
	require.Equal(t, int64(1), svc.FlowCounts().Closes[int(websocket.StatusPolicyViolation)])
}

// The handler returns once the connection is upgraded (so that net/http's
// goroutine and buffers go), and the connection lives on: counted in
// Stats, carrying events, until the client leaves.
func TestWebSocketHandlerReturnsOnceUpgraded(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	ws := chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: chattest.HeaderAuth})
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	c, _, err := svc.CreateChat(context.Background(), "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)

	bob := chattest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), "bob")
	select {
	case <-returned:
	case <-time.After(chattest.Timeout):
		t.Fatal("the handler did not return after the upgrade")
	}
	require.Empty(t, bob.Resume(map[string]int64{c.ID: 0}))
	require.Equal(t, 1, svc.Stats().Connections)
	_, _, err = svc.SendMessage(context.Background(), "alice", c.ID, chat.SendMessageRequest{Text: "hi"})
	require.NoError(t, err)
	require.Equal(t, int64(1), bob.NextOfType(chat.EventMessageCreated).Seq)

	bob.Close()
	require.Eventually(t, func() bool { return svc.Stats().Connections == 0 }, chattest.Timeout, time.Millisecond)
}
