package chat_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// The tests in this file make the narrow windows of the delivery core wide:
// a wrapped Store or Broker stops a call until the test has done what the
// window allows, so each race happens on every run.

// pause is a point where a wrapped call stops until the test opens it.
type pause struct {
	reached, released chan struct{}
	reach, release    sync.Once
}

func newPause() *pause {
	return &pause{reached: make(chan struct{}), released: make(chan struct{})}
}

// wait is called by the wrapped call: it reports arriving, then waits.
func (p *pause) wait(ctx context.Context) {
	p.reach.Do(func() { close(p.reached) })
	select {
	case <-p.released:
	case <-ctx.Done():
	}
}

func (p *pause) open() { p.release.Do(func() { close(p.released) }) }

// awaitReached waits until a call has stopped at p.
func (p *pause) awaitReached(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.reached:
	case <-time.After(chattest.Timeout):
		t.Fatalf("never reached: %s", what)
	}
}

func (p *pause) isReached() bool {
	select {
	case <-p.reached:
		return true
	default:
		return false
	}
}

// openOnCleanup opens the pauses before the services shut down, which
// they could not do while a call of theirs is stopped.
func openOnCleanup(t *testing.T, pauses ...*pause) {
	t.Cleanup(func() {
		for _, p := range pauses {
			p.open()
		}
	})
}

// hookedStore calls its hooks from inside Store calls.
type hookedStore struct {
	chat.Store
	// afterChatIDs runs after ChatIDs has read the user's chats, before
	// they are returned.
	afterChatIDs func(ctx context.Context, userID string, ids []string)
	// beforeChatIDs runs before ChatIDs reads.
	beforeChatIDs func(ctx context.Context, userID string)
	// beforeLastSeqs runs before LastSeqs reads.
	beforeLastSeqs func(ctx context.Context, chatIDs []string)
	// beforeGetMember runs before GetMember reads.
	beforeGetMember func(ctx context.Context, chatID, userID string)
}

func (s *hookedStore) GetMember(ctx context.Context, chatID, userID string) (chat.Member, error) {
	if s.beforeGetMember != nil {
		s.beforeGetMember(ctx, chatID, userID)
	}
	return s.Store.GetMember(ctx, chatID, userID)
}

// pauseFirstGetMember makes the first GetMember call for user in chatID
// stop at the returned pause, before the Store reads.
func (s *hookedStore) pauseFirstGetMember(chatID, user string) *pause {
	p := newPause()
	var once sync.Once
	s.beforeGetMember = func(ctx context.Context, c, u string) {
		if c != chatID || u != user {
			return
		}
		first := false
		once.Do(func() { first = true })
		if first {
			p.wait(ctx)
		}
	}
	return p
}

func (s *hookedStore) ChatIDs(ctx context.Context, userID string) ([]string, error) {
	if s.beforeChatIDs != nil {
		s.beforeChatIDs(ctx, userID)
	}
	ids, err := s.Store.ChatIDs(ctx, userID)
	if err == nil && s.afterChatIDs != nil {
		s.afterChatIDs(ctx, userID, ids)
	}
	return ids, err
}

func (s *hookedStore) LastSeqs(ctx context.Context, chatIDs []string) (map[string]int64, error) {
	if s.beforeLastSeqs != nil {
		s.beforeLastSeqs(ctx, chatIDs)
	}
	return s.Store.LastSeqs(ctx, chatIDs)
}

// pauseFirstChatIDs makes the first ChatIDs call for user stop at the
// returned pause, after the Store has answered.
func (s *hookedStore) pauseFirstChatIDs(user string) *pause {
	p := newPause()
	var once sync.Once
	s.afterChatIDs = func(ctx context.Context, userID string, _ []string) {
		if userID != user {
			return
		}
		first := false
		once.Do(func() { first = true })
		if first {
			p.wait(ctx)
		}
	}
	return p
}

// gatedBroker wraps a Broker so that a node's Subscribe calls for chosen
// topics stop until the test opens them, and notifications of chosen topics
// are held until the test lets them through.
type gatedBroker struct {
	chat.Broker

	mu         sync.Mutex
	subscribes map[string]*pause
	held       map[string][]heldNotification
}

type heldNotification struct {
	h       chat.BrokerHandler
	payload []byte
}

