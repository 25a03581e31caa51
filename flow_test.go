package chat_test

import (
	"context"
	"fmt"
	"net"
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

// smallBufferServer serves svc's WebSocket handler at the returned URL,
// with socket send buffers of a few KiB, so that a client that stops
// reading makes the server's writes block after a few frames, not after
// megabytes.
func smallBufferServer(t *testing.T, svc *chat.Service, ws chat.WebSocketConfig) string {
	t.Helper()
	ws.Authenticate = chattest.HeaderAuth
	srv := httptest.NewUnstartedServer(chat.NewWebSocketHandler(svc, ws))
	srv.Listener = smallBufferListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// dialSmall connects as user with a receive buffer of a few KiB.
func dialSmall(t *testing.T, url, user string) *chattest.Conn {
	t.Helper()
	dialer := &net.Dialer{}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4 << 10)
			}
			return c, err
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	return chattest.DialWithOptions(t, url, user, &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
}

// waitFrameAnswer sends a frame the server answers with an error event and
// reads until that answer, so that every frame sent before it has been
// handled. It returns what it read on the way.
func waitFrameAnswer(t *testing.T, c *chattest.Conn) []chat.Event {
	t.Helper()
	c.SendRaw(websocket.MessageText, []byte("not json"))
	var seen []chat.Event
	for {
		f, err := c.ReadFrame(chattest.Timeout)
		require.NoError(t, err)
		if f.Type == "error" {
			return seen
		}
		seen = append(seen, f.Event)
	}
}

// Typing is fanned out at most once per TypingInterval per user and chat.
func TestWebSocketTypingIsThrottledPerUserAndChat(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{TypingInterval: time.Hour})
	srv := chattest.NewServer(t, svc)
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	other := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	alice, _ := srv.Connect("alice", nil)
	bob, _ := srv.Connect("bob", nil)

	for range 5 {
		alice.Send(map[string]string{"type": "typing", "chat_id": c.ID})
		alice.Send(map[string]string{"type": "typing", "chat_id": other.ID})
	}
	waitFrameAnswer(t, alice)
	mustSend(t, srv, "alice", c.ID, "done typing")

	typing := map[string]int{}
	for {
		ev := bob.Next()
		if ev.Type == chat.EventMessageCreated {
			break
		}
		require.Equal(t, chat.EventTyping, ev.Type)
		typing[ev.ChatID]++
	}
	// The typing events may also arrive after the message: they are not
	// ordered with it. A second message flushes them.
	mustSend(t, srv, "alice", c.ID, "again")
	for {
		ev := bob.Next()
		if ev.Type == chat.EventMessageCreated {
			break
		}
		typing[ev.ChatID]++
	}
	require.Equal(t, map[string]int{c.ID: 1, other.ID: 1}, typing)
	require.Equal(t, int64(8), svc.FlowCounts().TypingThrottled)
}

// A reader whose queue is full of nothing but typing and read events keeps
// its connection: they are coalesced per (chat, user) or dropped and
// counted, never a reason to close.
func TestEphemeralEventsNeverCutAReaderOff(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: 4, TypingInterval: -1})
	typists := make([]string, 70)
	for i := range typists {
		typists[i] = fmt.Sprint("typist", i)
	}
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: append([]string{"bob"}, typists...)})
	require.NoError(t, err)
	for range 50 {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "x"})
		require.NoError(t, err)
	}
	bob, _ := subscribe(t, svc, "bob", nil)    // never reads until the end
	marker, _ := subscribe(t, svc, "bob", nil) // shows how far the chat got

	for seq := int64(1); seq <= 50; seq++ {
		_, err := svc.MarkRead(ctx, "alice", c.ID, seq)
		require.NoError(t, err)
	}
	for _, u := range typists {
		require.NoError(t, svc.Typing(ctx, u, c.ID))
	}
	_, _, err = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)
	// Events of a chat reach its subscriptions in order, so once the
	// marker has the message, bob has been offered everything before it.
	for ev := nextIn(t, marker, c.ID); ev.Type != chat.EventMessageCreated; ev = nextIn(t, marker, c.ID) {
	}

	ev, err := nextEvent(bob)
	require.NoError(t, err, "bob is still subscribed")
	require.Equal(t, chat.EventMessageCreated, ev.Type, "stored events go first")
	require.Equal(t, int64(51), ev.Seq)
	ev, err = nextEvent(bob)
	require.NoError(t, err)
	require.Equal(t, chat.Event{Type: chat.EventRead, ChatID: c.ID, UserID: "alice", ReadSeq: 50}, ev,
		"one read event for alice, the latest")
	for i := range 63 {
		ev, err = nextEvent(bob)
		require.NoError(t, err)
		require.Equal(t, chat.Event{Type: chat.EventTyping, ChatID: c.ID, UserID: typists[i]}, ev)
	}
	require.GreaterOrEqual(t, svc.FlowCounts().EphemeralDropped, int64(7), "the typists past the bound were dropped")
}

// Over a real connection with small socket buffers: a member typing in a
// loop does not get a reader that has stopped reading closed.
func TestWebSocketTypingFloodDoesNotCloseSlowReaders(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: 4, TypingInterval: -1})
	url := smallBufferServer(t, svc, chat.WebSocketConfig{MaxFrameRate: -1})
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	alice := chattest.Dial(t, url, "alice")
	require.Empty(t, alice.Resume(nil))
	bob := dialSmall(t, url, "bob")
	require.Empty(t, bob.Resume(nil))

	for range 3000 { // far more than the socket buffers hold
		alice.Send(map[string]string{"type": "typing", "chat_id": c.ID})
	}
	waitFrameAnswer(t, alice)
	_, _, err = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "still there?"})
	require.NoError(t, err)
	for {
		f, err := bob.ReadFrame(chattest.Timeout)
		require.NoError(t, err, "bob's connection must stay up")
		if f.Type == chat.EventMessageCreated {
			break
		}
		require.Equal(t, chat.EventTyping, f.Type)
	}
}

// A client sending frames faster than MaxFrameRate is closed with 1008.
func TestWebSocketFrameRateBound(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := newServerWith(t, svc, chat.WebSocketConfig{MaxFrameRate: 5})
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})

	for _, resumed := range []bool{true, false} {
		alice := srv.Dial("alice")
		if resumed {
			require.Empty(t, alice.Resume(nil))
		}
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		frame := []byte(`{"type":"typing","chat_id":"` + c.ID + `"}`)
		for range 200 {
			if alice.Conn.Write(ctx, websocket.MessageText, frame) != nil {
				break // closed already
			}
		}
		cancel()
		require.Equal(t, websocket.StatusPolicyViolation, alice.CloseStatus(), "resumed: %v", resumed)
	}
	require.Equal(t, int64(2), svc.FlowCounts().Closes[int(websocket.StatusPolicyViolation)])

	// A client within the bound is unaffected.
	bob, _ := srv.Connect("bob", nil)
	mustSend(t, srv, "alice", c.ID, "hi")
	require.Equal(t, chat.EventMessageCreated, bob.Next().Type)
}
