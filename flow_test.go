package chat_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// smallBufferServer serves svc's WebSocket handler at the returned URL,
// with socket send buffers of a few KiB, so that a client that stops
// reading makes the server's writes block after a few frames, not after
// megabytes. writing counts the socket writes under way, which shows a
// write blocked on a full socket.
func smallBufferServer(t *testing.T, svc *chat.Service, ws chat.WebSocketConfig) (url string, writing *atomic.Int32) {
	t.Helper()
	ws.Authenticate = chattest.HeaderAuth
	srv := httptest.NewUnstartedServer(chat.NewWebSocketHandler(svc, ws))
	l := smallBufferListener{Listener: srv.Listener, writing: new(atomic.Int32)}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), l.writing
}

type smallBufferListener struct {
	net.Listener
	writing *atomic.Int32
}

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return watchedConn{Conn: c, writing: l.writing}, nil
}

type watchedConn struct {
	net.Conn
	writing *atomic.Int32
}

func (c watchedConn) Write(p []byte) (int, error) {
	c.writing.Add(1)
	defer c.writing.Add(-1)
	return c.Conn.Write(p)
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
	mustSend(t, srv, "alice", other.ID, "done typing")

	// Typing events wait in their own lane and may come after the
	// messages; 8 of the 10 frames were throttled (counted as each frame
	// was handled), so two fan-outs exist, and the loop reads until both
	// and both messages are in.
	typing := map[string]int{}
	for flushed := map[string]bool{}; len(flushed) < 2 || len(typing) < 2; {
		ev := bob.Next()
		if ev.Type == chat.EventMessageCreated {
			flushed[ev.ChatID] = true
			continue
		}
		require.Equal(t, chat.EventTyping, ev.Type)
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
	drops := &dropRecorder{}
	svc := chattest.NewService(t, chat.Config{QueueSize: 4, TypingInterval: -1, Observer: drops})
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
	require.Equal(t, svc.FlowCounts().EphemeralDropped, drops.count(chat.EventTyping, "queue_full"), "and observed")
}

// dropRecorder is an Observer that counts EventDroppedObserved.
type dropRecorder struct {
	mu    sync.Mutex
	drops map[chat.EventDroppedObserved]int64
}

func (r *dropRecorder) Observe(o chat.Observation) {
	if d, ok := o.(chat.EventDroppedObserved); ok {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.drops == nil {
			r.drops = make(map[chat.EventDroppedObserved]int64)
		}
		r.drops[d]++
	}
}

func (r *dropRecorder) count(typ chat.EventType, reason string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drops[chat.EventDroppedObserved{Type: typ, Reason: reason}]
}

// Over a real connection with small socket buffers: a member typing in a
// loop does not get a reader that has stopped reading closed.
func TestWebSocketTypingFloodDoesNotCloseSlowReaders(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: 4, TypingInterval: -1})
	url, _ := smallBufferServer(t, svc, chat.WebSocketConfig{MaxFrameRate: -1})
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
			if alice.WebSocket().Write(ctx, websocket.MessageText, frame) != nil {
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

// pausingStore holds the first ListEvents of one chat until resume is
// closed, so that a replay of that chat stays under way while a test
// makes live events arrive.
type pausingStore struct {
	chat.Store
	chatID string
	paused chan struct{} // closed once a ListEvents of chatID waits
	resume chan struct{}
	once   sync.Once
}

func newPausingStore(store chat.Store) *pausingStore {
	return &pausingStore{Store: store, paused: make(chan struct{}), resume: make(chan struct{})}
}

func (p *pausingStore) ListEvents(ctx context.Context, chatID string, after int64, limit int) ([]chat.Event, error) {
	if chatID == p.chatID {
		p.once.Do(func() {
			close(p.paused)
			<-p.resume
		})
	}
	return p.Store.ListEvents(ctx, chatID, after, limit)
}

// readChats reads events until want(ev) is true, checking that each
// chat's stored events come in consecutive seq order, a resync resetting
// the chat (later events must only be newer). It returns the events read.
func readChats(t *testing.T, next func() (chat.Event, error), want func(chat.Event) bool) []chat.Event {
	t.Helper()
	last := map[string]int64{}
	resynced := map[string]bool{}
	var seen []chat.Event
	for {
		ev, err := next()
		require.NoError(t, err, "after %d events: %v", len(seen), seen)
		seen = append(seen, ev)
		switch {
		case ev.Type == chat.EventResync:
			resynced[ev.ChatID] = true
		case ev.Seq > 0 && resynced[ev.ChatID]:
			require.Greater(t, ev.Seq, last[ev.ChatID], "chat %s after resync", ev.ChatID)
			resynced[ev.ChatID] = false
			last[ev.ChatID] = ev.Seq
		case ev.Seq > 0:
			require.Equal(t, last[ev.ChatID]+1, ev.Seq, "chat %s: %v", ev.ChatID, seen)
			last[ev.ChatID] = ev.Seq
		}
		if want(ev) {
			return seen
		}
	}
}

// A reader added to a chat with a long history, while its other chats are
// busy, is not cut off: the replay has an allowance of its own in the
// queue, and live events keep theirs.
func TestReplayOfANewChatDoesNotCutOffALiveReader(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: 8})
	busy, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	long, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup})
	require.NoError(t, err)
	for range 100 {
		_, _, err := svc.SendMessage(ctx, "alice", long.ID, chat.SendMessageRequest{Text: "history"})
		require.NoError(t, err)
	}
	bob, _ := subscribe(t, svc, "bob", nil)
	marker, _ := subscribe(t, svc, "alice", map[string]int64{busy.ID: 0})

	_, _, err = svc.AddMember(ctx, "alice", long.ID, "bob")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return chat.QueueLen(bob) >= 8 }, chattest.Timeout, time.Millisecond,
		"the replay fills what it may of the queue")
	for seq := int64(1); seq <= 5; seq++ {
		_, _, err := svc.SendMessage(ctx, "alice", busy.ID, chat.SendMessageRequest{Text: "live"})
		require.NoError(t, err)
		// Once alice's subscription has it, bob's has been offered it.
		require.Equal(t, seq, nextIn(t, marker, busy.ID).Seq)
	}

	var busyAt, longAt int64
	readChats(t, func() (chat.Event, error) { return nextEvent(bob) }, func(ev chat.Event) bool {
		switch ev.ChatID {
		case busy.ID:
			busyAt = ev.Seq
		case long.ID:
			longAt = max(longAt, ev.Seq)
		}
		return busyAt == 5 && longAt == 101
	})
	require.NoError(t, bob.Err())
}