func newGatedBroker(b chat.Broker) *gatedBroker {
	return &gatedBroker{Broker: b, subscribes: map[string]*pause{}, held: map[string][]heldNotification{}}
}

// pauseSubscribe makes the next Subscribe call naming topic stop until the
// returned pause is opened; the topic is not active meanwhile.
func (b *gatedBroker) pauseSubscribe(topic string) *pause {
	p := newPause()
	b.mu.Lock()
	b.subscribes[topic] = p
	b.mu.Unlock()
	return p
}

// hold keeps the notifications of topic from the node's handler until
// release.
func (b *gatedBroker) hold(topic string) {
	b.mu.Lock()
	b.held[topic] = []heldNotification{}
	b.mu.Unlock()
}

// release hands the held notifications of topic to the handler, in order,
// and lets later ones through.
func (b *gatedBroker) release(topic string) {
	b.mu.Lock()
	held := b.held[topic]
	delete(b.held, topic)
	b.mu.Unlock()
	for _, n := range held {
		n.h.HandleNotification(topic, n.payload)
	}
}

func (b *gatedBroker) NewSubscriber(h chat.BrokerHandler) (chat.Subscriber, error) {
	sub, err := b.Broker.NewSubscriber(gatedHandler{b: b, h: h})
	if err != nil {
		return nil, err
	}
	return gatedSubscriber{Subscriber: sub, b: b}, nil
}

type gatedSubscriber struct {
	chat.Subscriber
	b *gatedBroker
}

func (s gatedSubscriber) Subscribe(ctx context.Context, topics ...string) error {
	for _, topic := range topics {
		s.b.mu.Lock()
		p := s.b.subscribes[topic]
		delete(s.b.subscribes, topic)
		s.b.mu.Unlock()
		if p != nil {
			p.wait(ctx)
		}
	}
	return s.Subscriber.Subscribe(ctx, topics...)
}

type gatedHandler struct {
	b *gatedBroker
	h chat.BrokerHandler
}

func (g gatedHandler) HandleNotification(topic string, payload []byte) {
	g.b.mu.Lock()
	if held, ok := g.b.held[topic]; ok {
		g.b.held[topic] = append(held, heldNotification{h: g.h, payload: payload})
		g.b.mu.Unlock()
		return
	}
	g.b.mu.Unlock()
	g.h.HandleNotification(topic, payload)
}

func (g gatedHandler) HandleLost(topics []string) { g.h.HandleLost(topics) }

// untilResumed reads sub's events up to resumed.
func untilResumed(t *testing.T, sub *chat.Subscription) []chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	var evs []chat.Event
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.Type == chat.EventResumed {
			return evs
		}
		evs = append(evs, ev)
	}
}

// A user connects on node b while b's reconciler is in the middle of a
// round (subscribing another user's topic). The chat's stream is created in
// that window; it must not start before its topic is subscribed, or a
// message sent between "resumed" and the subscription is dropped by the
// Broker with no loss reported, and never delivered in a quiet chat.
func TestStreamStartsOnlyOnceItsTopicIsSubscribed(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	broker := memory.NewBroker()
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	hooked := &hookedStore{Store: store}
	gated := newGatedBroker(broker)
	b := chattest.NewService(t, chat.Config{Store: hooked, Broker: gated})
	c, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)

	var baselineMu sync.Mutex
	baselines := 0
	hooked.beforeLastSeqs = func(_ context.Context, ids []string) {
		if slices.Contains(ids, c.ID) {
			baselineMu.Lock()
			baselines++
			baselineMu.Unlock()
		}
	}
	bobChats := hooked.pauseFirstChatIDs("bob")
	carolTopic := gated.pauseSubscribe("u:carol")
	chatTopic := gated.pauseSubscribe("c:" + c.ID)
	openOnCleanup(t, bobChats, carolTopic, chatTopic)

	bob, err := b.Subscribe(ctx, "bob", nil)
	require.NoError(t, err)
	t.Cleanup(func() { bob.Close() })
	bobChats.awaitReached(t, "bob's subscription reads his chats")
	carol, err := b.Subscribe(ctx, "carol", nil)
	require.NoError(t, err)
	t.Cleanup(func() { carol.Close() })
	carolTopic.awaitReached(t, "the reconciler subscribes carol's topic")

	// Mid-round: bob's subscription follows the chat.
	bobChats.open()
	require.Eventually(t, func() bool { return chat.HasStream(b, c.ID) }, chattest.Timeout, time.Millisecond,
		"bob's subscription follows the chat")
	carolTopic.open()
	chatTopic.awaitReached(t, "the reconciler subscribes the chat's topic")
	baselineMu.Lock()
	early := baselines > 0
	baselineMu.Unlock()
	assert.False(t, early, "the stream read its baseline before its topic was subscribed")
	if !early {
		chatTopic.open()
	}
	untilResumed(t, bob)
	// Sent after bob's resumed: bob must get it.
	_, _, err = a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "right after resumed"})
	require.NoError(t, err)
	chatTopic.open()
	require.Equal(t, int64(1), nextIn(t, bob, c.ID).Seq)
}

