package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Subscription is a live feed of one user's events: every chat they belong
// to, chats created or joined later included. It starts by resuming from
// the positions given to Subscribe, so that, per chat, the reader sees
// every event after its position exactly once and in strictly increasing
// seq order, across the replay and the live events that follow.
//
// Read it with Next from one goroutine; Close it when done. A reader that
// falls more than Config.QueueSize live events behind is cut off with
// ErrSlowConsumer. Typing and read events never cut a reader off: they wait
// apart, the latest per (type, chat, user), at most ephemeralQueueSize of
// them, and are dropped beyond that.
type Subscription struct {
	svc       *Service
	user      string
	positions map[string]int64
	done      chan struct{}
	// ready, made by the first Next that waits, signals that the queue or
	// the ephemeral lane holds an event.
	ready chan struct{}
	// notify, when set, is called under mu whenever an event is queued
	// for the reader and when the subscription ends: the WebSocket
	// connection starts its writer from it instead of keeping a
	// goroutine waiting.
	notify func()

	mu  sync.Mutex
	err error
	// queue holds the reader's events in order, at most queueCap of
	// them. It grows as events arrive and is let go once empty, so that
	// an idle subscription holds no buffer.
	queue []*delivery
	// replayed counts the replayed events in queue: replays may use
	// replayAllowance places of it, live events the other QueueSize.
	replayed int
	// room, made by the first send that waited, signals that the reader
	// took an event from a full queue.
	room chan struct{}
	// running is set while the subscription's goroutine runs (the
	// resume, then control events, chats left, reconciles and the end);
	// signalLocked starts one when work arrives, so that an idle
	// subscription holds no goroutine.
	running   bool
	holdAll   bool            // everything waits in pending (until resumed)
	holding   map[string]bool // chats whose replay is under way
	pending   []*delivery
	pos       map[string]int64 // last seq sent per chat
	following map[string]bool
	// cut is, per chat left, the last seq of the chat that is still the
	// reader's: the removal itself (0 when not known).
	cut       map[string]int64
	unfollows []string // chats left whose streams the goroutine leaves
	controls  []Event
	reconcile bool
	// ephemeralHeld holds typing and read events that arrived during the
	// resume, until resumed is queued.
	ephemeralHeld []*delivery
	// ephemeral holds typing and read events in arrival order, one per
	// (type, chat, user): a later one replaces the one waiting.
	ephemeral []*delivery
	// resyncs holds, per chat, the resync waiting in pending that stands
	// for the chat's held events that did not fit.
	resyncs map[string]*delivery
	// liveOnly holds the chats followed since the resume that the reader
	// did not list, each with the first seq passed on live (0 while none
	// has been): if a chat.created for one follows, the membership is new
	// and the reader is owed the chat from seq 1.
	liveOnly map[string]int64
	// presenceSent holds, per user, the latest presence change passed on
	// (deliverPresence).
	presenceSent map[string]presenceMark
}

// replayAllowance is how many places of its queue a subscription keeps
// for replayed events, on top of queueSize for live ones. A replay waits
// for the reader when they are taken, so a few suffice.
func replayAllowance(queueSize int) int { return min(queueSize, 64) }

// ephemeralQueueSize bounds the typing and read events a subscription
// holds for its reader.
const ephemeralQueueSize = 64

// Subscribe starts a subscription for userID. positions maps chat ids to
// the last seq the caller has seen; for each listed chat the user belongs
// to, the subscription first replays every later event (or sends
// EventResync when more than Config.ReplayLimit are missing or the position
// is beyond the chat's end), then EventResumed, then live events. Chats not
// listed get live events only. Chats the user is not in are skipped without
// error.
func (s *Service) Subscribe(ctx context.Context, userID string, positions map[string]int64) (*Subscription, error) {
	return s.subscribe(ctx, userID, positions, nil)
}

