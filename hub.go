package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The hub is a node's router: it follows, for the subscriptions of this
// process, one Broker topic per chat ("c:<chat id>") and one per user
// ("u:<user id>"), reference-counted, and turns what arrives into an
// ordered, gap-free stream per chat.
//
// Per chat, a stream remembers the last seq it delivered. Whatever arrives
// out of order, twice, or not at all (the Broker is at most once) is
// repaired from the Store: a seq that skips ahead makes the stream read the
// missing events first; a lost notification (HandleLost, an overflowing
// queue) makes it read everything after its last seq.
//
// Local sends are dispatched to local streams directly and also published;
// a node ignores its own publications when they come back.

const (
	chatTopicPrefix = "c:"
	userTopicPrefix = "u:"

	// streamQueueSize bounds the notifications waiting for a stream's
	// worker. Past it, notifications are dropped and the stream reads the
	// Store instead, so a slow node never makes the Broker's connection
	// fall behind.
	streamQueueSize = 1024
	// fillPage is how many events a stream reads from the Store at once.
	fillPage = 200
	// ioTimeout bounds the hub's own Store and Broker calls.
	ioTimeout = 10 * time.Second
)

// retryDelays is how long the hub waits before retrying a failed Store or
// Broker call; the last entry repeats.
var retryDelays = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 3 * time.Second}

func retryDelay(attempt int) time.Duration {
	if attempt >= len(retryDelays) {
		attempt = len(retryDelays) - 1
	}
	return retryDelays[attempt]
}

// eventStoreChanged is the notification that a chat's Store may hold
// events that were never announced (a write whose outcome the writer does
// not know): every node's stream reads the chat from the Store. It is
// never delivered to a reader.
const eventStoreChanged EventType = "internal.store_changed"

type envelope struct {
	Node  string `json:"node"`
	Event Event  `json:"event"`
	// Trace carries the sender's trace context (Config.Tracer), so that
	// the delivery on this node joins the send's trace.
	Trace map[string]string `json:"trace,omitempty"`
	// At is when the sender published the event, in Unix microseconds,
	// for the delivery delay the Observer is told of.
	At int64 `json:"at,omitempty"`
	// Presence carries the changes of an eventPresenceBatch.
	Presence []Presence `json:"presence,omitempty"`
}

type hub struct {
	svc    *Service
	node   string
	sub    Subscriber // nil without a Broker
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// spawnMu guards stopped and the wg.Add calls. It is a leaf lock of
	// its own because streams spawn their workers while holding their own
	// lock, which must never wait for mu (mu is held while taking stream
	// locks).
	spawnMu sync.Mutex
	stopped bool

	pub    *publisher // nil without a Broker
	typing typingThrottle

	mu      sync.Mutex
	closed  bool
	streams map[string]*stream                    // by chat id
	users   map[string]map[*Subscription]struct{} // by user id
	subs    map[*Subscription]struct{}
	dirty   map[string]bool // topics whose wanted state changed
	kick    chan struct{}   // wakes the reconciler
	waiters []chan struct{} // closed after the next reconcile round subscribes
	active  map[string]bool // topics subscribed at the Broker; reconciler only

	activeTopics atomic.Int64 // len(active), for Stats

	chats chatCache // chats announced to this node's subscriptions

	reads *resumeReads // the Store reads of resumes and new streams

	// baselineFailure is closed when a read of new streams' positions
	// fails, so that subscriptions waiting for those streams give up
	// rather than wait for the Store to come back; then replaced.
	baselineFailure *readFailure
}

// readFailure tells the waiters of a Store read that it failed, and why.
type readFailure struct {
	done chan struct{}
	err  error // set before done is closed
}

