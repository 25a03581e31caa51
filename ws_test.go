package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

func mustCreateChat(t *testing.T, srv *chattest.Server, user string, req chat.CreateChatRequest) chat.Chat {
	t.Helper()
	resp := srv.Do(user, http.MethodPost, "/chats", req)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, resp.Status, string(resp.Body))
	var c chat.Chat
	resp.Decode(t, &c)
	return c
}

func mustSend(t testing.TB, srv *chattest.Server, user, chatID, text string) chat.Message {
	t.Helper()
	resp := srv.Do(user, http.MethodPost, "/chats/"+chatID+"/messages", chat.SendMessageRequest{Text: text})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var m chat.Message
	resp.Decode(t, &m)
	return m
}

// expectMessages reads events of chatID from c until it has seen seqs
// from..to, failing on any other seq of that chat: a gap, a duplicate or
// a reordering.
func expectMessages(t *testing.T, c *chattest.Conn, chatID string, from, to int64) {
	t.Helper()
	want := from
	for want <= to {
		ev := c.Next()
		if ev.ChatID != chatID || ev.Type != chat.EventMessageCreated {
			continue
		}
		require.Equal(t, want, ev.Seq, "chat %s: want seq %d, got %d", chatID, want, ev.Seq)
		require.Equal(t, ev.Seq, ev.Message.Seq)
		want++
	}
}

func TestWebSocketLiveDelivery(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	alice, replay := srv.Connect("alice", nil)
	require.Empty(t, replay)
	bob, _ := srv.Connect("bob", nil)

	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for _, conn := range []*chattest.Conn{alice, bob} {
		ev := conn.Next()
		require.Equal(t, chat.EventChatCreated, ev.Type)
		require.Equal(t, c.ID, ev.ChatID)
		require.Equal(t, c.ID, ev.Chat.ID)
	}

	m := mustSend(t, srv, "alice", c.ID, "hello bob")
	for _, conn := range []*chattest.Conn{alice, bob} {
		ev := conn.Next()
		require.Equal(t, chat.EventMessageCreated, ev.Type)
		require.Equal(t, int64(1), ev.Seq)
		require.Equal(t, m, *ev.Message)
	}
}

func TestWebSocketResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "t", Members: []string{"bob"}})
	other := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for i := 1; i <= 3; i++ {
		mustSend(t, srv, "alice", c.ID, fmt.Sprint("before ", i))
	}
	mustSend(t, srv, "alice", other.ID, "elsewhere")

	bob, replay := srv.Connect("bob", map[string]int64{c.ID: 3})
	require.Empty(t, replay, "nothing missed yet")
	mustSend(t, srv, "alice", c.ID, "live 4")
	expectMessages(t, bob, c.ID, 4, 4)
	bob.Close()

	for i := 5; i <= 9; i++ {
		mustSend(t, srv, "alice", c.ID, fmt.Sprint("missed ", i))
	}
	bob, replay = srv.Connect("bob", map[string]int64{c.ID: 4})
	require.Len(t, replay, 5, "exactly the missed events, and none of the unlisted chat")
	for i, ev := range replay {
		require.Equal(t, chat.EventMessageCreated, ev.Type)
		require.Equal(t, c.ID, ev.ChatID)
		require.Equal(t, int64(5+i), ev.Seq)
		require.Equal(t, fmt.Sprint("missed ", 5+i), ev.Message.Text)
	}
	mustSend(t, srv, "alice", c.ID, "live 10")
	expectMessages(t, bob, c.ID, 10, 10)
}

func TestWebSocketResumeSkipsChatsOfOthersAndUnknownChats(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	private := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"carol"}})
	mustSend(t, srv, "alice", private.ID, "not for bob")
	mine := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	mustSend(t, srv, "alice", mine.ID, "for bob")

	bob, replay := srv.Connect("bob", map[string]int64{private.ID: 0, "no-such-chat": 0, mine.ID: 0})
	require.Len(t, replay, 1)
	require.Equal(t, mine.ID, replay[0].ChatID)

	mustSend(t, srv, "alice", private.ID, "still not for bob")
	mustSend(t, srv, "alice", mine.ID, "again for bob")
	ev := bob.Next()
	require.Equal(t, mine.ID, ev.ChatID, "bob never sees the other chat")
	require.Equal(t, int64(2), ev.Seq)
}