// heldResumeSetup starts a resume of chat "long" that stays under way while
// 500 messages arrive in chat busy, which the resuming subscription holds
// back; connect starts the resume with the given positions.
func heldResume(t *testing.T, connect func(svc *chat.Service, positions map[string]int64)) (svc *chat.Service, busy, long chat.Chat) {
	t.Helper()
	ctx := context.Background()
	store := newPausingStore(memory.NewStore())
	svc = chattest.NewService(t, chat.Config{Store: store, QueueSize: 8})
	busy, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	long, _, err = svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	for range 10 {
		_, _, err := svc.SendMessage(ctx, "alice", long.ID, chat.SendMessageRequest{Text: "history"})
		require.NoError(t, err)
	}
	marker, _ := subscribe(t, svc, "alice", nil)
	store.chatID = long.ID

	connect(svc, map[string]int64{long.ID: 0})
	<-store.paused
	for seq := int64(1); seq <= 500; seq++ {
		_, _, err := svc.SendMessage(ctx, "alice", busy.ID, chat.SendMessageRequest{Text: "while bob resumes"})
		require.NoError(t, err)
		// Once alice's subscription has it, bob's has been offered it.
		require.Equal(t, seq, nextIn(t, marker, busy.ID).Seq)
	}
	close(store.resume)
	return svc, busy, long
}

// Events held during a resume that outgrow the holding bound turn into a
// resync of their chat instead of cutting the subscription off.
func TestHeldEventsOverflowBecomeAResync(t *testing.T) {
	var bob *chat.Subscription
	svc, busy, long := heldResume(t, func(svc *chat.Service, positions map[string]int64) {
		var err error
		bob, err = svc.Subscribe(context.Background(), "bob", positions)
		require.NoError(t, err)
		t.Cleanup(func() { bob.Close() })
	})
	next := func() (chat.Event, error) { return nextEvent(bob) }
	expectHeldOverflow(t, svc, busy, long, next)
}

