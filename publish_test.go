package chat_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// A stored event whose notification failed is retried even when a typing
// or read notification on the same chat fails after it.
func TestPublishRetryOfStoredEventSurvivesLaterEphemeralFailures(t *testing.T) {
	ctx := context.Background()
	broker := &failingBroker{Broker: memory.NewBroker()}
	nodes := cluster(t, 2, broker)
	c, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, nodes[1], "bob", map[string]int64{c.ID: 0})

	broker.setFail(true)
	_, _, err = nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "the last word"})
	require.NoError(t, err)
	require.NoError(t, nodes[0].Typing(ctx, "alice", c.ID))
	_, err = nodes[0].MarkRead(ctx, "alice", c.ID, 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return broker.refusals() >= 3 }, chattest.Timeout, time.Millisecond,
		"all three notifications were refused")
	broker.setFail(false)
	ev := nextIn(t, bob, c.ID)
	for ev.Type != chat.EventMessageCreated {
		ev = nextIn(t, bob, c.ID)
	}
	require.Equal(t, "the last word", ev.Message.Text)
}

// chat.created notifications refused for two chats are both retried: the
// second does not replace the first.
func TestPublishRetriesOfChatCreatedAreASet(t *testing.T) {
	ctx := context.Background()
	broker := &failingBroker{Broker: memory.NewBroker()}
	nodes := cluster(t, 2, broker)
	bob, _ := subscribe(t, nodes[1], "bob", nil)

	broker.setFail(true)
	x, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	y, _, err := nodes[0].CreateChat(ctx, "carol", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return broker.refusals() >= 4 }, chattest.Timeout, time.Millisecond,
		"both chats' notifications were refused")
	broker.setFail(false)

	seen := map[string]bool{}
	for len(seen) < 2 {
		ev, err := nextEvent(bob)
		require.NoError(t, err, "bob learned of %v only", seen)
		if ev.Type == chat.EventChatCreated {
			seen[ev.ChatID] = true
		}
	}
	require.True(t, seen[x.ID] && seen[y.ID])
	_, _, err = nodes[0].SendMessage(ctx, "alice", x.ID, chat.SendMessageRequest{Text: "in x"})
	require.NoError(t, err)
	require.Equal(t, "in x", nextIn(t, bob, x.ID).Message.Text, "bob follows the first chat")
}

func nextEvent(sub *chat.Subscription) (chat.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	return sub.Next(ctx)
}

// blockingBroker's Publish blocks, as a Redis behind a partition does,
// until the test unblocks it, whatever the caller's context says (so that
// "a publication is blocked right now" holds however slow the machine).
type blockingBroker struct {
	*memory.Broker
	unblock chan struct{}
	entered chan struct{} // receives once per Publish that blocks

	mu      sync.Mutex
	blocked int // Publish calls blocked right now
}

func newBlockingBroker() *blockingBroker {
	return &blockingBroker{Broker: memory.NewBroker(), unblock: make(chan struct{}), entered: make(chan struct{}, 1024)}
}

func (b *blockingBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	select {
	case <-b.unblock:
		return b.Broker.Publish(ctx, topic, payload)
	default:
	}
	b.mu.Lock()
	b.blocked++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.blocked--
		b.mu.Unlock()
	}()
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.unblock
	return b.Broker.Publish(context.WithoutCancel(ctx), topic, payload)
}

func (b *blockingBroker) blockedNow() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blocked
}

// While the Broker hangs, sends answer at once and WebSocket connections
// keep working; once it is back, every stored event reaches the other
// node.
func TestPublishDoesNotWaitForABlockedBroker(t *testing.T) {
	ctx := context.Background()
	broker := newBlockingBroker()
	store := memory.NewStore()
	drops := &dropRecorder{}
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker, PublishQueueSize: 4, Observer: drops})
	b := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	srvA := chattest.NewServer(t, a)
	srvB := chattest.NewServer(t, b)
	c := mustCreateChat(t, srvA, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	unblocked := false
	defer func() {
		if !unblocked {
			close(broker.unblock)
		}
	}()

	bob, _ := srvB.Connect("bob", map[string]int64{c.ID: 0})
	alice, _ := srvA.Connect("alice", map[string]int64{c.ID: 0})
	<-broker.entered // the chat.created publication hangs (or will, once it starts)

	const sends = 20
	for i := 1; i <= sends; i++ {
		_, _, err := a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "while the broker hangs"})
		require.NoError(t, err)
		require.GreaterOrEqual(t, broker.blockedNow(), 1, "send %d answered while a publication is still blocked", i)
	}
	resp := srvA.Do("alice", http.MethodPost, "/chats/"+c.ID+"/read", map[string]int64{"seq": 1})
	require.Equal(t, http.StatusOK, resp.Status)
	require.GreaterOrEqual(t, broker.blockedNow(), 1, "a read mark answered while a publication is blocked")

	// alice's read loop is not stuck behind her typing frame: she gets an
	// answer to a bad frame while the Broker still hangs.
	alice.Send(map[string]string{"type": "typing", "chat_id": c.ID})
	alice.SendRaw(websocket.MessageText, []byte("not json"))
	aliceAt := int64(0) // the messages alice read on the way
	f, err := alice.ReadFrame(chattest.Timeout)
	for err == nil && f.Type != "error" {
		if f.Type == chat.EventMessageCreated {
			require.Equal(t, aliceAt+1, f.Seq)
			aliceAt = f.Seq
		}
		f, err = alice.ReadFrame(chattest.Timeout)
	}
	require.NoError(t, err)
	require.GreaterOrEqual(t, broker.blockedNow(), 1, "the read loop answered while a publication is blocked")

	close(broker.unblock)
	unblocked = true
	expectMessages(t, bob, c.ID, 1, sends)
	mustSend(t, srvA, "alice", c.ID, "after")
	expectMessages(t, bob, c.ID, sends+1, sends+1)
	expectMessages(t, alice, c.ID, aliceAt+1, sends+1)
	require.Positive(t, a.FlowCounts().NotificationsDropped, "the small publish queue overflowed")
	require.Positive(t, drops.count(chat.EventMessageCreated, "publish_queue_full"), "and that was observed")
}