// chat.created never carries display names (docs/protocol.md), even though
// the creator's answer, built from the same chat, does: the announcement
// must not share the chat the Service then decorates.
func TestChatCreatedCarriesNoDisplayNames(t *testing.T) {
	ctx := context.Background()
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		Users: directory{"alice": "Name of alice", "bob": "Name of bob", "carol": "Name of carol"},
	}})
	bob, _ := subscribe(t, svc, "bob", nil)
	carol, _ := subscribe(t, svc, "carol", nil)

	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	require.Equal(t, "Name of alice", c.Members[0].DisplayName, "the creator's answer has names")
	_, _, err = svc.AddMember(ctx, "alice", c.ID, "carol")
	require.NoError(t, err)

	for _, sub := range []*chat.Subscription{bob, carol} {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, chat.EventChatCreated, ev.Type)
		require.NotEmpty(t, ev.Chat.Members)
		for _, m := range ev.Chat.Members {
			assert.Empty(t, m.DisplayName, "%s sees %s's display name", sub.UserID(), m.UserID)
		}
	}
}

// recordingBroker records the size of every payload published, by topic.
type recordingBroker struct {
	chat.Broker
	mu    sync.Mutex
	sizes map[string][]int
}

func (b *recordingBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	if b.sizes == nil {
		b.sizes = map[string][]int{}
	}
	b.sizes[topic] = append(b.sizes[topic], len(payload))
	b.mu.Unlock()
	return b.Broker.Publish(ctx, topic, payload)
}

// userTopicBytes returns the largest payload and the total published on
// user topics.
func (b *recordingBroker) userTopicBytes() (largest, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for topic, sizes := range b.sizes {
		if topic[:2] != "u:" {
			continue
		}
		for _, n := range sizes {
			largest = max(largest, n)
			total += n
		}
	}
	return largest, total
}

// countingStore counts GetChat calls.
type countingStore struct {
	chat.Store
	mu       sync.Mutex
	getChats int
}

func (s *countingStore) GetChat(ctx context.Context, chatID string) (chat.Chat, error) {
	s.mu.Lock()
	s.getChats++
	s.mu.Unlock()
	return s.Store.GetChat(ctx, chatID)
}

func (s *countingStore) gets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getChats
}

// Creating a big group announces it to every member's topic with ids only,
// not the whole chat: each node with a subscriber reads the chat from the
// Store once and hands it to all of them.
func TestChatCreatedIsAnnouncedByIDs(t *testing.T) {
	ctx := context.Background()
	shared := memory.NewStore()
	broker := &recordingBroker{Broker: memory.NewBroker()}
	storeA, storeB := &countingStore{Store: shared}, &countingStore{Store: shared}
	a := chattest.NewService(t, chat.Config{Store: storeA, Broker: broker})
	b := chattest.NewService(t, chat.Config{Store: storeB, Broker: broker})

	members := make([]string, 300)
	for i := range members {
		members[i] = fmt.Sprintf("member-%03d", i)
	}
	var subs []*chat.Subscription
	for i, m := range members[:20] {
		node := a
		if i%2 == 1 {
			node = b
		}
		sub, _ := subscribe(t, node, m, nil)
		subs = append(subs, sub)
	}

	c, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "everyone", Members: members})
	require.NoError(t, err)
	for _, sub := range subs {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, chat.EventChatCreated, ev.Type)
		require.Equal(t, c.ID, ev.ChatID)
		require.Equal(t, len(members)+1, ev.Chat.MemberCount)
		require.Len(t, ev.Chat.Members, chat.DefaultMaxInlineMembers, "bounded as every chat object")
		require.Equal(t, "everyone", ev.Chat.Title)
	}
	_, _, err = b.SendMessage(ctx, members[0], c.ID, chat.SendMessageRequest{Text: "hello all"})
	require.NoError(t, err)
	for _, sub := range subs {
		require.Equal(t, int64(1), nextIn(t, sub, c.ID).Seq)
	}

	largest, total := broker.userTopicBytes()
	t.Logf("chat.created to %d user topics: %d bytes in all, the largest %d", len(members)+1, total, largest)
	assert.Less(t, largest, 256, "a user topic gets ids, not the chat")
	assert.Zero(t, storeA.gets(), "the creating node has the chat already")
	assert.Equal(t, 1, storeB.gets(), "the other node reads the chat once for all its subscribers")
}