// subscribe is Subscribe with a notify function for the subscription (see
// Subscription.notify).
func (s *Service) subscribe(_ context.Context, userID string, positions map[string]int64, notify func()) (*Subscription, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return nil, err
	}
	pos := make(map[string]int64, len(positions))
	for id, seq := range positions {
		if seq < 0 {
			return nil, invalidf("position of chat %q is negative", id)
		}
		if s.checkID("chat id", id) != nil {
			continue // cannot name a chat the user is in
		}
		pos[id] = seq
	}
	sub := &Subscription{
		svc:       s,
		user:      userID,
		positions: pos,
		done:      make(chan struct{}),
		notify:    notify,
		holdAll:   true,
		running:   true,
		holding:   make(map[string]bool),
		pos:       make(map[string]int64),
		following: make(map[string]bool),
		cut:       make(map[string]int64),
	}
	if err := s.hub.addSubscription(sub); err != nil {
		return nil, err
	}
	if !s.hub.spawn(sub.run) {
		s.hub.removeSubscription(sub, nil)
		return nil, ErrClosed
	}
	return sub, nil
}

// UserID returns the user the subscription belongs to.
func (sub *Subscription) UserID() string { return sub.user }

// Next returns the next event, waiting for one until ctx ends. After the
// subscription ends it returns the reason: ErrClosed after Close or
// Shutdown, ErrSlowConsumer, or the error that ended the resume.
func (sub *Subscription) Next(ctx context.Context) (Event, error) {
	d, err := sub.next(ctx)
	if err != nil {
		return Event{}, err
	}
	return d.Event, nil
}

func (sub *Subscription) next(ctx context.Context) (*delivery, error) {
	ready := sub.readyChan() // before poll, so no event goes unsignalled
	for {
		select {
		case <-sub.done:
			return nil, sub.Err()
		default:
		}
		if d := sub.poll(); d != nil {
			return d, nil
		}
		select {
		case <-ready:
		case <-sub.done:
			return nil, sub.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// poll returns the next event if one waits, without waiting: the queue's
// first, and only when the queue is empty an ephemeral one. The queue goes
// first so that resumed, and a member.removed, are never overtaken by an
// ephemeral event that arrived after them.
func (sub *Subscription) poll() *delivery {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.queue) > 0 {
		d := sub.queue[0]
		sub.queue[0] = nil
		sub.queue = sub.queue[1:]
		if len(sub.queue) == 0 {
			sub.queue = nil
		}
		if d.replayed {
			sub.replayed--
		}
		if sub.room != nil {
			select {
			case sub.room <- struct{}{}:
			default:
			}
		}
		return d
	}
	if len(sub.ephemeral) == 0 {
		return nil
	}
	d := sub.ephemeral[0]
	sub.ephemeral[0] = nil
	sub.ephemeral = sub.ephemeral[1:]
	if len(sub.ephemeral) == 0 {
		sub.ephemeral = nil
	}
	return d
}

// waiting reports whether an event waits for the reader or the
// subscription has ended.
func (sub *Subscription) waiting() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.queue) > 0 || len(sub.ephemeral) > 0 || sub.err != nil
}

// queueCap is how many events the queue holds at most.
func (sub *Subscription) queueCap() int {
	return sub.svc.queueSize + replayAllowance(sub.svc.queueSize)
}

// queued returns the number of events in the queue.
func (sub *Subscription) queued() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.queue)
}

// pushLocked appends d to the queue and wakes the reader.
func (sub *Subscription) pushLocked(d *delivery) {
	sub.queue = append(sub.queue, d)
	if d.replayed {
		sub.replayed++
	}
	sub.readyLocked()
}

// readyChan returns ready, made on first use.
func (sub *Subscription) readyChan() chan struct{} {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ready == nil {
		sub.ready = make(chan struct{}, 1)
	}
	return sub.ready
}

// readyLocked tells the reader that an event waits.
func (sub *Subscription) readyLocked() {
	if sub.ready != nil {
		select {
		case sub.ready <- struct{}{}:
		default:
		}
	}
	if sub.notify != nil {
		sub.notify()
	}
}

// Done is closed when the subscription ends; Err then says why.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Err returns nil while the subscription is live, then why it ended.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the subscription. It is safe to call more than once and from
// any goroutine.
func (sub *Subscription) Close() error {
	sub.fail(ErrClosed)
	return nil
}

// Typing tells the other members of chatID that the subscription's user is
// typing. Membership is checked against the chats the subscription follows,
// so a stream of typing frames costs no Store reads; it reports whether the
// user may type there. Within Config.TypingInterval of the user's previous
// typing event in the chat, nothing is sent. Typing never waits for the
// Broker.
func (sub *Subscription) Typing(_ context.Context, chatID string) bool {
	sub.mu.Lock()
	ok := sub.following[chatID] && sub.err == nil
	sub.mu.Unlock()
	if ok {
		sub.svc.hub.publishTyping(sub.user, chatID)
	}
	return ok
}