func TestWebSocketResync(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{ReplayLimit: 5})
	srv := chattest.NewServer(t, svc)
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for i := 0; i < 8; i++ {
		mustSend(t, srv, "alice", c.ID, "x")
	}

	t.Run("too far behind", func(t *testing.T) {
		bob, replay := srv.Connect("bob", map[string]int64{c.ID: 2})
		require.Equal(t, []chat.Event{{Type: chat.EventResync, ChatID: c.ID}}, replay)
		mustSend(t, srv, "alice", c.ID, "after resync")
		ev := bob.Next()
		require.Equal(t, chat.EventMessageCreated, ev.Type)
		require.Greater(t, ev.Seq, int64(8))
	})
	t.Run("within the limit", func(t *testing.T) {
		_, replay := srv.Connect("bob", map[string]int64{c.ID: 5})
		require.NotEmpty(t, replay)
		for _, ev := range replay {
			require.Equal(t, chat.EventMessageCreated, ev.Type)
		}
	})
	t.Run("beyond the end", func(t *testing.T) {
		_, replay := srv.Connect("bob", map[string]int64{c.ID: 1000})
		require.Equal(t, []chat.Event{{Type: chat.EventResync, ChatID: c.ID}}, replay)
	})
}

// Several senders write into one group at once while members read live:
// every reader sees seq 1..N exactly once, in order.
func TestWebSocketConcurrentSendersEveryReaderSeesEverySeqInOrder(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	members := []string{"m0", "m1", "m2", "m3", "m4"}
	c := mustCreateChat(t, srv, "m0", chat.CreateChatRequest{Kind: chat.KindGroup, Members: members[1:]})

	conns := make([]*chattest.Conn, len(members))
	for i, m := range members {
		conns[i], _ = srv.Connect(m, map[string]int64{c.ID: 0})
	}
	const perSender = 40
	var wg sync.WaitGroup
	for _, m := range members[:4] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				resp := srv.Do(m, http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "hi"})
				assert.Equal(t, http.StatusCreated, resp.Status)
			}
		}()
	}
	total := int64(4 * perSender)
	var readers sync.WaitGroup
	for _, conn := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			want := int64(1)
			for want <= total {
				f, err := conn.ReadFrame(chattest.Timeout)
				if !assert.NoError(t, err) {
					return
				}
				if f.Type != chat.EventMessageCreated {
					continue
				}
				if !assert.Equal(t, want, f.Seq) {
					return
				}
				want++
			}
		}()
	}
	wg.Wait()
	readers.Wait()
}

// A reader that resumes while others keep sending gets every event after
// its position once, across the replay and live phases.
func TestWebSocketResumeWhileOthersSend(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	for i := 0; i < 20; i++ {
		mustSend(t, srv, "alice", c.ID, "early")
	}
	const total = 120
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 20; i < total; i++ {
			resp := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "during"})
			assert.Equal(t, http.StatusCreated, resp.Status)
		}
	}()
	for round := 0; round < 5; round++ {
		bob := srv.Dial("bob")
		bob.Send(map[string]any{"type": "resume", "positions": map[string]int64{c.ID: int64(round * 3)}})
		want := int64(round*3 + 1)
		for want <= 20 {
			ev := bob.Next()
			if ev.Type == chat.EventResumed {
				continue
			}
			require.Equal(t, want, ev.Seq)
			want++
		}
		bob.Close()
	}
	<-done
	bob, replay := srv.Connect("bob", map[string]int64{c.ID: 0})
	require.Len(t, replay, total)
	for i, ev := range replay {
		require.Equal(t, int64(i+1), ev.Seq)
	}
	bob.Close()
}