// nextOf reads sub's events until one of chatID and type typ arrives.
func nextOf(t *testing.T, sub *chat.Subscription, chatID string, typ chat.EventType) chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.ChatID == chatID && ev.Type == typ {
			return ev
		}
	}
}

// pauseFirstLastSeqs makes the first LastSeqs call that names chatID stop
// at the returned pause.
func (s *hookedStore) pauseFirstLastSeqs(chatID string) *pause {
	p := newPause()
	var once sync.Once
	s.beforeLastSeqs = func(ctx context.Context, ids []string) {
		if !slices.Contains(ids, chatID) {
			return
		}
		first := false
		once.Do(func() { first = true })
		if first {
			p.wait(ctx)
		}
	}
	return p
}

// A member removed on node a while their new connection on node b is
// resuming (between reading their chats and following them) gets nothing
// of the chat after the removal: no live messages, whether the chat was
// listed for replay or not, and not after a resync either; events held
// during the resume are dropped too.
func TestRemovedWhileResumingGetsNothingMore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		listed    bool // bob resumes the chat from seq 0
		replayMax int  // node b's ReplayLimit
		before    int  // messages in the chat before bob connects
	}{
		{name: "live only"},
		{name: "replayed", listed: true},
		{name: "resync", listed: true, replayMax: 2, before: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := memory.NewStore()
			broker := memory.NewBroker()
			a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
			hooked := &hookedStore{Store: store}
			b := chattest.NewService(t, chat.Config{Store: hooked, Broker: broker, ReplayLimit: tc.replayMax})
			group, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
			require.NoError(t, err)
			direct, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
			require.NoError(t, err)
			for i := 0; i < tc.before; i++ {
				_, _, err := a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "before"})
				require.NoError(t, err)
			}
			// carol, on node b too, shows when b's stream of the group has
			// delivered an event to every follower. The chats are announced
			// first: a chat.created reaching her connection after resumed
			// would replay the group to her (protocol.md).
			chat.WaitPublished(a)
			carol, _ := subscribe(t, b, "carol", nil)

			bobChats := hooked.pauseFirstChatIDs("bob")
			baseline := hooked.pauseFirstLastSeqs(direct.ID)
			openOnCleanup(t, bobChats, baseline)
			var positions map[string]int64
			if tc.listed {
				positions = map[string]int64{group.ID: 0, direct.ID: 0}
			}
			bob, err := b.Subscribe(ctx, "bob", positions)
			require.NoError(t, err)
			t.Cleanup(func() { bob.Close() })
			bobChats.awaitReached(t, "bob's connection reads his chats")

			require.NoError(t, a.RemoveMember(ctx, "alice", group.ID, "bob"))
			removed := nextIn(t, carol, group.ID)
			require.Equal(t, chat.EventMemberRemoved, removed.Type)
			bobChats.open()
			// Bob now follows his chats; the direct chat's stream is new
			// and waits for its baseline, and so does bob's resume.
			baseline.awaitReached(t, "node b reads the direct chat's baseline")
			_, _, err = a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "held during the resume"})
			require.NoError(t, err)
			nextOf(t, carol, group.ID, chat.EventMessageCreated)
			baseline.open()

			got := untilResumed(t, bob)
			assert.False(t, bob.Typing(ctx, group.ID), "bob's connection still takes part in the group")
			_, _, err = a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "live"})
			require.NoError(t, err)
			nextOf(t, carol, group.ID, chat.EventMessageCreated)
			// Everything b's group stream gave bob is queued by now, before
			// the direct message.
			_, _, err = a.SendMessage(ctx, "alice", direct.ID, chat.SendMessageRequest{Text: "sentinel"})
			require.NoError(t, err)
			rctx, cancel := context.WithTimeout(ctx, chattest.Timeout)
			defer cancel()
			for {
				ev, err := bob.Next(rctx)
				require.NoError(t, err)
				got = append(got, ev)
				if ev.ChatID == direct.ID && ev.Type == chat.EventMessageCreated {
					break
				}
			}
			for _, ev := range got {
				if ev.ChatID == group.ID {
					assert.LessOrEqual(t, ev.Seq, removed.Seq, "bob got %s seq %d of the group after his removal", ev.Type, ev.Seq)
					assert.NotEqual(t, chat.EventResync, ev.Type, "bob got resync for the group after his removal")
				}
			}
		})
	}
}