func (sub *Subscription) fail(err error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.failLocked(err)
}

func (sub *Subscription) failLocked(err error) {
	if sub.err != nil {
		return
	}
	sub.err = err
	close(sub.done)
	if sub.notify != nil {
		sub.notify()
	}
	// The goroutine leaves the hub on the way out.
	sub.signalLocked()
}

// leave stops delivering chatID after seq: the user is no longer a
// member, since the removal with that seq (0: since an unknown point, so
// nothing held is theirs). Held events of the chat past seq are dropped.
// The stream is left by the subscription's goroutine, which also follows
// chats, so that a follow and an unfollow never interleave.
func (sub *Subscription) leave(chatID string, seq int64) {
	sub.mu.Lock()
	sub.leaveLocked(chatID, seq)
	sub.mu.Unlock()
	sub.signal()
}

// forget leaves chatID as a chat the reader was never told of: nothing of
// it is theirs. A removal that reached us through the stream meanwhile has
// left it already, keeping what was held up to the removal; that goes too,
// since without its chat.created and history it would reach the reader
// alone.
func (sub *Subscription) forget(chatID string) {
	sub.mu.Lock()
	sub.leaveLocked(chatID, 0)
	if sub.cut[chatID] != 0 {
		sub.cut[chatID] = 0
		sub.dropUnwantedLocked()
	}
	sub.mu.Unlock()
	sub.signal()
}

// removed is leave for a removal delivered live. The user may have been
// added back already, with a chat.created that arrived before the removal
// and found the chat followed: so the goroutine asks the Store for the
// user's chats again.
func (sub *Subscription) removed(chatID string, seq int64) {
	sub.mu.Lock()
	if sub.following[chatID] {
		sub.leaveLocked(chatID, seq)
		sub.reconcile = true
	}
	sub.mu.Unlock()
	sub.signal()
}

func (sub *Subscription) leaveLocked(chatID string, seq int64) {
	if !sub.following[chatID] {
		return
	}
	delete(sub.following, chatID)
	delete(sub.holding, chatID)
	delete(sub.liveOnly, chatID)
	// Its resync leaves pending below; a later one must not find it.
	delete(sub.resyncs, chatID)
	sub.cut[chatID] = seq
	sub.unfollows = append(sub.unfollows, chatID)
	sub.dropUnwantedLocked()
}

// dropUnwantedLocked drops the held events that are no longer the reader's.
func (sub *Subscription) dropUnwantedLocked() {
	kept := sub.pending[:0]
	for _, d := range sub.pending {
		if sub.wantedLocked(d) {
			kept = append(kept, d)
		}
	}
	clear(sub.pending[len(kept):])
	sub.pending = kept
}

// wantedLocked reports whether d, an event of a chat the subscription
// follows or followed, is still the reader's.
func (sub *Subscription) wantedLocked(d *delivery) bool {
	return sub.following[d.ChatID] || d.Seq != 0 && d.Seq <= sub.cut[d.ChatID]
}

// unfollowLeft leaves the streams of the chats left since the last call,
// unless the subscription follows them again.
func (sub *Subscription) unfollowLeft() {
	sub.mu.Lock()
	ids := sub.unfollows
	sub.unfollows = nil
	for i, id := range ids {
		if sub.following[id] {
			ids[i] = ""
		}
	}
	sub.mu.Unlock()
	for _, id := range ids {
		if id != "" {
			sub.svc.hub.unfollow(sub, id)
		}
	}
}

