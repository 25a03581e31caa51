package chat_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// next reads events from sub until one of chatID arrives.
func nextIn(t *testing.T, sub *chat.Subscription, chatID string) chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.ChatID == chatID && ev.Type != chat.EventChatCreated {
			return ev
		}
	}
}

func subscribe(t *testing.T, svc *chat.Service, user string, positions map[string]int64) (*chat.Subscription, []chat.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	sub, err := svc.Subscribe(ctx, user, positions)
	require.NoError(t, err)
	t.Cleanup(func() { sub.Close() })
	var replay []chat.Event
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.Type == chat.EventResumed {
			return sub, replay
		}
		replay = append(replay, ev)
	}
}

func TestServiceGoAPI(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{})

	c, created, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	require.True(t, created)
	again, created, err := svc.CreateChat(ctx, "bob", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"alice"}})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, c.ID, again.ID)

	bob, _ := subscribe(t, svc, "bob", nil)
	m, created, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "hi", ClientID: "k1"})
	require.NoError(t, err)
	require.True(t, created)
	ev := nextIn(t, bob, c.ID)
	require.Equal(t, m, *ev.Message)

	_, _, err = svc.SendMessage(ctx, "mallory", c.ID, chat.SendMessageRequest{Text: "hi"})
	require.ErrorIs(t, err, chat.ErrNotFound)
	_, err = svc.GetChat(ctx, "mallory", c.ID)
	require.ErrorIs(t, err, chat.ErrNotFound)
	_, err = svc.ListMessages(ctx, "mallory", c.ID, chat.MessageQuery{})
	require.ErrorIs(t, err, chat.ErrNotFound)
	require.ErrorIs(t, svc.Typing(ctx, "mallory", c.ID), chat.ErrNotFound)
	_, _, err = svc.SendMessage(ctx, "", c.ID, chat.SendMessageRequest{Text: "hi"})
	require.ErrorIs(t, err, chat.ErrUnauthenticated)
	_, _, err = svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: " "})
	require.ErrorIs(t, err, chat.ErrInvalid)

	page, err := svc.ListMessages(ctx, "bob", c.ID, chat.MessageQuery{})
	require.NoError(t, err)
	require.Equal(t, []chat.Message{m}, page.Messages)

	require.NoError(t, bob.Close())
	_, err = bob.Next(ctx)
	require.ErrorIs(t, err, chat.ErrClosed)
}

func TestSubscriptionFollowsChatsCreatedLater(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{})
	carol, _ := subscribe(t, svc, "carol", nil)
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"carol"}})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "x"})
		require.NoError(t, err)
	}
	ev, err := carol.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, chat.EventChatCreated, ev.Type)
	for seq := int64(1); seq <= 3; seq++ {
		require.Equal(t, seq, nextIn(t, carol, c.ID).Seq)
	}
}

// cluster is several Services (nodes) on one Store and one Broker, as in a
// multi-server deployment.
func cluster(t *testing.T, nodes int, broker chat.Broker) []*chat.Service {
	t.Helper()
	store := memory.NewStore()
	out := make([]*chat.Service, nodes)
	for i := range out {
		out[i] = chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	}
	return out
}

func TestMultiNodeDelivery(t *testing.T) {
	ctx := context.Background()
	nodes := cluster(t, 3, memory.NewBroker())
	c, _, err := nodes[0].CreateChat(ctx, "u0", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"u1", "u2"}})
	require.NoError(t, err)

	subs := make([]*chat.Subscription, 3)
	for i, n := range nodes {
		subs[i], _ = subscribe(t, n, fmt.Sprint("u", i), map[string]int64{c.ID: 0})
	}
	const perNode = 30
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perNode; j++ {
				_, _, err := n.SendMessage(ctx, fmt.Sprint("u", i), c.ID, chat.SendMessageRequest{Text: "x"})
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	for _, sub := range subs {
		for seq := int64(1); seq <= 3*perNode; seq++ {
			require.Equal(t, seq, nextIn(t, sub, c.ID).Seq)
		}
	}
}