// A member removed and added back at once keeps the chat on every node,
// however the removal (on the chat's topic) and the new chat.created (on
// the user's topic) interleave on the way: here the chat.created arrives
// first, while the subscription still follows the chat, and the removal
// after it.
func TestReaddedMemberKeepsReceiving(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	broker := memory.NewBroker()
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	gated := newGatedBroker(broker)
	b := chattest.NewService(t, chat.Config{Store: store, Broker: gated})
	group, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, b, "bob", map[string]int64{group.ID: 0})

	gated.hold("c:" + group.ID)
	t.Cleanup(func() { gated.release("c:" + group.ID) })
	require.NoError(t, a.RemoveMember(ctx, "alice", group.ID, "bob"))
	_, _, err = a.AddMember(ctx, "alice", group.ID, "bob")
	require.NoError(t, err)
	nextOf(t, bob, group.ID, chat.EventChatCreated)
	gated.release("c:" + group.ID)

	m, _, err := a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "welcome back"})
	require.NoError(t, err)
	for {
		ev := nextOf(t, bob, group.ID, chat.EventMessageCreated)
		if ev.Seq == m.Seq {
			break
		}
	}
}

// A node that read a chat for one announcement reads it again for a later
// one that needs a newer state: a user added to a group on another node is
// in the chat their chat.created carries.
func TestChatCreatedForAnAdditionShowsTheAddition(t *testing.T) {
	ctx := context.Background()
	nodes := cluster(t, 2, memory.NewBroker())
	bob, _ := subscribe(t, nodes[1], "bob", nil)
	carol, _ := subscribe(t, nodes[1], "carol", nil)
	c, _, err := nodes[0].CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	ev := nextOf(t, bob, c.ID, chat.EventChatCreated)
	require.Len(t, ev.Chat.Members, 2)

	_, _, err = nodes[0].AddMember(ctx, "alice", c.ID, "carol")
	require.NoError(t, err)
	ev = nextOf(t, carol, c.ID, chat.EventChatCreated)
	var ids []string
	for _, m := range ev.Chat.Members {
		ids = append(ids, m.UserID)
	}
	require.Equal(t, []string{"alice", "bob", "carol"}, ids)
	require.Equal(t, chat.EventMemberAdded, nextIn(t, carol, c.ID).Type)
}