// deliver is called by streams with a live event.
func (sub *Subscription) deliver(d *delivery) {
	if d.Type == EventTyping && d.UserID == sub.user {
		return
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.err != nil || !sub.wantedLocked(d) {
		return
	}
	if isEphemeral(d.Type) {
		sub.deliverEphemeralLocked(d)
		return
	}
	if sub.holdAll || sub.holding[d.ChatID] {
		if len(sub.pending) >= sub.queueCap()+fillPage {
			sub.resyncLaterLocked(d)
			return
		}
		sub.pending = append(sub.pending, d)
		return
	}
	if d = sub.advanceLocked(d); d == nil {
		return
	}
	if len(sub.queue) >= sub.queueCap() {
		sub.failLocked(ErrSlowConsumer)
		return
	}
	sub.pushLocked(d)
	if d.Type == EventMemberRemoved && d.UserID == sub.user {
		sub.dropEphemeralLocked(d.ChatID)
	}
}

func isEphemeral(t EventType) bool { return t == EventTyping || t == EventRead }

// deliverEphemeralLocked queues a typing or read event apart from the
// others. During the resume it waits for resumed; while its chat replays
// after a join it is dropped (live events only), and so it is when
// ephemeralQueueSize others wait; an older one of the same type, chat and
// user is replaced in place.
func (sub *Subscription) deliverEphemeralLocked(d *delivery) {
	switch {
	case sub.holding[d.ChatID]:
		sub.droppedLocked(d, "resuming")
	case sub.holdAll:
		// The resume is under way: the event waits for resumed, which
		// may already be queued for the reader.
		sub.ephemeralHeld = sub.coalesceLocked(sub.ephemeralHeld, d)
	default:
		n := len(sub.ephemeral)
		sub.ephemeral = sub.coalesceLocked(sub.ephemeral, d)
		if len(sub.ephemeral) > n {
			sub.readyLocked()
		}
	}
}

// coalesceLocked returns lane with d in place of a waiting event of the
// same type, chat and user, or appended, or without d (dropped and
// counted) when ephemeralQueueSize others wait.
func (sub *Subscription) coalesceLocked(lane []*delivery, d *delivery) []*delivery {
	for i, old := range lane {
		if old.Type == d.Type && old.ChatID == d.ChatID && old.UserID == d.UserID {
			if d.ReadSeq >= old.ReadSeq {
				lane[i] = d
			}
			return lane
		}
	}
	if len(lane) >= ephemeralQueueSize {
		sub.droppedLocked(d, "queue_full")
		return lane
	}
	return append(lane, d)
}

// droppedLocked counts an ephemeral event not delivered, for FlowCounts
// and the Observer.
func (sub *Subscription) droppedLocked(d *delivery, reason string) {
	sub.svc.flow.ephemeralDropped.Add(1)
	sub.svc.observe(EventDroppedObserved{Type: d.Type, Reason: reason})
}

// dropEphemeralLocked forgets the waiting ephemeral events of a chat the
// user just left: member.removed is their last event of it.
func (sub *Subscription) dropEphemeralLocked(chatID string) {
	kept := sub.ephemeral[:0]
	for _, d := range sub.ephemeral {
		if d.ChatID != chatID {
			kept = append(kept, d)
		}
	}
	clear(sub.ephemeral[len(kept):])
	sub.ephemeral = kept
	held := sub.ephemeralHeld[:0]
	for _, d := range sub.ephemeralHeld {
		if d.ChatID != chatID {
			held = append(held, d)
		}
	}
	clear(sub.ephemeralHeld[len(held):])
	sub.ephemeralHeld = held
}

// resyncLaterLocked drops d, a held event that does not fit, and makes
// sure a resync of its chat is held in its place: the reader refetches the
// chat instead of the connection being cut off. There is at most one such
// resync per chat, so pending stays bounded.
func (sub *Subscription) resyncLaterLocked(d *delivery) {
	r := sub.resyncs[d.ChatID]
	if r == nil {
		if sub.resyncs == nil {
			sub.resyncs = make(map[string]*delivery)
		}
		r = &delivery{Event: Event{Type: EventResync, ChatID: d.ChatID}}
		sub.resyncs[d.ChatID] = r
		sub.pending = append(sub.pending, r)
	}
	r.resyncUpTo = max(r.resyncUpTo, d.Seq)
}

// advanceLocked returns what of d goes to the reader, nil when d is not
// new to them, and records its seq as the chat's position: d itself, or,
// for another member's own event, that event without whose it is or what
// it says, so that the reader's seqs stay gap-free.
func (sub *Subscription) advanceLocked(d *delivery) *delivery {
	if d.resyncUpTo > 0 {
		// A resync standing for dropped held events: needless if the
		// replay has covered them since.
		delete(sub.resyncs, d.ChatID)
		if d.resyncUpTo <= sub.pos[d.ChatID] {
			return nil
		}
		sub.pos[d.ChatID] = d.resyncUpTo
		sub.svc.flow.forcedResyncs.Add(1)
		return d
	}
	if d.Seq == 0 {
		return d
	}
	if d.Seq <= sub.pos[d.ChatID] {
		return nil
	}
	sub.pos[d.ChatID] = d.Seq
	if first, ok := sub.liveOnly[d.ChatID]; ok && first == 0 {
		sub.liveOnly[d.ChatID] = d.Seq
	}
	if d.privateTo(sub.user) {
		return &delivery{Event: d.redacted(), replayed: d.replayed, at: d.at}
	}
	return d
}

// control queues a user-level event (chat.created) for the subscription's
// goroutine, which follows the new chat before passing the event on.
func (sub *Subscription) control(ev Event) {
	sub.mu.Lock()
	if len(sub.controls) >= fillPage {
		// Too many at once: rebuild from the Store instead.
		sub.reconcile = true
	} else {
		sub.controls = append(sub.controls, ev)
	}
	sub.mu.Unlock()
	sub.signal()
}

// requestReconcile makes the subscription compare the chats it follows with
// the Store's, after user-level notifications may have been lost.
func (sub *Subscription) requestReconcile() {
	sub.mu.Lock()
	sub.reconcile = true
	sub.mu.Unlock()
	sub.signal()
}

func (sub *Subscription) signal() {
	sub.mu.Lock()
	sub.signalLocked()
	sub.mu.Unlock()
}

// signalLocked starts the subscription's goroutine unless it runs: that
// one checks for work again before it stops. A closed hub runs nothing
// more, and needs nothing more.
func (sub *Subscription) signalLocked() {
	if sub.running {
		return
	}
	sub.running = true
	sub.svc.hub.spawn(sub.work)
}

// sendReplayed hands d, an event of a replay or one held during it, to the
// reader, waiting while the replay allowance is used up. The allowance is
// room of its own in the queue, so that a long replay never leaves live
// events of the other chats without room (which would cut the reader off
// as a slow consumer).
func (sub *Subscription) sendReplayed(d *delivery) bool {
	d.replayed = true
	return sub.send(d)
}

// send hands d to the reader, waiting while the queue is full.
func (sub *Subscription) send(d *delivery) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for {
		if sub.err != nil {
			return false
		}
		full := len(sub.queue) >= sub.queueCap() ||
			d.replayed && sub.replayed >= replayAllowance(sub.svc.queueSize)
		if !full {
			sub.pushLocked(d)
			return true
		}
		if sub.room == nil {
			sub.room = make(chan struct{}, 1)
		}
		room := sub.room
		sub.mu.Unlock()
		select {
		case <-room:
		case <-sub.done:
		}
		sub.mu.Lock()
	}
}