func newHub(s *Service) (*hub, error) {
	h := &hub{
		svc:     s,
		node:    newID(),
		streams: make(map[string]*stream),
		users:   make(map[string]map[*Subscription]struct{}),
		subs:    make(map[*Subscription]struct{}),
		dirty:   make(map[string]bool),
		kick:    make(chan struct{}, 1),
		active:  make(map[string]bool),
		typing:  typingThrottle{interval: s.typingInterval},

		baselineFailure: &readFailure{done: make(chan struct{})},
	}
	h.chats.h = h
	h.reads = newResumeReads(h, s.resumeSlots)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if s.broker != nil {
		sub, err := s.broker.NewSubscriber(brokerHandler{h})
		if err != nil {
			h.cancel()
			return nil, err
		}
		h.sub = sub
		h.pub = newPublisher(h, s.publishQueueSize)
		h.pub.start()
	}
	h.wg.Add(1)
	go h.reconcile()
	return h, nil
}

// close ends every subscription and waits for the hub's goroutines.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return
	}
	h.closed = true
	subs := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.fail(ErrClosed)
	}
	h.spawnMu.Lock()
	h.stopped = true
	h.spawnMu.Unlock()
	h.cancel()
	h.wg.Wait()
	if h.sub != nil {
		if err := h.sub.Close(); err != nil {
			h.svc.log.Warn("chat: closing broker subscriber", "err", err)
		}
	}
}

// spawn runs f on a goroutine the hub waits for, unless the hub is closed.
func (h *hub) spawn(f func()) bool {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.stopped {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// sleep waits for d, or returns false if the hub closes first.
func (h *hub) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

func (h *hub) ioContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, ioTimeout)
}

// publishEvent delivers ev to this node's streams at once and queues it
// for the other nodes. Publishing never waits for the Broker: the event is
// stored (or ephemeral), and other nodes recover stored events from the
// Store when a notification is lost.
func (h *hub) publishEvent(ctx context.Context, ev Event) {
	h.dispatchChatAt(ev, time.Now())
	h.publish(ctx, ev, chatTopicPrefix+ev.ChatID)
}

// publishStoreChanged tells every node, this one included, that chatID
// may have stored events nobody announced: their streams read the Store
// after what they delivered. Used after a write whose outcome is unknown.
func (h *hub) publishStoreChanged(ctx context.Context, chatID string) {
	h.markLost(chatID)
	h.publish(ctx, Event{Type: eventStoreChanged, ChatID: chatID}, chatTopicPrefix+chatID)
}

// markLost makes the stream of chatID, if any, read the Store.
func (h *hub) markLost(chatID string) {
	h.mu.Lock()
	st := h.streams[chatID]
	h.mu.Unlock()
	if st != nil {
		st.markLost()
	}
}

// publishTyping fans out that userID is typing in chatID, at most once per
// Config.TypingInterval for the pair.
func (h *hub) publishTyping(userID, chatID string) {
	if !h.typing.allow(h.svc.now(), userID, chatID) {
		h.svc.flow.typingThrottled.Add(1)
		return
	}
	h.publishEvent(context.Background(), Event{Type: EventTyping, ChatID: chatID, UserID: userID})
}

// publishChatCreatedTo tells users, on every node, that they are in c:
// their subscriptions start following it. The notification names the chat
// and, as its Seq, the chat's LastSeq now, not the chat itself: a group's
// members would be copied to every member's topic. Each node reads the
// chat once for all of its subscriptions (chatCache), and this node
// already has it.
func (h *hub) publishChatCreatedTo(ctx context.Context, c Chat, users ...string) {
	h.chats.put(c)
	ev := Event{Type: EventChatCreated, ChatID: c.ID, Seq: c.LastSeq}
	topics := make([]string, len(users))
	for i, u := range users {
		h.dispatchUser(u, ev)
		topics[i] = userTopicPrefix + u
	}
	h.publish(ctx, ev, topics...)
}

// publish queues ev for topics on the Broker, if there is one. With a
// Tracer, the notification carries the caller's trace context.
func (h *hub) publish(ctx context.Context, ev Event, topics ...string) {
	if h.pub == nil {
		return
	}
	var trace map[string]string
	if h.svc.tracer != nil {
		var end func(error, ...slog.Attr)
		ctx, end = h.svc.startSpan(ctx, "chat.publish", slog.String("chat.event.type", string(ev.Type)), slog.Int("chat.topics", len(topics)))
		defer end(nil)
		trace = h.svc.tracer.Inject(ctx)
	}
	h.pub.publish(ev, trace, topics...)
}

