package chat_test

import (
	"context"
	"net/http"
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

// presenceNode returns a Service on store and broker, one node of a
// cluster, with presence configured by pc.
func presenceNode(t *testing.T, store chat.Store, broker chat.Broker, pc chat.PresenceConfig) *chat.Service {
	t.Helper()
	return chattest.NewService(t, chat.Config{Store: store, Broker: broker, Presence: pc})
}

// subscribed opens a subscription of user on svc and reads it up to
// resumed.
func presenceSubscribed(t *testing.T, svc *chat.Service, user string) *chat.Subscription {
	t.Helper()
	sub, err := svc.Subscribe(t.Context(), user, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	ev := presenceNext(t, sub)
	require.Equal(t, chat.EventResumed, ev.Type)
	return sub
}

// presenceNext returns sub's next event but chat.created, which the
// chats made just before the subscription may send it.
func presenceNext(t *testing.T, sub *chat.Subscription) chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.Type != chat.EventChatCreated {
			return ev
		}
	}
}

// nothingWaiting checks that sub holds no event right now.
func nothingWaiting(t *testing.T, sub *chat.Subscription) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ev, err := sub.Next(ctx)
	require.ErrorIs(t, err, context.Canceled, "unexpected event %+v", ev)
}

func requirePresenceEvent(t *testing.T, ev chat.Event, user string, online bool) {
	t.Helper()
	require.Equal(t, chat.EventPresence, ev.Type, "event %+v", ev)
	require.Equal(t, user, ev.UserID)
	require.NotNil(t, ev.Presence)
	assert.Equal(t, user, ev.Presence.UserID)
	assert.Equal(t, online, ev.Presence.Online)
	assert.NotNil(t, ev.Presence.LastSeenAt)
}

func presenceOf(t *testing.T, svc *chat.Service, viewer, chatID string) map[string]chat.Presence {
	t.Helper()
	page, err := svc.ChatPresence(t.Context(), viewer, chatID, chat.MemberQuery{})
	require.NoError(t, err)
	out := make(map[string]chat.Presence)
	for _, p := range page.Presence {
		out[p.UserID] = p
	}
	return out
}

func presenceGroup(t *testing.T, svc *chat.Service, creator string, members ...string) chat.Chat {
	t.Helper()
	c, _, err := svc.CreateChat(t.Context(), creator, chat.CreateChatRequest{Kind: chat.KindGroup, Members: members})
	require.NoError(t, err)
	return c
}

func TestPresenceAcrossNodes(t *testing.T) {
	store, broker := memory.NewStore(), memory.NewBroker()
	pc := chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: time.Hour}
	n1, n2 := presenceNode(t, store, broker, pc), presenceNode(t, store, broker, pc)
	g := presenceGroup(t, n1, "alice", "bob", "carol")
	// A second shared chat: the change still reaches bob once.
	_, _, err := n1.CreateChat(t.Context(), "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)

	bob := presenceSubscribed(t, n2, "bob")
	alice := presenceSubscribed(t, n1, "alice")
	requirePresenceEvent(t, presenceNext(t, bob), "alice", true)

	require.Eventually(t, func() bool { return presenceOf(t, n2, "bob", g.ID)["bob"].Online }, chattest.Timeout, 5*time.Millisecond)
	ps := presenceOf(t, n2, "bob", g.ID)
	assert.True(t, ps["alice"].Online)
	assert.False(t, ps["carol"].Online)
	assert.Nil(t, ps["carol"].LastSeenAt, "carol was never seen")

	require.NoError(t, alice.Close())
	ev := presenceNext(t, bob)
	requirePresenceEvent(t, ev, "alice", false)
	ps = presenceOf(t, n2, "bob", g.ID)
	assert.False(t, ps["alice"].Online)
	assert.Equal(t, ev.Presence.LastSeenAt, ps["alice"].LastSeenAt, "the event tells the time a read tells")
	nothingWaiting(t, bob)

	_, err = n2.ChatPresence(t.Context(), "mallory", g.ID, chat.MemberQuery{})
	assert.ErrorIs(t, err, chat.ErrNotFound, "only members see the members' presence")
}

// spyPresence records the transitions a node's PresenceBroker reports and
// can hold its SetOffline calls.
type spyPresence struct {
	*memory.Broker
	hold    chan struct{} // SetOffline waits for it, when not nil
	entered chan struct{}
	mu      sync.Mutex
	joined  []string // every user SetOnline was called with
	came    []string
	went    []string
}

func (s *spyPresence) SetOnline(ctx context.Context, node string, users []string, ttl time.Duration) ([]string, error) {
	came, err := s.Broker.SetOnline(ctx, node, users, ttl)
	s.mu.Lock()
	s.joined = append(s.joined, users...)
	s.came = append(s.came, came...)
	s.mu.Unlock()
	return came, err
}