func TestWebSocketMessageRightAfterChatCreationReachesEveryMember(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	alice, _ := srv.Connect("alice", nil)
	bob, _ := srv.Connect("bob", nil)
	carol, _ := srv.Connect("carol", nil)
	for i := 0; i < 10; i++ {
		c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
		mustSend(t, srv, "alice", c.ID, "first")
		for _, conn := range []*chattest.Conn{alice, bob, carol} {
			ev := conn.Next()
			require.Equal(t, chat.EventChatCreated, ev.Type, "chat.created comes first")
			require.Equal(t, c.ID, ev.ChatID)
			ev = conn.Next()
			require.Equal(t, chat.EventMessageCreated, ev.Type)
			require.Equal(t, c.ID, ev.ChatID)
			require.Equal(t, int64(1), ev.Seq)
		}
	}
}

func TestWebSocketTyping(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	other := mustCreateChat(t, srv, "carol", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"dave"}})
	alice, _ := srv.Connect("alice", nil)
	bob, _ := srv.Connect("bob", nil)

	alice.Send(map[string]string{"type": "typing", "chat_id": c.ID})
	alice.Send(map[string]string{"type": "typing", "chat_id": other.ID}) // not a member: ignored
	ev := bob.Next()
	require.Equal(t, chat.Event{Type: chat.EventTyping, ChatID: c.ID, UserID: "alice"}, ev)

	// The sender does not get its own typing event: the next thing alice
	// sees is the message.
	mustSend(t, srv, "bob", c.ID, "hi")
	require.Equal(t, chat.EventMessageCreated, alice.Next().Type)
	require.Equal(t, chat.EventMessageCreated, bob.Next().Type)
}

func TestWebSocketBadFrames(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	mustSend(t, srv, "alice", c.ID, "one")
	bob := srv.Dial("bob")

	bad := []struct {
		typ  websocket.MessageType
		data string
	}{
		{websocket.MessageText, "not json"},
		{websocket.MessageText, "[1,2]"},
		{websocket.MessageText, `{"type":"resume","positions":{"x":"y"}}`},
		{websocket.MessageText, `{"type":"resume","positions":{"x":-1}}`},
		{websocket.MessageText, `{"type":"typing","chat_id":"` + c.ID + `"}`}, // before resume
		{websocket.MessageText, `{"type":"dance"}`},
		{websocket.MessageText, `{}`},
		{websocket.MessageBinary, `{"type":"resume"}`},
		{websocket.MessageText, "\xff\xfe"},
	}
	for _, b := range bad {
		bob.SendRaw(b.typ, []byte(b.data))
		f, err := bob.ReadFrame(chattest.Timeout)
		require.NoError(t, err, "frame %q", b.data)
		require.Equal(t, chat.EventType("error"), f.Type, "frame %q", b.data)
		require.Equal(t, "invalid_request", f.Code, "frame %q", b.data)
		require.NotEmpty(t, f.ErrorMessage)
	}
	replay := bob.Resume(map[string]int64{c.ID: 0})
	require.Len(t, replay, 1, "a valid resume still works after garbage")

	bob.Send(map[string]any{"type": "resume", "positions": map[string]int64{}})
	f, err := bob.ReadFrame(chattest.Timeout)
	require.NoError(t, err)
	require.Equal(t, chat.EventType("error"), f.Type, "a second resume is refused")

	bob.SendRaw(websocket.MessageText, []byte("garbage after resume"))
	f, err = bob.ReadFrame(chattest.Timeout)
	require.NoError(t, err)
	require.Equal(t, chat.EventType("error"), f.Type)

	mustSend(t, srv, "alice", c.ID, "two")
	ev := bob.Next()
	require.Equal(t, int64(2), ev.Seq, "the connection keeps working")
}

func TestWebSocketOversizedFrameCloses(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	bob := srv.Dial("bob")
	big := `{"type":"resume","positions":{"` + strings.Repeat("x", chat.DefaultReadLimit) + `":1}}`
	bob.SendRaw(websocket.MessageText, []byte(big))
	require.Equal(t, websocket.StatusMessageTooBig, bob.CloseStatus())

	// Everyone else is unaffected.
	alice, _ := srv.Connect("alice", nil)
	mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.Equal(t, chat.EventChatCreated, alice.Next().Type)
}