// While the Broker drops everything, a remote node learns of the missed
// events as soon as a later one arrives, and fills the gap from the Store.
func TestMultiNodeRecoversDroppedNotificationsFromTheStore(t *testing.T) {
	ctx := context.Background()
	broker := memory.NewBroker()
	nodes := cluster(t, 2, broker)
	c, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, nodes[1], "bob", map[string]int64{c.ID: 0})
	alice, _ := subscribe(t, nodes[0], "alice", map[string]int64{c.ID: 0})

	broker.SetDrop(true)
	for i := 0; i < 5; i++ {
		_, _, err := nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "while dropped"})
		require.NoError(t, err)
	}
	// Local members are served without the Broker.
	for seq := int64(1); seq <= 5; seq++ {
		require.Equal(t, seq, nextIn(t, alice, c.ID).Seq)
	}
	chat.WaitPublished(nodes[0])
	broker.SetDrop(false)
	_, _, err = nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)
	for seq := int64(1); seq <= 6; seq++ {
		require.Equal(t, seq, nextIn(t, bob, c.ID).Seq)
	}

	// A reported loss (a reconnect, say) recovers without a later message.
	broker.SetDrop(true)
	_, _, err = nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "lost"})
	require.NoError(t, err)
	chat.WaitPublished(nodes[0])
	broker.SetDrop(false)
	broker.LoseAll()
	require.Equal(t, int64(7), nextIn(t, bob, c.ID).Seq)
}

// A chat.created notification lost between nodes is recovered when the
// user's topic is reported lost.
func TestMultiNodeRecoversLostChatCreated(t *testing.T) {
	ctx := context.Background()
	broker := memory.NewBroker()
	nodes := cluster(t, 2, broker)
	bob, _ := subscribe(t, nodes[1], "bob", nil)

	broker.SetDrop(true)
	c, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	_, _, err = nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "hi"})
	require.NoError(t, err)
	chat.WaitPublished(nodes[0])
	broker.SetDrop(false)
	broker.LoseAll()

	ev, err := bob.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, chat.EventChatCreated, ev.Type)
	require.Equal(t, c.ID, ev.ChatID)
	require.Equal(t, int64(1), nextIn(t, bob, c.ID).Seq)
}

// flakyStore fails ListEvents while down is set, as a database restart
// would.
type flakyStore struct {
	chat.Store
	mu       sync.Mutex
	down     bool
	failures int
}

func (f *flakyStore) failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

func (f *flakyStore) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *flakyStore) ListEvents(ctx context.Context, chatID string, after int64, limit int) ([]chat.Event, error) {
	f.mu.Lock()
	down := f.down
	if down {
		f.failures++
	}
	f.mu.Unlock()
	if down {
		return nil, fmt.Errorf("flaky: %w", chat.ErrUnavailable)
	}
	return f.Store.ListEvents(ctx, chatID, after, limit)
}

// When the Store cannot fill a gap, the stream retries until it can and
// still delivers everything in order.
func TestStreamRetriesGapFillUntilTheStoreIsBack(t *testing.T) {
	ctx := context.Background()
	broker := memory.NewBroker()
	store := &flakyStore{Store: memory.NewStore()}
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	b := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	c, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, b, "bob", map[string]int64{c.ID: 0})

	broker.SetDrop(true)
	_, _, err = a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "1"})
	require.NoError(t, err)
	chat.WaitPublished(a)
	broker.SetDrop(false)
	store.setDown(true)
	_, _, err = a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "2"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return store.failed() > 0 }, chattest.Timeout, time.Millisecond,
		"node b tries to fill the gap and fails")
	store.setDown(false)
	require.Equal(t, int64(1), nextIn(t, bob, c.ID).Seq)
	require.Equal(t, int64(2), nextIn(t, bob, c.ID).Seq)
}

func TestSubscribeAfterShutdown(t *testing.T) {
	svc, err := chat.New(chat.Config{Store: memory.NewStore()})
	require.NoError(t, err)
	require.NoError(t, svc.Shutdown(context.Background()))
	_, err = svc.Subscribe(context.Background(), "alice", nil)
	require.True(t, errors.Is(err, chat.ErrClosed))
	_, _, err = svc.CreateChat(context.Background(), "alice", chat.CreateChatRequest{Kind: chat.KindGroup})
	require.ErrorIs(t, err, chat.ErrClosed)
}

func TestNewRequiresAStore(t *testing.T) {
	_, err := chat.New(chat.Config{})
	require.Error(t, err)
}