func (sub *Subscription) run() {
	if err := sub.resume(); err != nil {
		sub.fail(err)
	}
	sub.positions = nil // the resume's alone
	sub.work()
}

// work handles the control events, chats left and reconcile requests that
// wait, then stops; once the subscription has ended, it leaves the hub.
func (sub *Subscription) work() {
	for {
		sub.unfollowLeft()
		sub.mu.Lock()
		if sub.err != nil {
			sub.mu.Unlock()
			sub.leaveHub()
			return
		}
		controls, reconcile := sub.controls, sub.reconcile
		sub.controls, sub.reconcile = nil, false
		if len(controls) == 0 && !reconcile && len(sub.unfollows) == 0 {
			sub.running = false
			sub.mu.Unlock()
			return
		}
		sub.mu.Unlock()
		for _, ev := range controls {
			if err := sub.handleControl(ev); err != nil {
				sub.fail(err)
				break
			}
		}
		if reconcile && sub.Err() == nil {
			if err := sub.reconcileChats(); err != nil {
				sub.fail(err)
			}
		}
	}
}

// leaveHub undoes addSubscription and every follow: the subscription has
// ended. Its goroutine stays marked running, so none starts again.
func (sub *Subscription) leaveHub() {
	sub.mu.Lock()
	ids := make([]string, 0, len(sub.following)+len(sub.unfollows))
	for id := range sub.following {
		ids = append(ids, id)
	}
	ids = append(ids, sub.unfollows...)
	sub.mu.Unlock()
	sub.svc.hub.removeSubscription(sub, ids)
}