func newServerWith(t *testing.T, svc *chat.Service, ws chat.WebSocketConfig) *chattest.Server {
	t.Helper()
	return chattest.NewServerWithConfig(t, svc, chat.HandlerConfig{}, ws)
}

func TestWebSocketResumeTimeout(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := newServerWith(t, svc, chat.WebSocketConfig{ResumeTimeout: 200 * time.Millisecond})
	c := chattest.Dial(t, srv.WebSocketURL(), "bob")
	require.Equal(t, chat.CloseResumeTimeout, c.CloseStatus())
}

func TestWebSocketUnauthenticatedAndForeignOrigin(t *testing.T) {
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	ctx := context.Background()

	_, resp, err := websocket.Dial(ctx, srv.WebSocketURL(), nil)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	h := http.Header{}
	h.Set(chattest.UserHeader, "bob")
	h.Set("Origin", "https://evil.example")
	_, resp, err = websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	svc := chattest.NewService(t, chat.Config{})
	allowed := newServerWith(t, svc, chat.WebSocketConfig{OriginPatterns: []string{"app.example"}})
	h.Set("Origin", "https://app.example")
	c, _, err := websocket.Dial(ctx, allowed.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
	require.NoError(t, err)
	c.CloseNow()
}

// A client that never reads is cut off with CloseSlowConsumer; the others
// keep receiving everything.
func TestWebSocketSlowReaderIsDisconnectedOthersUnaffected(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{QueueSize: 16})
	// A write timeout longer than the test: on a slow machine the sends
	// could otherwise leave the slow client's socket idle long enough for
	// 1008 "write timeout" to come before the queue overflows.
	srv := newServerWith(t, svc, chat.WebSocketConfig{WriteTimeout: time.Hour})
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "slow"}})
	slow, _ := srv.Connect("slow", map[string]int64{c.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{c.ID: 0})

	ctx := context.Background()
	text := strings.Repeat("z", 4000)
	const total = 1600 // far more than the socket buffers and the queue hold
	progress := make(chan int64, total)
	go func() {
		defer close(progress)
		for {
			f, err := bob.ReadFrame(chattest.Timeout)
			if err != nil {
				return
			}
			if f.Type == chat.EventMessageCreated {
				progress <- f.Seq
				if f.Seq == total {
					return
				}
			}
		}
	}()
	// Bob reads as fast as he can; the sender waits for him every few
	// messages so that only the reader that never reads falls behind.
	var bobAt int64
	for i := 1; i <= total; i++ {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: text})
		require.NoError(t, err)
		for i%8 == 0 && bobAt < int64(i) {
			seq, ok := <-progress
			require.True(t, ok, "bob's connection ended at seq %d", bobAt)
			require.Equal(t, bobAt+1, seq)
			bobAt = seq
		}
	}
	require.Equal(t, int64(total), bobAt)
	// The slow client finally reads: it gets what was buffered, then the
	// close frame.
	require.Equal(t, chat.CloseSlowConsumer, slow.CloseStatus())
}

func TestShutdownClosesWebSocketsWithGoingAway(t *testing.T) {
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	require.NoError(t, err)
	srv := chattest.NewServer(t, svc)
	resumed, _ := srv.Connect("alice", nil)
	waiting := srv.Dial("bob") // still in its handshake

	// Clients keep reading, as real ones do, so the close handshakes
	// complete.
	statuses := make(chan websocket.StatusCode, 2)
	for _, c := range []*chattest.Conn{resumed, waiting} {
		go func() { statuses <- c.CloseStatus() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	require.NoError(t, svc.Shutdown(ctx))
	require.Equal(t, websocket.StatusGoingAway, <-statuses)
	require.Equal(t, websocket.StatusGoingAway, <-statuses)

	resp := srv.Do("alice", http.MethodGet, "/chats", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.Equal(t, "unavailable", resp.ErrorCode())
}