func TestWebSocketHeldEventsOverflowBecomeAResync(t *testing.T) {
	var bob *chattest.Conn
	svc, busy, long := heldResume(t, func(svc *chat.Service, positions map[string]int64) {
		srv := chattest.NewServer(t, svc)
		bob = srv.Dial("bob")
		bob.Send(map[string]any{"type": "resume", "positions": positions})
	})
	next := func() (chat.Event, error) {
		f, err := bob.ReadFrame(chattest.Timeout)
		return f.Event, err
	}
	expectHeldOverflow(t, svc, busy, long, next)
}

func expectHeldOverflow(t *testing.T, svc *chat.Service, busy, long chat.Chat, next func() (chat.Event, error)) {
	t.Helper()
	seen := readChats(t, next, func(ev chat.Event) bool { return ev.Type == chat.EventResync })
	var longAt, busyAt int64
	resumed := false
	for _, ev := range seen {
		switch {
		case ev.Type == chat.EventResumed:
			resumed = true
		case ev.ChatID == long.ID:
			require.False(t, resumed, "the replay comes before resumed")
			longAt = ev.Seq
		case ev.ChatID == busy.ID && ev.Seq > 0:
			require.True(t, resumed, "held events come after resumed")
			busyAt = ev.Seq
		}
	}
	require.Equal(t, int64(10), longAt)
	require.Equal(t, busy.ID, seen[len(seen)-1].ChatID)
	require.Less(t, busyAt, int64(500), "the resync stands for the events that did not fit")

	_, _, err := svc.SendMessage(context.Background(), "alice", busy.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)
	ev, err := next()
	require.NoError(t, err)
	require.Equal(t, chat.EventMessageCreated, ev.Type, "nothing between the resync and the next live event")
	require.Equal(t, int64(501), ev.Seq)
	require.Equal(t, int64(1), svc.FlowCounts().ForcedResyncs)
}

// slowConsumerSetup connects bob over small socket buffers and has him
// stop reading. It sends messages of about 20 KB to his chat until the
// server's write to his socket blocks, then more, until the server gives
// up on him (counted in FlowCounts.Closes).
func slowConsumerSetup(t *testing.T, queueSize, more int, writeTimeout time.Duration) *chattest.Conn {
	t.Helper()
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: queueSize, Limits: chat.Limits{MaxTextRunes: 20000}})
	url, writing := smallBufferServer(t, svc, chat.WebSocketConfig{WriteTimeout: writeTimeout, PingInterval: -1})
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	bob := dialSmall(t, url, "bob")
	require.Empty(t, bob.Resume(nil))

	send := func() {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: strings.Repeat("z", 20000)})
		require.NoError(t, err)
	}
	for range 4 { // 80 KB: more than the socket buffers hold
		send()
	}
	require.Eventually(t, func() bool { return writing.Load() > 0 || len(svc.FlowCounts().Closes) > 0 },
		chattest.Timeout, time.Millisecond, "a write to bob's socket blocks (and may have timed out already)")
	for range more {
		send()
	}
	require.Eventually(t, func() bool { return len(svc.FlowCounts().Closes) > 0 }, chattest.Timeout, time.Millisecond,
		"the server gives up on bob")
	return bob
}

// A client that stopped reading while its queue overflowed gets every
// frame written before, whole, then the close frame with 4000, once it
// reads again: not a connection cut in the middle of a frame.
func TestWebSocketSlowConsumerReceivesItsCloseCode(t *testing.T) {
	bob := slowConsumerSetup(t, 8, 60, 0)
	require.Equal(t, chat.CloseSlowConsumer, bob.CloseStatus())
}

// A client that stopped reading with its queue not full is closed with
// 1008 after WriteTimeout, and gets that close code once it reads again.
func TestWebSocketStalledReaderReceivesPolicyViolation(t *testing.T) {
	bob := slowConsumerSetup(t, 256, 0, 300*time.Millisecond)
	require.Equal(t, websocket.StatusPolicyViolation, bob.CloseStatus())
}
