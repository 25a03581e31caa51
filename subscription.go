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
	out       chan *delivery
	done      chan struct{}
	wake      chan struct{} // a control event or reconcile request waits
	// ephemeralReady signals that ephemeral holds an event.
	ephemeralReady chan struct{}
	// replaySlots holds a token per replayed event in out: replays may
	// use replayAllowance places of out, live events the other QueueSize.
	replaySlots chan struct{}

	mu        sync.Mutex
	err       error
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
	// did not list: if a chat.created for one follows, the membership is
	// new and the reader is owed the chat from seq 1.
	liveOnly map[string]bool
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
		svc:            s,
		user:           userID,
		positions:      pos,
		out:            make(chan *delivery, s.queueSize+replayAllowance(s.queueSize)),
		done:           make(chan struct{}),
		wake:           make(chan struct{}, 1),
		holdAll:        true,
		ephemeralReady: make(chan struct{}, 1),
		replaySlots:    make(chan struct{}, replayAllowance(s.queueSize)),
		holding:        make(map[string]bool),
		pos:            make(map[string]int64),
		following:      make(map[string]bool),
		cut:            make(map[string]int64),
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
		case d := <-sub.out:
			return sub.took(d), nil
		case <-sub.ephemeralReady:
		case <-sub.done:
			return nil, sub.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// took is called with each delivery taken from out: a replayed one frees
// its place in the replay allowance.
func (sub *Subscription) took(d *delivery) *delivery {
	if d.replayed {
		<-sub.replaySlots
	}
	return d
}

// poll returns the next event if one waits, without waiting: the queue's
// first, and only when the queue is empty an ephemeral one. The queue goes
// first so that resumed, and a member.removed, are never overtaken by an
// ephemeral event that arrived after them.
func (sub *Subscription) poll() *delivery {
	select {
	case d := <-sub.out:
		return sub.took(d)
	default:
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.out) > 0 || len(sub.ephemeral) == 0 {
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
		if len(sub.pending) >= cap(sub.out)+fillPage {
			sub.resyncLaterLocked(d)
			return
		}
		sub.pending = append(sub.pending, d)
		return
	}
	if !sub.advanceLocked(d) {
		return
	}
	select {
	case sub.out <- d:
		if d.Type == EventMemberRemoved && d.UserID == sub.user {
			sub.dropEphemeralLocked(d.ChatID)
		}
	default:
		sub.failLocked(ErrSlowConsumer)
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
			select {
			case sub.ephemeralReady <- struct{}{}:
			default:
			}
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

// advanceLocked reports whether d is new to the reader and, if so, records
// its seq as the chat's position.
func (sub *Subscription) advanceLocked(d *delivery) bool {
	if d.resyncUpTo > 0 {
		// A resync standing for dropped held events: needless if the
		// replay has covered them since.
		delete(sub.resyncs, d.ChatID)
		if d.resyncUpTo <= sub.pos[d.ChatID] {
			return false
		}
		sub.pos[d.ChatID] = d.resyncUpTo
		sub.svc.flow.forcedResyncs.Add(1)
		return true
	}
	if d.Seq == 0 {
		return true
	}
	if d.Seq <= sub.pos[d.ChatID] {
		return false
	}
	sub.pos[d.ChatID] = d.Seq
	return true
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
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// sendReplayed hands d, an event of a replay or one held during it, to the
// reader, waiting while the replay allowance is used up. The allowance is
// room of its own in the queue, so that a long replay never leaves live
// events of the other chats without room (which would cut the reader off
// as a slow consumer).
func (sub *Subscription) sendReplayed(d *delivery) bool {
	select {
	case sub.replaySlots <- struct{}{}:
	case <-sub.done:
		return false
	}
	d.replayed = true
	return sub.send(d)
}

// send hands d to the reader, waiting while the queue is full.
func (sub *Subscription) send(d *delivery) bool {
	select {
	case sub.out <- d:
		return true
	case <-sub.done:
		return false
	}
}

func (sub *Subscription) run() {
	defer func() {
		sub.mu.Lock()
		ids := make([]string, 0, len(sub.following)+len(sub.unfollows))
		for id := range sub.following {
			ids = append(ids, id)
		}
		ids = append(ids, sub.unfollows...)
		sub.mu.Unlock()
		sub.svc.hub.removeSubscription(sub, ids)
	}()
	if err := sub.resume(); err != nil {
		sub.fail(err)
		return
	}
	for {
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		}
		for {
			sub.unfollowLeft()
			sub.mu.Lock()
			controls, reconcile := sub.controls, sub.reconcile
			sub.controls, sub.reconcile = nil, false
			sub.mu.Unlock()
			if len(controls) == 0 && !reconcile {
				break
			}
			for _, ev := range controls {
				if err := sub.handleControl(ev); err != nil {
					sub.fail(err)
					return
				}
			}
			if reconcile {
				if err := sub.reconcileChats(); err != nil {
					sub.fail(err)
					return
				}
			}
		}
	}
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
	ids, err := sub.svc.store.ChatIDs(ctx, sub.user)
	if err != nil {
		return fmt.Errorf("chat: subscribe: %w", err)
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
	now, err := sub.svc.store.ChatIDs(ctx, sub.user)
	if err != nil {
		return fmt.Errorf("chat: subscribe: %w", err)
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
				sub.liveOnly = make(map[string]bool)
			}
			sub.liveOnly[id] = true
			sub.mu.Unlock()
		}
	}
	if len(listed) > 0 {
		last, err := sub.svc.store.LastSeqs(ctx, listed)
		if err != nil {
			return fmt.Errorf("chat: subscribe: %w", err)
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
			select {
			case sub.ephemeralReady <- struct{}{}:
			default:
			}
		}
	})
	return nil
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
func (sub *Subscription) follow(ctx context.Context, ids []string) error {
	for _, st := range sub.svc.hub.follow(sub, ids) {
		select {
		case <-st.ready:
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
	// Every event after from is the reader's if they are a member at its
	// end of the log: a removal they were added back after is not their
	// last event. So what follows our removal waits (out) until our next
	// addition shows it is ours; at the end of the log it is dropped and
	// the removal ends the chat for us.
	var out []*delivery
	removedAt := int64(0)
	emit := func(d *delivery) bool {
		sub.mu.Lock()
		fresh := sub.advanceLocked(d)
		sub.mu.Unlock()
		return !fresh || sub.sendReplayed(d)
	}
	after := from
read:
	for {
		evs, err := sub.svc.store.ListEvents(ctx, chatID, after, fillPage)
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
			fresh := sub.wantedLocked(d) && sub.advanceLocked(d)
			sub.mu.Unlock()
			if fresh && !sub.sendReplayed(&delivery{Event: d.Event, at: d.at}) {
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
	// Followed since the resume without being listed, and the chat had
	// events when it was announced (ev.Seq): the user was added to it
	// while the connection resumed. Unless live events of the chat have
	// reached the reader already, it gets the chat from seq 1 as for any
	// new chat; otherwise a resync. (A chat created empty owes the reader
	// nothing: a late announcement of it is harmless, as documented.)
	fresh := known && sub.liveOnly[ev.ChatID] && ev.Seq > 0
	replay := fresh && sub.pos[ev.ChatID] == 0
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
	case fresh:
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
			sub.leave(chatID, 0)
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
	ids, err := sub.svc.store.ChatIDs(ctx, sub.user)
	if err != nil {
		return fmt.Errorf("chat: refresh chats: %w", err)
	}
	for _, id := range ids {
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