// brokerHandler adapts the hub to BrokerHandler without exporting its
// methods.
type brokerHandler struct{ h *hub }

func (b brokerHandler) HandleNotification(topic string, payload []byte) {
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		b.h.svc.log.Warn("chat: dropping malformed notification", "topic", topic, "err", err)
		return
	}
	if env.Node == b.h.node {
		return
	}
	if b.h.svc.tracer != nil {
		ctx := b.h.svc.tracer.Extract(b.h.ctx, env.Trace)
		_, end := b.h.svc.startSpan(ctx, "chat.deliver",
			slog.String("chat.event.type", string(env.Event.Type)), slog.Int64("chat.event.seq", env.Event.Seq))
		defer end(nil)
	}
	switch {
	case strings.HasPrefix(topic, chatTopicPrefix):
		env.Event.ChatID = strings.TrimPrefix(topic, chatTopicPrefix)
		switch env.Event.Type {
		case eventStoreChanged:
			b.h.markLost(env.Event.ChatID)
			return
		case eventPresenceBatch:
			b.h.dispatchPresence(env.Event.ChatID, env.Presence)
			return
		}
		var at time.Time
		if env.At > 0 {
			at = time.UnixMicro(env.At)
		}
		b.h.dispatchChatAt(env.Event, at)
	case strings.HasPrefix(topic, userTopicPrefix):
		b.h.dispatchUser(strings.TrimPrefix(topic, userTopicPrefix), env.Event)
	}
}

func (b brokerHandler) HandleLost(topics []string) {
	b.h.svc.observe(BrokerLossObserved{Topics: len(topics)})
	for _, topic := range topics {
		switch {
		case strings.HasPrefix(topic, chatTopicPrefix):
			b.h.markLost(strings.TrimPrefix(topic, chatTopicPrefix))
		case strings.HasPrefix(topic, userTopicPrefix):
			for _, s := range b.h.userSubs(strings.TrimPrefix(topic, userTopicPrefix)) {
				s.requestReconcile()
			}
		}
	}
}

// dispatchChatAt hands ev, published at at (zero if unknown), to its
// chat's stream on this node.
func (h *hub) dispatchChatAt(ev Event, at time.Time) {
	h.mu.Lock()
	st := h.streams[ev.ChatID]
	h.mu.Unlock()
	if st != nil {
		st.notePublished(ev.Seq, at)
		st.enqueue(ev)
	}
}

func (h *hub) dispatchUser(userID string, ev Event) {
	for _, s := range h.userSubs(userID) {
		s.control(ev)
	}
}

func (h *hub) userSubs(userID string) []*Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.users[userID]
	out := make([]*Subscription, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

// addSubscription registers s and its user topic. It fails if the hub is
// closed.
func (h *hub) addSubscription(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.subs[s] = struct{}{}
	set := h.users[s.user]
	if set == nil {
		set = make(map[*Subscription]struct{})
		h.users[s.user] = set
		h.markDirtyLocked(userTopicPrefix + s.user)
		h.svc.presence.connected(s.user)
	}
	set[s] = struct{}{}
	return nil
}

// removeSubscription undoes addSubscription and every follow of s.
func (h *hub) removeSubscription(s *Subscription, chatIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	if set := h.users[s.user]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.users, s.user)
			h.markDirtyLocked(userTopicPrefix + s.user)
			h.svc.presence.disconnected(s.user)
		}
	}
	for _, id := range chatIDs {
		h.unfollowLocked(s, id)
	}
}

// follow adds s to the streams of chatIDs, creating streams as needed, and
// returns them. A new stream delivers nothing until the reconciler has
// subscribed its topic and read its baseline; wait on stream.ready.
func (h *hub) follow(s *Subscription, chatIDs []string) []*stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*stream, 0, len(chatIDs))
	for _, id := range chatIDs {
		st := h.streams[id]
		if st == nil {
			st = newStream(h, id)
			h.streams[id] = st
			h.markDirtyLocked(chatTopicPrefix + id)
		}
		st.addFollower(s)
		out = append(out, st)
	}
	return out
}