func (s *spyPresence) SetOffline(ctx context.Context, node string, users []string) ([]chat.Presence, error) {
	if s.hold != nil {
		s.entered <- struct{}{}
		<-s.hold
	}
	went, err := s.Broker.SetOffline(ctx, node, users)
	s.mu.Lock()
	for _, p := range went {
		s.went = append(s.went, p.UserID)
	}
	s.mu.Unlock()
	s.entered <- struct{}{}
	return went, err
}

func (s *spyPresence) transitions() (came, went []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.came...), append([]string(nil), s.went...)
}

// A user whose connection moves to another node within the grace period
// (a node draining, a network switch) is never seen offline.
func TestPresenceReconnectElsewhereDoesNotFlicker(t *testing.T) {
	store, shared := memory.NewStore(), memory.NewBroker()
	old := &spyPresence{Broker: shared, hold: make(chan struct{}), entered: make(chan struct{}, 2)}
	other := &spyPresence{Broker: shared, entered: make(chan struct{}, 2)}
	pc := chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: time.Hour}
	n1, n2 := presenceNode(t, store, old, pc), presenceNode(t, store, other, pc)
	g := presenceGroup(t, n1, "alice", "bob")
	bob := presenceSubscribed(t, n2, "bob")
	alice := presenceSubscribed(t, n1, "alice")
	requirePresenceEvent(t, presenceNext(t, bob), "alice", true)

	require.NoError(t, alice.Close())
	<-old.entered // n1's grace is over; its SetOffline waits
	presenceSubscribed(t, n2, "alice")
	require.Eventually(t, func() bool {
		other.mu.Lock()
		defer other.mu.Unlock()
		return slices.Contains(other.joined, "alice")
	}, chattest.Timeout, 5*time.Millisecond, "n2 records alice")
	close(old.hold)
	<-old.entered

	_, went := old.transitions()
	assert.Empty(t, went, "alice is online on n2: n1 reports no offline")
	came, _ := other.transitions()
	assert.NotContains(t, came, "alice", "alice was online on n1: n2 reports no online")
	_, _, err := n1.SendMessage(t.Context(), "alice", g.ID, chat.SendMessageRequest{Text: "still here"})
	require.NoError(t, err)
	assert.Equal(t, chat.EventMessageCreated, presenceNext(t, bob).Type)
	nothingWaiting(t, bob)
}

// A reconnect to the same node within the grace period records nothing.
func TestPresenceReconnectWithinGrace(t *testing.T) {
	store, shared := memory.NewStore(), memory.NewBroker()
	spy := &spyPresence{Broker: shared, entered: make(chan struct{}, 8)}
	n := presenceNode(t, store, spy, chat.PresenceConfig{Enabled: true, Grace: time.Hour, TTL: time.Hour})
	presenceGroup(t, n, "alice", "bob")
	bob := presenceSubscribed(t, n, "bob")
	alice := presenceSubscribed(t, n, "alice")
	requirePresenceEvent(t, presenceNext(t, bob), "alice", true)
	require.NoError(t, alice.Close())
	presenceSubscribed(t, n, "alice")
	came, went := spy.transitions()
	assert.ElementsMatch(t, []string{"bob", "alice"}, came)
	assert.Empty(t, went)
	nothingWaiting(t, bob)
}

// A node that stops renewing, as a killed one does, takes its users
// offline: another node expires it and tells the members.
func TestPresenceNodeStopsRenewing(t *testing.T) {
	store, broker := memory.NewStore(), memory.NewBroker()
	pc := chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: 300 * time.Millisecond}
	dying, err := chat.New(chat.Config{Store: store, Broker: broker, Presence: pc})
	require.NoError(t, err)
	n2 := presenceNode(t, store, broker, pc)
	g := presenceGroup(t, n2, "alice", "bob")
	bob := presenceSubscribed(t, n2, "bob")
	presenceSubscribed(t, dying, "alice")
	requirePresenceEvent(t, presenceNext(t, bob), "alice", true)

	// Shutdown stops the node's renewals and leaves its entries, as a
	// crash would: it records nothing on the way out.
	stopped := time.Now()
	require.NoError(t, dying.Shutdown(t.Context()))
	requirePresenceEvent(t, presenceNext(t, bob), "alice", false)
	t.Logf("offline event %v after the node stopped (bound: TTL + TTL/3 = %v)", time.Since(stopped), pc.TTL+pc.TTL/3)
	assert.False(t, presenceOf(t, n2, "bob", g.ID)["alice"].Online)
}