// A user added to a chat and removed again while their connection joins it
// (the node follows the chat, then asks the Store whether the user is still
// in it) gets nothing of the chat, or all of it from its chat.created on:
// never the removal alone. The removal reaches the connection through the
// chat's stream before the Store says the user is out; the soak found the
// connection then handing it on, with the next chat joined, as the one
// event of a chat it had never announced.
func TestAddedAndRemovedWhileJoiningGetsNothingOrAll(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	broker := memory.NewBroker()
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	hooked := &hookedStore{Store: store}
	b := chattest.NewService(t, chat.Config{Store: hooked, Broker: broker})
	group, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"carol"}})
	require.NoError(t, err)
	_, _, err = a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "history"})
	require.NoError(t, err)
	// carol, on node b too, keeps b's stream of the group running and
	// shows when it has handed an event to every follower. The group is
	// announced first, so that no late chat.created replays it to her.
	chat.WaitPublished(a)
	carol, _ := subscribe(t, b, "carol", nil)
	dave, _ := subscribe(t, b, "dave", nil)

	joining := hooked.pauseFirstGetMember(group.ID, "dave")
	openOnCleanup(t, joining)
	_, _, err = a.AddMember(ctx, "alice", group.ID, "dave")
	require.NoError(t, err)
	joining.awaitReached(t, "dave's connection asks whether he is still in the group")
	require.NoError(t, a.RemoveMember(ctx, "alice", group.ID, "dave"))
	removed := nextOf(t, carol, group.ID, chat.EventMemberRemoved)
	// The stream handles one event at a time: once carol has the next
	// one, the removal has reached dave's connection too.
	_, _, err = a.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "after dave"})
	require.NoError(t, err)
	nextOf(t, carol, group.ID, chat.EventMessageCreated)
	joining.open()

	// Joining the next chat hands on whatever the connection holds. The
	// sentinel is sent once dave has that chat's history, which the join
	// read before handing anything on: it comes after whatever was held.
	other, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"erin"}})
	require.NoError(t, err)
	_, _, err = a.SendMessage(ctx, "alice", other.ID, chat.SendMessageRequest{Text: "history"})
	require.NoError(t, err)
	added, _, err := a.AddMember(ctx, "alice", other.ID, "dave")
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(ctx, chattest.Timeout)
	defer cancel()
	var got []chat.Event
	sentinel := int64(0)
	for {
		ev, err := dave.Next(rctx)
		require.NoError(t, err)
		if ev.ChatID == group.ID {
			got = append(got, ev)
		}
		if ev.ChatID == other.ID && ev.Seq == added.LastSeq && sentinel == 0 {
			m, _, err := a.SendMessage(ctx, "alice", other.ID, chat.SendMessageRequest{Text: "sentinel"})
			require.NoError(t, err)
			sentinel = m.Seq
		}
		if ev.ChatID == other.ID && sentinel != 0 && ev.Seq == sentinel {
			break
		}
	}
	if len(got) == 0 {
		return
	}
	require.Equal(t, chat.EventChatCreated, got[0].Type, "dave's first event of the group is %s seq %d", got[0].Type, got[0].Seq)
	var seqs []int64
	for _, ev := range got[1:] {
		seqs = append(seqs, ev.Seq)
	}
	var want []int64
	for seq := int64(1); seq <= removed.Seq; seq++ {
		want = append(want, seq)
	}
	require.Equal(t, want, seqs, "dave's events of the group after its chat.created")
}

// A chat created with a user while their connection resumes, and sent into
// before the resume reads the user's chats, is followed from that point on:
// its announcement, held back here on the way, comes after resumed and
// names a chat that was empty when announced. The connection is still owed
// the chat from seq 1, as the protocol says for any chat the user was
// added to while it resumed.
func TestCreatedDuringResumeGetsTheChatFromTheStart(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	hooked := &hookedStore{Store: store}
	gated := newGatedBroker(memory.NewBroker())
	svc := chattest.NewService(t, chat.Config{Store: hooked, Broker: gated})
	reading := newPause()
	var first atomic.Bool
	hooked.beforeChatIDs = func(ctx context.Context, user string) {
		if user == "bob" && first.CompareAndSwap(false, true) {
			reading.wait(ctx)
		}
	}
	openOnCleanup(t, reading)
	gated.hold("u:bob")
	t.Cleanup(func() { gated.release("u:bob") })

	bob, err := svc.Subscribe(ctx, "bob", nil)
	require.NoError(t, err)
	t.Cleanup(func() { bob.Close() })
	// bob's topic is subscribed; his chats are not read yet.
	reading.awaitReached(t, "bob's connection reads his chats")
	group, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	_, _, err = svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "before bob's connection follows"})
	require.NoError(t, err)
	chat.WaitPublished(svc)
	reading.open()
	untilResumed(t, bob)
	gated.release("u:bob")

	nextOf(t, bob, group.ID, chat.EventChatCreated)
	last, _, err := svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)
	requireFromSeqOne(t, bob, group.ID, last.Seq)
}