func (h *hub) unfollow(s *Subscription, chatID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unfollowLocked(s, chatID)
}

func (h *hub) unfollowLocked(s *Subscription, chatID string) {
	st := h.streams[chatID]
	if st == nil {
		return
	}
	if st.removeFollower(s) == 0 {
		delete(h.streams, chatID)
		h.markDirtyLocked(chatTopicPrefix + chatID)
	}
}

func (h *hub) markDirtyLocked(topic string) {
	h.dirty[topic] = true
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// barrier waits until the reconciler has applied every topic change made
// before the call.
func (h *hub) barrier(ctx context.Context) error {
	ch := make(chan struct{})
	h.mu.Lock()
	h.waiters = append(h.waiters, ch)
	select {
	case h.kick <- struct{}{}:
	default:
	}
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reconcile is the only goroutine that talks to the Subscriber, so that
// subscribe and unsubscribe calls for a topic can never overtake each
// other. It brings the Broker's topics in line with what the streams and
// users want, then reads the baseline of every new stream.
func (h *hub) reconcile() {
	defer h.wg.Done()
	attempt := 0
	for {
		select {
		case <-h.kick:
		case <-h.ctx.Done():
			return
		}
		for !h.reconcileOnce() {
			if !h.sleep(retryDelay(attempt)) {
				return
			}
			attempt++
		}
		attempt = 0
	}
}

// reconcileOnce reports whether every new stream whose topic is active got
// its baseline.
func (h *hub) reconcileOnce() bool {
	h.mu.Lock()
	var add, remove []string
	for topic := range h.dirty {
		want := h.wantedLocked(topic)
		switch {
		case want && !h.active[topic]:
			add = append(add, topic)
		case !want && h.active[topic]:
			remove = append(remove, topic)
		}
	}
	clear(h.dirty)
	waiters := h.waiters
	h.waiters = nil
	h.mu.Unlock()

	if h.sub != nil && len(remove) > 0 {
		ctx, cancel := h.ioContext()
		if err := h.sub.Unsubscribe(ctx, remove...); err != nil {
			h.svc.log.Warn("chat: unsubscribing", "topics", len(remove), "err", err)
		}
		cancel()
	}
	for _, t := range remove {
		delete(h.active, t)
	}
	h.activeTopics.Store(int64(len(h.active)))
	if h.sub != nil && len(add) > 0 {
		ctx, cancel := h.ioContext()
		// On error the Subscriber keeps the topics and reports them lost
		// once they are active, which makes the streams read the Store.
		if err := h.sub.Subscribe(ctx, add...); err != nil {
			h.svc.log.Warn("chat: subscribing", "topics", len(add), "err", err)
		}
		cancel()
	}
	for _, t := range add {
		h.active[t] = true
	}
	h.activeTopics.Store(int64(len(h.active)))
	for _, ch := range waiters {
		close(ch)
	}

	// A stream created after the snapshot above waits for the next round:
	// a baseline read before its topic is active would miss whatever is
	// published in between, with no loss reported.
	h.mu.Lock()
	var fresh []*stream
	var ids []string
	for id, st := range h.streams {
		if h.active[chatTopicPrefix+id] && !st.isReady() {
			fresh = append(fresh, st)
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	if len(fresh) == 0 {
		return true
	}
	last, err := h.reads.lastSeqs.read(h.ctx, ids)
	if err != nil {
		h.svc.log.Warn("chat: reading chat positions", "chats", len(ids), "err", err)
		h.failBaseline(err)
		return false
	}
	for _, st := range fresh {
		st.start(last[st.chatID])
	}
	return true
}

// failBaseline tells the subscriptions waiting for new streams that their
// positions could not be read: the reconciler keeps retrying for the
// streams, but a client is better told to come back than left waiting.
func (h *hub) failBaseline(err error) {
	h.mu.Lock()
	f := h.baselineFailure
	h.baselineFailure = &readFailure{done: make(chan struct{})}
	h.mu.Unlock()
	f.err = err
	close(f.done)
}

// nextBaselineFailure returns what tells of the next failed read of new
// streams' positions.
func (h *hub) nextBaselineFailure() *readFailure {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.baselineFailure
}

func (h *hub) wantedLocked(topic string) bool {
	if id, ok := strings.CutPrefix(topic, chatTopicPrefix); ok {
		return h.streams[id] != nil
	}
	if id, ok := strings.CutPrefix(topic, userTopicPrefix); ok {
		return h.users[id] != nil
	}
	return false
}

// A stream delivers one chat's events to this node's followers in seq
// order, each once.
type stream struct {
	h      *hub
	chatID string
	ready  chan struct{} // closed by start

	mu        sync.Mutex
	started   bool
	followers map[*Subscription]struct{}
	snapshot  []*Subscription // followers as a slice; nil when stale
	queue     []Event
	lost      bool // the Store may hold events the queue lacks
	running   bool
	last      int64 // written by start, then only by the worker
	// published holds when stored events waiting in queue were
	// published, by seq, for the Observer's delivery delay; nil without
	// an Observer.
	published map[int64]time.Time
}

func newStream(h *hub, chatID string) *stream {
	return &stream{
		h:         h,
		chatID:    chatID,
		ready:     make(chan struct{}),
		followers: make(map[*Subscription]struct{}),
	}
}

func (st *stream) addFollower(s *Subscription) {
	st.mu.Lock()
	st.followers[s] = struct{}{}
	st.snapshot = nil
	st.mu.Unlock()
}

func (st *stream) removeFollower(s *Subscription) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.followers, s)
	st.snapshot = nil
	return len(st.followers)
}

func (st *stream) isReady() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.started
}

// start sets the baseline: events up to last are not this stream's to
// deliver (followers replay them from the Store themselves).
func (st *stream) start(last int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.started {
		return
	}
	st.started = true
	st.last = last
	close(st.ready)
	st.kickLocked()
}

func (st *stream) enqueue(ev Event) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.queue) >= streamQueueSize {
		if ev.Seq > 0 {
			st.lost = true
		}
	} else {
		st.queue = append(st.queue, ev)
	}
	st.kickLocked()
}