// resume is the handshake: follow every chat of the user with everything
// held back, replay the listed chats, send resumed, then release what
// arrived live in the meantime.
func (sub *Subscription) resume() error {
	ctx, cancel := sub.contextUntilDone()
	defer cancel()
	// The user's topic is subscribed first (addSubscription), so a chat
	// created after this read still reaches us as a control event.
	if err := sub.waitUserTopic(ctx); err != nil {
		return err
	}
	ids, err := sub.chatIDs(ctx)
	if err != nil {
		return err
	}
	sub.mu.Lock()
	for _, id := range ids {
		sub.following[id] = true
	}
	sub.mu.Unlock()
	if err := sub.follow(ctx, ids); err != nil {
		return err
	}
	// A removal committed since the read above may have passed the
	// streams before we were in them. From now on every removal reaches
	// us, so one more read settles it: chats left meanwhile are skipped,
	// as if left while disconnected.
	now, err := sub.chatIDs(ctx)
	if err != nil {
		return err
	}
	member := make(map[string]bool, len(now))
	for _, id := range now {
		member[id] = true
	}
	var listed []string
	// removedAt holds the listed chats left since the first read whose
	// removal reached us through the stream: the events up to it, held
	// from the stream or not, are the reader's and are replayed.
	removedAt := make(map[string]int64)
	for _, id := range ids {
		_, isListed := sub.positions[id]
		if !member[id] {
			sub.mu.Lock()
			cut := sub.cut[id]
			sub.mu.Unlock()
			if cut > 0 && isListed {
				removedAt[id] = cut
			} else {
				sub.leave(id, 0)
			}
			continue
		}
		if isListed {
			listed = append(listed, id)
		} else {
			sub.mu.Lock()
			if sub.liveOnly == nil {
				sub.liveOnly = make(map[string]int64)
			}
			sub.liveOnly[id] = 0
			sub.mu.Unlock()
		}
	}
	if len(listed) > 0 {
		last, err := sub.svc.hub.reads.lastSeqs.read(ctx, listed)
		if err != nil {
			return sub.resumeFailed(err)
		}
		for _, id := range listed {
			if err := sub.replay(ctx, id, sub.positions[id], last[id], 0); err != nil {
				return err
			}
		}
	}
	for id, cut := range removedAt {
		if err := sub.replay(ctx, id, sub.positions[id], cut, cut); err != nil {
			return err
		}
	}
	if !sub.send(&delivery{Event: Event{Type: EventResumed}}) {
		return sub.Err()
	}
	sub.release(func() {
		sub.holdAll = false
		// resumed is in the reader's queue, which poll empties before
		// the ephemeral lane: what waited for it goes after it.
		for _, d := range sub.ephemeralHeld {
			if sub.following[d.ChatID] {
				sub.ephemeral = sub.coalesceLocked(sub.ephemeral, d)
			}
		}
		sub.ephemeralHeld = nil
		if len(sub.ephemeral) > 0 {
			sub.readyLocked()
		}
	})
	return nil
}

// chatIDs reads the ids of the user's chats, in one Store call with those
// of the other subscriptions resuming meanwhile.
func (sub *Subscription) chatIDs(ctx context.Context) ([]string, error) {
	ids, err := sub.svc.hub.reads.chatIDs.read(ctx, []string{sub.user})
	if err != nil {
		return nil, sub.resumeFailed(err)
	}
	return ids[sub.user], nil
}

// resumeFailed is the error that ends a resume whose Store read failed
// with err: the subscription's own end if it came first.
func (sub *Subscription) resumeFailed(err error) error {
	if serr := sub.Err(); serr != nil {
		return serr
	}
	return fmt.Errorf("chat: subscribe: %w", err)
}

// waitUserTopic waits until the reconciler has handled the user's topic, so
// that user-level notifications published from now on reach the
// subscription.
func (sub *Subscription) waitUserTopic(ctx context.Context) error {
	if err := sub.svc.hub.barrier(ctx); err != nil {
		if serr := sub.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("chat: subscribe: %w", err)
	}
	return nil
}