// Subscriptions that start following a chat while messages pour into it
// must neither deadlock the node nor miss anything: each sees 1..N.
func TestSubscribeWhileSending(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{QueueSize: 1024})
	members := make([]string, 40)
	for i := range members {
		members[i] = fmt.Sprint("m", i)
	}
	c, _, err := svc.CreateChat(ctx, "sender", chat.CreateChatRequest{Kind: chat.KindGroup, Members: members})
	require.NoError(t, err)

	const total = 300
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < total; i++ {
			_, _, err := svc.SendMessage(ctx, "sender", c.ID, chat.SendMessageRequest{Text: "x"})
			assert.NoError(t, err)
		}
	}()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub, err := svc.Subscribe(ctx, m, map[string]int64{c.ID: 0})
			if !assert.NoError(t, err) {
				return
			}
			defer sub.Close()
			rctx, cancel := context.WithTimeout(ctx, chattest.Timeout)
			defer cancel()
			want := int64(1)
			for want <= total {
				ev, err := sub.Next(rctx)
				if !assert.NoError(t, err, "%s waiting for seq %d", m, want) {
					return
				}
				if ev.Type == chat.EventMessageCreated {
					if !assert.Equal(t, want, ev.Seq, m) {
						return
					}
					want++
				}
			}
		}()
	}
	<-sent
	wg.Wait()
}

// Subscriptions coming and going on a busy chat must not deadlock the
// node: stream workers start while subscriptions follow and unfollow.
//
// The sender sends as fast as the Store takes messages, which a reader can
// fall more than Config.QueueSize events behind when the scheduler leaves
// it waiting (GOMAXPROCS=1 on a loaded machine did in 7 of 20 runs). Being
// cut off as a slow consumer is then the documented outcome, not a
// failure; every subscription must still either resume or be cut off, and
// none may hang.
func TestSubscriptionChurnOnBusyChat(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{})
	members := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	c, _, err := svc.CreateChat(ctx, "sender", chat.CreateChatRequest{Kind: chat.KindGroup, Members: members})
	require.NoError(t, err)

	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _, err := svc.SendMessage(ctx, "sender", c.ID, chat.SendMessageRequest{Text: "x"})
			assert.NoError(t, err)
		}
	}()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				if err := resumeOrSlow(svc, m); !assert.NoError(t, err, "%s, subscription %d", m, i) {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sent
}

// resumeOrSlow subscribes user with no positions and reads until resumed,
// or until the subscription is cut off as a slow consumer, then closes
// it. It returns any other error, a timeout included.
func resumeOrSlow(svc *chat.Service, user string) error {
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	sub, err := svc.Subscribe(ctx, user, nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev, err := sub.Next(ctx)
		if errors.Is(err, chat.ErrSlowConsumer) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Type == chat.EventResumed {
			return nil
		}
	}
}

// failingBroker refuses publications while fail is set, as a Redis that
// times out would, while subscriptions stay up.
type failingBroker struct {
	*memory.Broker
	mu      sync.Mutex
	fail    bool
	refused int
}

func (b *failingBroker) setFail(fail bool) {
	b.mu.Lock()
	b.fail = fail
	b.mu.Unlock()
}

func (b *failingBroker) refusals() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refused
}

func (b *failingBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	fail := b.fail
	if fail {
		b.refused++
	}
	b.mu.Unlock()
	if fail {
		return errors.New("publish timed out")
	}
	return b.Broker.Publish(ctx, topic, payload)
}

// A notification the Broker refused is published again, so a quiet chat's
// last message still reaches other nodes without a later one.
func TestRefusedPublicationIsRetried(t *testing.T) {
	ctx := context.Background()
	broker := &failingBroker{Broker: memory.NewBroker()}
	nodes := cluster(t, 2, broker)
	c, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, nodes[1], "bob", map[string]int64{c.ID: 0})

	broker.setFail(true)
	_, _, err = nodes[0].SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "the last word"})
	require.NoError(t, err, "a send succeeds whatever the Broker says")
	require.Eventually(t, func() bool { return broker.refusals() >= 2 }, chattest.Timeout, time.Millisecond,
		"the publication is retried")
	broker.setFail(false)
	ev := nextIn(t, bob, c.ID)
	require.Equal(t, "the last word", ev.Message.Text)
}