func (st *stream) markLost() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lost = true
	st.kickLocked()
}

func (st *stream) kickLocked() {
	if !st.started || st.running {
		return
	}
	if len(st.queue) == 0 && !st.lost {
		return
	}
	st.running = st.h.spawn(st.run)
}

// run is the stream's worker; at most one runs at a time.
func (st *stream) run() {
	attempt := 0
	for {
		st.mu.Lock()
		batch, lost := st.queue, st.lost
		st.queue, st.lost = nil, false
		if len(batch) == 0 && !lost {
			st.running = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()

		ok := true
		if lost {
			ok = st.fill(0)
		}
		for _, ev := range batch {
			if !ok {
				break
			}
			ok = st.process(ev)
		}
		if ok {
			attempt = 0
			continue
		}
		// The Store is unreachable. Whatever is left of the batch is in
		// the Store too, so reading after last later recovers it.
		st.mu.Lock()
		st.lost = true
		st.mu.Unlock()
		if !st.h.sleep(retryDelay(attempt)) {
			st.mu.Lock()
			st.running = false
			st.mu.Unlock()
			return
		}
		attempt++
	}
}

func (st *stream) process(ev Event) bool {
	if ev.Seq == 0 {
		st.broadcast(ev)
		return true
	}
	if ev.Seq <= st.last {
		return true
	}
	if ev.Seq > st.last+1 && !st.fill(ev.Seq-1) {
		return false
	}
	if ev.Seq <= st.last {
		return true
	}
	st.broadcast(ev)
	st.last = ev.Seq
	return true
}

// dropRemoved stops delivering to the subscriptions of a member who was
// removed by ev, right after they got ev: in seq order, on every node.
func (st *stream) dropRemoved(ev Event, followers []*Subscription) {
	if ev.Type != EventMemberRemoved {
		return
	}
	for _, s := range followers {
		if s.user == ev.UserID {
			s.removed(st.chatID, ev.Seq)
		}
	}
}

// fill delivers the stored events after st.last up to and including upTo,
// or all of them when upTo is 0. It reports whether the Store answered.
func (st *stream) fill(upTo int64) bool {
	for upTo == 0 || st.last < upTo {
		ctx, cancel := st.h.ioContext()
		evs, err := st.h.svc.store.ListEvents(ctx, st.chatID, st.last, fillPage)
		cancel()
		if err != nil {
			st.h.svc.log.Warn("chat: reading missed events", "chat_id", st.chatID, "after", st.last, "err", err)
			return false
		}
		n := 0
		for _, ev := range evs {
			if upTo != 0 && ev.Seq > upTo {
				break
			}
			st.broadcast(ev)
			st.last = ev.Seq
			n++
		}
		if n > 0 {
			st.h.svc.observe(RefillObserved{Events: n})
		}
		if n < len(evs) || len(evs) < fillPage {
			return true
		}
	}
	return true
}

// followerList returns the stream's followers, a slice shared until they
// change: callers must not modify it.
func (st *stream) followerList() []*Subscription {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.snapshot == nil {
		st.snapshot = make([]*Subscription, 0, len(st.followers))
		for s := range st.followers {
			st.snapshot = append(st.snapshot, s)
		}
	}
	return st.snapshot
}

func (st *stream) broadcast(ev Event) {
	followers := st.followerList()
	if len(followers) == 0 {
		return
	}
	d := &delivery{Event: ev, at: st.publishedAt(ev.Seq)}
	for _, s := range followers {
		s.deliver(d)
	}
	st.dropRemoved(ev, followers)
}

// delivery is an event shared by every subscription it goes to, so that
// the WebSocket handler encodes it once per node, not once per connection.
type delivery struct {
	Event
	// replayed marks an event sent by a replay, which holds a place in
	// the subscription's replay allowance until it is read.
	replayed bool
	// resyncUpTo is, for a resync standing for held events that did not
	// fit, the highest seq it stands for.
	resyncUpTo int64
	// at is when the event was published, zero when unknown (read from
	// the Store), for the Observer's delivery delay.
	at   time.Time
	once sync.Once
	data []byte
	err  error
}

func (d *delivery) encode() ([]byte, error) {
	d.once.Do(func() { d.data, d.err = json.Marshal(d.Event) })
	return d.data, d.err
}

// notePublished remembers when the stored event seq was published, for
// the Observer's delivery delay. Ephemeral events carry their time in
// nothing: their delay is not measured.
func (st *stream) notePublished(seq int64, at time.Time) {
	if st.h.svc.observer == nil || seq == 0 || at.IsZero() {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.published) >= streamQueueSize {
		return
	}
	if st.published == nil {
		st.published = make(map[int64]time.Time)
	}
	st.published[seq] = at
}

// publishedAt returns and forgets when seq was published, and forgets
// every earlier seq too: those were delivered, skipped or read from the
// Store.
func (st *stream) publishedAt(seq int64) time.Time {
	if seq == 0 || st.h.svc.observer == nil {
		return time.Time{}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	at := st.published[seq]
	for s := range st.published {
		if s <= seq {
			delete(st.published, s)
		}
	}
	return at
}

// writeTimeout bounds a Store write the Service started for a caller.
const writeTimeout = 30 * time.Second

// writeContext returns the context of a Store write: the caller's values
// without its cancellation, so that a client going away does not turn a
// write the Store is committing into an error whose outcome nobody knows,
// bounded by writeTimeout and ended by Shutdown.
func (s *Service) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	stop := context.AfterFunc(s.hub.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// writeFailed is called when a Store write to chatID failed: when the
// failure leaves it unknown whether the write was stored (a timeout, a
// cancellation, an unreachable backend), every node reads the chat from
// the Store, so that a write that was stored after all is delivered.
func (s *Service) writeFailed(chatID string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		s.hub.publishStoreChanged(context.Background(), chatID)
	}
}