// follow registers the subscription with the chats' streams and waits
// until each has a baseline, so that every later event reaches us.
// A failed read of the streams' positions ends the wait with its error.
func (sub *Subscription) follow(ctx context.Context, ids []string) error {
	failed := sub.svc.hub.nextBaselineFailure()
	for _, st := range sub.svc.hub.follow(sub, ids) {
		select {
		case <-st.ready:
		case <-failed.done:
			return sub.resumeFailed(failed.err)
		case <-ctx.Done():
			if err := sub.Err(); err != nil {
				return err
			}
			return fmt.Errorf("chat: subscribe: %w", ctx.Err())
		}
	}
	return nil
}

// replay sends the stored events of chatID after from, up to stop unless
// it is 0, or resync if there are more than the replay limit or from is
// beyond the chat's end.
func (sub *Subscription) replay(ctx context.Context, chatID string, from, last, stop int64) error {
	if from > last || last-from > int64(sub.svc.replayLimit) {
		sub.mu.Lock()
		if sub.pos[chatID] < last {
			sub.pos[chatID] = last
		}
		sub.mu.Unlock()
		if !sub.send(&delivery{Event: Event{Type: EventResync, ChatID: chatID}}) {
			return sub.Err()
		}
		return nil
	}
	sub.mu.Lock()
	sub.pos[chatID] = from
	sub.mu.Unlock()
	if from == last && stop == 0 {
		// Nothing to read: whatever follows last comes from the
		// chat's stream, which holds it for us. Most connections
		// resuming after a restart are in this case.
		return nil
	}
	// Every event after from is the reader's if they are a member at its
	// end of the log: a removal they were added back after is not their
	// last event. So what follows our removal waits (out) until our next
	// addition shows it is ours; at the end of the log it is dropped and
	// the removal ends the chat for us.
	var out []*delivery
	removedAt := int64(0)
	emit := func(d *delivery) bool {
		sub.mu.Lock()
		d = sub.advanceLocked(d)
		sub.mu.Unlock()
		return d == nil || sub.sendReplayed(d)
	}
	after := from
read:
	for {
		evs, err := sub.svc.hub.reads.listEvents(ctx, chatID, after, fillPage)
		if err != nil {
			return fmt.Errorf("chat: replay: %w", err)
		}
		for _, ev := range evs {
			if stop > 0 && ev.Seq > stop {
				break read
			}
			after = ev.Seq
			d := &delivery{Event: ev}
			ours := ev.UserID == sub.user
			if removedAt != 0 {
				out = append(out, d)
				if !ours || ev.Type != EventMemberAdded {
					continue
				}
				for _, d := range out {
					if !emit(d) {
						return sub.Err()
					}
				}
				out, removedAt = nil, 0
				continue
			}
			if !emit(d) {
				return sub.Err()
			}
			if ours && ev.Type == EventMemberRemoved {
				removedAt = ev.Seq
			}
		}
		if len(evs) < fillPage {
			break
		}
	}
	if removedAt != 0 {
		sub.leave(chatID, removedAt)
	}
	return nil
}

// release sends what was held back, then lets live events through once
// nothing is left: unhold runs under the lock with the queue empty.
func (sub *Subscription) release(unhold func()) {
	for {
		sub.mu.Lock()
		batch := sub.pending
		sub.pending = nil
		if len(batch) == 0 {
			unhold()
			sub.mu.Unlock()
			return
		}
		sub.mu.Unlock()
		for _, d := range batch {
			sub.mu.Lock()
			if sub.wantedLocked(d) {
				d = sub.advanceLocked(d)
			} else {
				d = nil
			}
			sub.mu.Unlock()
			if d != nil && !sub.sendReplayed(&delivery{Event: d.Event, at: d.at}) {
				return
			}
		}
	}
}