func TestPresenceHidden(t *testing.T) {
	store, broker := memory.NewStore(), memory.NewBroker()
	pc := chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: time.Hour,
		Hidden: func(_ context.Context, user string) (bool, error) { return user == "alice", nil }}
	n := presenceNode(t, store, broker, pc)
	g := presenceGroup(t, n, "alice", "bob", "carol")
	bob := presenceSubscribed(t, n, "bob")
	presenceSubscribed(t, n, "alice")
	presenceSubscribed(t, n, "carol")
	// alice connected first: an event of hers would be queued by now.
	requirePresenceEvent(t, presenceNext(t, bob), "carol", true)
	nothingWaiting(t, bob)
	ps := presenceOf(t, n, "bob", g.ID)
	assert.Equal(t, chat.Presence{UserID: "alice"}, ps["alice"], "hidden: offline, never seen")
	assert.True(t, ps["carol"].Online)
}

// brokerOnly hides a Broker's optional abilities.
type brokerOnly struct{ chat.Broker }

func TestPresenceNotImplemented(t *testing.T) {
	for name, cfg := range map[string]chat.Config{
		"broker without presence": {Broker: brokerOnly{memory.NewBroker()}, Presence: chat.PresenceConfig{Enabled: true}},
		"not turned on":           {},
	} {
		t.Run(name, func(t *testing.T) {
			svc := chattest.NewService(t, cfg)
			srv := chattest.NewServer(t, svc)
			validateAgainstOpenAPI(t, srv)
			g := presenceGroup(t, svc, "alice", "bob")
			r := srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/presence", nil)
			assert.Equal(t, http.StatusNotImplemented, r.Status, "body: %s", r.Body)
			assert.Equal(t, "not_implemented", r.ErrorCode())
			_, err := svc.ChatPresence(t.Context(), "alice", g.ID, chat.MemberQuery{})
			assert.ErrorIs(t, err, chat.ErrNotImplemented)
			// Everything else works.
			presenceSubscribed(t, svc, "bob")
			_, _, err = svc.SendMessage(t.Context(), "alice", g.ID, chat.SendMessageRequest{Text: "hi"})
			require.NoError(t, err)
		})
	}
}

func TestPresenceREST(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{Presence: chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: time.Hour}})
	srv := chattest.NewServer(t, svc)
	validateAgainstOpenAPI(t, srv)
	g := presenceGroup(t, svc, "alice", "bob", "carol")
	presenceSubscribed(t, svc, "bob")
	// The node records bob online just after his connection opens, not
	// before it says resumed (1 run in 20 under load read him offline).
	require.Eventually(t, func() bool { return presenceOf(t, svc, "alice", g.ID)["bob"].Online },
		chattest.Timeout, 5*time.Millisecond)

	r := srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/presence?limit=2", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var page chat.PresencePage
	r.Decode(t, &page)
	require.Len(t, page.Presence, 2)
	assert.True(t, page.HasMore)
	assert.Equal(t, "alice", page.Presence[0].UserID)
	assert.Equal(t, "bob", page.Presence[1].UserID)
	assert.True(t, page.Presence[1].Online)
	r = srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/presence?after=bob", nil)
	r.Decode(t, &page)
	require.Len(t, page.Presence, 1)
	assert.False(t, page.HasMore)
	assert.Equal(t, chat.Presence{UserID: "carol"}, page.Presence[0])

	assert.Equal(t, http.StatusNotFound, srv.Do("mallory", http.MethodGet, "/chats/"+g.ID+"/presence", nil).Status)
	assert.Equal(t, http.StatusMethodNotAllowed, srv.Do("alice", http.MethodPost, "/chats/"+g.ID+"/presence", nil).Status)
	assert.Equal(t, http.StatusBadRequest, srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/presence?limit=-1", nil).Status)
}

// failingOffline fails the first SetOffline, as a Redis that is briefly
// unreachable does.
type failingOffline struct {
	*memory.Broker
	failed atomic.Bool
}

func (f *failingOffline) SetOffline(ctx context.Context, node string, users []string) ([]chat.Presence, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, chat.ErrUnavailable
	}
	return f.Broker.SetOffline(ctx, node, users)
}

func TestPresenceOfflineRetriedAfterAFailure(t *testing.T) {
	b := &failingOffline{Broker: memory.NewBroker()}
	n := presenceNode(t, memory.NewStore(), b, chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: time.Hour})
	presenceGroup(t, n, "alice", "bob")
	bob := presenceSubscribed(t, n, "bob")
	alice := presenceSubscribed(t, n, "alice")
	requirePresenceEvent(t, presenceNext(t, bob), "alice", true)
	require.NoError(t, alice.Close())
	requirePresenceEvent(t, presenceNext(t, bob), "alice", false)
	assert.True(t, b.failed.Load())
}