// handleControl follows a chat the user was just added to and passes the
// announcement on: chat.created first, then the chat's events from the
// start. ev names the chat and, as its Seq, the LastSeq the chat had when
// it was announced; the chat itself comes from the node's chatCache.
func (sub *Subscription) handleControl(ev Event) error {
	if ev.Type != EventChatCreated {
		return nil
	}
	ctx, cancel := sub.contextUntilDone()
	defer cancel()
	c, err := sub.svc.hub.chats.get(ctx, ev.ChatID, ev.Seq)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		if serr := sub.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("chat: follow new chat: %w", err)
	}
	// Bounded like every chat object (the protocol's member_count rule),
	// and the subscription's own copy.
	c = sub.svc.boundMembers(copyChat(c), sub.user)
	announce := Event{Type: EventChatCreated, ChatID: c.ID, Chat: &c}
	sub.mu.Lock()
	known := sub.following[ev.ChatID]
	// Followed since the resume without being listed: the user was added
	// to the chat (or it was created with them) while the connection
	// resumed, and the resume followed it from wherever it then was, an
	// empty chat at its announcement included. Unless live events of the
	// chat have reached the reader already, it gets the chat from seq 1
	// as for any new chat; otherwise a resync, unless those live events
	// began at seq 1. (A late announcement of a chat that was empty when
	// followed replays nothing.)
	first, fresh := sub.liveOnly[ev.ChatID]
	fresh = fresh && known
	replay := fresh && sub.pos[ev.ChatID] == 0
	resync := fresh && !replay && first > 1
	delete(sub.liveOnly, ev.ChatID)
	if replay {
		sub.holding[ev.ChatID] = true
	}
	sub.mu.Unlock()
	if !known {
		return sub.join(announce)
	}
	// Followed since the resume: its events already flow. The reader
	// still learns that the chat is new.
	if !sub.send(&delivery{Event: announce}) {
		return sub.Err()
	}
	switch {
	case replay:
		return sub.replayFromStart(ctx, ev.ChatID)
	case resync:
		if !sub.send(&delivery{Event: Event{Type: EventResync, ChatID: ev.ChatID}}) {
			return sub.Err()
		}
	}
	return nil
}

// replayFromStart replays chatID, held, from its first event, then
// releases what arrived meanwhile.
func (sub *Subscription) replayFromStart(ctx context.Context, chatID string) error {
	last, err := sub.svc.store.LastSeqs(ctx, []string{chatID})
	if err != nil {
		return fmt.Errorf("chat: follow new chat: %w", err)
	}
	if err := sub.replay(ctx, chatID, 0, last[chatID], 0); err != nil {
		return err
	}
	sub.release(func() { delete(sub.holding, chatID) })
	return nil
}

// join follows chatID, announcing it with ev, and replays the chat from its
// first event.
func (sub *Subscription) join(ev Event) error {
	ctx, cancel := sub.contextUntilDone()
	defer cancel()
	chatID := ev.ChatID
	sub.mu.Lock()
	sub.following[chatID] = true
	sub.holding[chatID] = true
	delete(sub.cut, chatID)
	sub.mu.Unlock()
	if err := sub.follow(ctx, []string{chatID}); err != nil {
		return err
	}
	// Removed again before the stream had us: the removal may have passed
	// it unseen. Later ones reach us.
	if _, err := sub.svc.store.GetMember(ctx, chatID, sub.user); err != nil {
		if errors.Is(err, ErrNotFound) {
			sub.forget(chatID)
			return nil
		}
		return fmt.Errorf("chat: follow new chat: %w", err)
	}
	if !sub.send(&delivery{Event: ev}) {
		return sub.Err()
	}
	return sub.replayFromStart(ctx, chatID)
}

// reconcileChats follows the chats the Store says the user is in but the
// subscription does not know, announcing each with chat.created.
func (sub *Subscription) reconcileChats() error {
	ctx, cancel := sub.contextUntilDone()
	defer cancel()
	// Shared with the resumes and the other reconciliations under way: a
	// Broker that lost every user topic makes them all reconcile at once.
	all, err := sub.svc.hub.reads.chatIDs.read(ctx, []string{sub.user})
	if err != nil {
		return fmt.Errorf("chat: refresh chats: %w", err)
	}
	for _, id := range all[sub.user] {
		sub.mu.Lock()
		known := sub.following[id]
		sub.mu.Unlock()
		if known {
			continue
		}
		c, err := sub.svc.store.GetChat(ctx, id)
		if err != nil {
			return fmt.Errorf("chat: refresh chats: %w", err)
		}
		c = sub.svc.boundMembers(c, sub.user)
		if err := sub.join(Event{Type: EventChatCreated, ChatID: id, Chat: &c}); err != nil {
			return err
		}
	}
	return nil
}

// contextUntilDone returns a context that ends with the subscription.
func (sub *Subscription) contextUntilDone() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(sub.svc.hub.ctx)
	go func() {
		select {
		case <-sub.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
