package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Presence is whether a user has a connection open, on any node. Its JSON
// form is the presence object of the wire protocol.
type Presence struct {
	UserID string `json:"user_id"`
	Online bool   `json:"online"`
	// LastSeenAt is when the user was last known to be online: for an
	// online user, the latest time a node confirmed it (at most a third of
	// PresenceConfig.TTL ago); for an offline one, when their last
	// connection closed, or their node's last confirmation if the node
	// died. Nil when the user was never seen (within the backend's
	// retention) or hides their presence.
	LastSeenAt *time.Time `json:"last_seen_at"`
}

// PresenceBroker is an optional ability of a Broker: keeping which users
// have a connection open on which node, as leases that expire unless the
// node renews them. The Service answers presence reads and sends presence
// events only when its Broker implements it; otherwise they answer
// ErrNotImplemented (501).
//
// A node is an opaque id, one per Service. Each user's entries on each
// node and each node's lease expire ttl after the node's last SetOnline,
// so that the users of a node killed without SetOffline go offline on
// their own: reads see them offline once their entries expire, and the
// next ExpireNodes reports them.
//
// Every method must be safe for concurrent use, by one process or many.
// Each transition to online or offline is reported by the one call that
// made it (the return values below), so that nodes calling at once never
// both announce it. Run the presencetest package against an
// implementation to check it.
type PresenceBroker interface {
	// SetOnline records that node has a connection open for each of
	// users, until ttl from now, and renews node's lease for ttl. It
	// returns the users who had no unexpired entry on any node before the
	// call. Calling it with no users only renews the lease.
	SetOnline(ctx context.Context, node string, users []string, ttl time.Duration) (cameOnline []string, err error)

	// SetOffline removes node's entries of users, recording now as when
	// they were last seen. It returns those of them who had an entry on
	// node (expired or not) and now have no unexpired entry on any node,
	// offline, with LastSeenAt set to the time recorded. Users without an
	// entry on node are ignored.
	SetOffline(ctx context.Context, node string, users []string) (wentOffline []Presence, err error)

	// ExpireNodes removes the entries of the nodes whose lease has
	// expired and returns the users that leaves with no unexpired entry on
	// any node, offline, with LastSeenAt set to their latest renewal. Each
	// expired node is handled by one call only, whichever node makes it.
	ExpireNodes(ctx context.Context) ([]Presence, error)

	// Presence returns the presence of users, in the order given: online
	// if the user has an unexpired entry on some node. LastSeenAt is the
	// latest SetOnline or SetOffline of the user, on any node, nil if
	// none is known.
	Presence(ctx context.Context, users []string) ([]Presence, error)
}

// PresenceConfig configures presence: who of the users that share a chat
// with the caller is online. It needs a Broker that implements
// PresenceBroker (memory.Broker and redisbroker.Broker do). The zero value
// leaves presence off: reads answer ErrNotImplemented (501) and no presence
// events are sent, so that clients written before presence see no new
// event and a host pays for it only when it asks.
type PresenceConfig struct {
	// Enabled turns presence on, with the defaults below for zero fields.
	Enabled bool
	// Hidden, when set, says whether userID hides their presence from
	// everyone (a privacy setting of the host app). A hidden user reads as
	// offline with no last_seen_at, and their connections are not
	// recorded. It is asked when a user's first connection opens on a node
	// and for each user a presence read returns, so it should be fast; an
	// error counts as hidden. A change takes effect in events at the
	// user's next connection.
	Hidden func(ctx context.Context, userID string) (bool, error)
	// Grace is how long a user whose last connection on a node closed
	// stays online, so that a reconnect within it (a page reload, a
	// network switch, a node draining) sends no offline and online pair.
	// Default DefaultPresenceGrace.
	Grace time.Duration
	// TTL is how long a node's record of its users lasts without renewal;
	// the node renews it every TTL/3. The users of a node killed without
	// closing its connections read as offline at most TTL after its last
	// renewal, and their offline events are sent at most TTL/3 later, at
	// the next renewal of any other node. A node that shuts down hands its
	// users over the same way, so that clients reconnecting elsewhere see
	// no flicker. Default DefaultPresenceTTL.
	TTL time.Duration
}

// Presence defaults.
const (
	DefaultPresenceGrace = 5 * time.Second
	DefaultPresenceTTL   = 30 * time.Second
)

// EventPresence says that UserID, who shares ChatID with the reader, came
// online or went offline; Presence is set. It is not persisted, is sent
// once per change to each connection whichever of the shared chats it
// came through, and never to UserID's own connections.
const EventPresence EventType = "presence"

// eventPresenceBatch is the notification that carries a node's presence
// changes for one chat to the other nodes (envelope.Presence).
const eventPresenceBatch EventType = "internal.presence"

// PresencePage is a page of a chat's members' presence, in user id order.
type PresencePage struct {
	Presence []Presence `json:"presence"`
	// HasMore says whether members after the last one exist.
	HasMore bool `json:"has_more"`
}

// ChatPresence returns the presence of chatID's members, userID included,
// paged as ListMembers pages them: q.After is the last user id of the
// previous page. userID must be a member (ErrNotFound otherwise), so that
// presence is only ever shown to users who share a chat. Unless presence
// is on (PresenceConfig.Enabled, and a Broker that is a PresenceBroker), it
// fails with ErrNotImplemented.
func (s *Service) ChatPresence(ctx context.Context, userID, chatID string, q MemberQuery) (PresencePage, error) {
	if s.presence == nil {
		return PresencePage{}, s.presenceUnavailable()
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return PresencePage{}, err
	}
	c, err := s.memberChat(ctx, userID, chatID)
	if err != nil {
		return PresencePage{}, err
	}
	rest := c.Members[sort.Search(len(c.Members), func(i int) bool { return c.Members[i].UserID > q.After }):]
	members := rest[:min(limit, len(rest))]
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	ps, err := s.presence.read(ctx, ids)
	if err != nil {
		return PresencePage{}, err
	}
	return PresencePage{Presence: ps, HasMore: len(rest) > limit}, nil
}

// presenceUnavailable says why presence is off.
func (s *Service) presenceUnavailable() error {
	msg := "presence is not turned on"
	if s.presenceRequested && !s.presenceCapable {
		msg = "presence needs a Broker that implements chat.PresenceBroker"
	}
	return &requestError{kind: ErrNotImplemented, msg: msg}
}

// The presence tracker keeps, for one node, which users have a connection
// open here, and records them in the PresenceBroker: at once when a user's
// first connection opens, Grace after the last one closes, and again every
// TTL/3, when it also expires the nodes that stopped renewing. One
// goroutine makes every PresenceBroker call, in batches of whatever
// changed meanwhile, so the calls for one user never overtake each other.
//
// Each transition the PresenceBroker reports is fanned out by the node
// that caused it: it reads the user's chats once and publishes, per chat,
// one notification carrying every change of the batch among that chat's
// members, on the chat's topic. So only nodes with a connection following
// a shared chat hear of it, and each connection gets one event per change
// (Subscription.deliverPresence drops the copies that come through other
// shared chats).
type presenceTracker struct {
	s      *Service
	pb     PresenceBroker
	hidden func(context.Context, string) (bool, error)
	grace  time.Duration
	ttl    time.Duration
	wake   chan struct{}

	mu    sync.Mutex
	users map[string]*localPresence
}

// localPresence is one user's presence on this node.
type localPresence struct {
	connected bool      // a connection is open here
	recorded  bool      // SetOnline has succeeded for them
	hidden    bool      // Hidden said so when they connected
	checked   bool      // Hidden was asked
	leaveAt   time.Time // when the grace ends, for a user not connected
}

func newPresenceTracker(s *Service, cfg PresenceConfig) *presenceTracker {
	pb, ok := s.broker.(PresenceBroker)
	s.presenceCapable, s.presenceRequested = ok, cfg.Enabled
	if !ok || !cfg.Enabled {
		return nil
	}
	t := &presenceTracker{
		s:      s,
		pb:     pb,
		hidden: cfg.Hidden,
		grace:  cfg.Grace,
		ttl:    cfg.TTL,
		wake:   make(chan struct{}, 1),
		users:  make(map[string]*localPresence),
	}
	if t.grace <= 0 {
		t.grace = DefaultPresenceGrace
	}
	if t.ttl <= 0 {
		t.ttl = DefaultPresenceTTL
	}
	return t
}

// connected is called when userID's first connection on this node opens.
// It never blocks.
func (t *presenceTracker) connected(userID string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	u := t.users[userID]
	if u == nil {
		u = &localPresence{}
		t.users[userID] = u
	}
	u.connected = true
	u.leaveAt = time.Time{}
	t.mu.Unlock()
	t.kick()
}

// disconnected is called when userID's last connection on this node
// closes. It never blocks.
func (t *presenceTracker) disconnected(userID string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if u := t.users[userID]; u != nil {
		u.connected = false
		u.leaveAt = time.Now().Add(t.grace)
	}
	t.mu.Unlock()
	t.kick()
}

func (t *presenceTracker) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// run is the tracker's goroutine, until the hub closes. It leaves this
// node's entries to expire: a node that stops is handed over like one
// that died, so that its users reconnecting elsewhere see no flicker.
func (t *presenceTracker) run() {
	h := t.s.hub
	renew := time.NewTicker(max(t.ttl/3, time.Millisecond))
	defer renew.Stop()
	var grace *time.Timer
	for {
		var graceC <-chan time.Time
		if next, ok := t.nextLeave(); ok {
			if grace == nil {
				grace = time.NewTimer(time.Until(next))
			} else {
				grace.Reset(time.Until(next))
			}
			graceC = grace.C
		}
		renewing := false
		select {
		case <-h.ctx.Done():
			if grace != nil {
				grace.Stop()
			}
			return
		case <-t.wake:
		case <-graceC:
		case <-renew.C:
			renewing = true
		}
		if grace != nil {
			grace.Stop()
		}
		t.step(renewing)
	}
}

// nextLeave returns the earliest end of a grace period, if any.
func (t *presenceTracker) nextLeave() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next time.Time
	for _, u := range t.users {
		if !u.connected && (next.IsZero() || u.leaveAt.Before(next)) {
			next = u.leaveAt
		}
	}
	return next, !next.IsZero()
}

// step records what changed since the last one, renews every user when
// renewing, and fans out the transitions the PresenceBroker reports.
func (t *presenceTracker) step(renewing bool) {
	ctx, cancel := t.s.hub.ioContext()
	defer cancel()
	t.checkHidden(ctx)
	now := time.Now()
	// Once Shutdown has started, the node's users are handed over like a
	// dead node's: their entries expire and another node reports them.
	stopping := t.s.draining.Err() != nil
	var join, leave, forget []string
	t.mu.Lock()
	for id, u := range t.users {
		switch {
		case u.hidden:
			if !u.connected {
				delete(t.users, id)
			}
		case u.connected && (!u.recorded || renewing):
			join = append(join, id)
		case !u.connected && !now.Before(u.leaveAt) && !stopping:
			if u.recorded {
				leave = append(leave, id)
			} else {
				forget = append(forget, id)
			}
		case !u.connected && renewing && u.recorded:
			join = append(join, id) // still within the grace
		}
	}
	for _, id := range forget {
		delete(t.users, id)
	}
	t.mu.Unlock()

	var changes []Presence
	if len(join) > 0 || renewing {
		// The time before the call, so that the user's last seen time,
		// which the call sets, is never earlier than their coming online.
		at := time.Now().UTC()
		came, err := t.pb.SetOnline(ctx, t.s.hub.node, join, t.ttl)
		if err != nil {
			t.s.log.Warn("chat: recording presence", "users", len(join), "err", err)
		} else {
			t.markRecorded(join)
			for _, id := range came {
				changes = append(changes, Presence{UserID: id, Online: true, LastSeenAt: &at})
			}
		}
	}
	if len(leave) > 0 {
		went, err := t.pb.SetOffline(ctx, t.s.hub.node, leave)
		if err != nil {
			// Retried a little later; the entries expire meanwhile.
			t.s.log.Warn("chat: recording presence", "users", len(leave), "err", err)
			t.postpone(leave, now.Add(presenceRetryDelay))
		} else {
			t.forgetLeft(leave)
			changes = append(changes, went...)
		}
	}
	if renewing {
		gone, err := t.pb.ExpireNodes(ctx)
		if err != nil {
			t.s.log.Warn("chat: expiring presence of stopped nodes", "err", err)
		}
		changes = append(changes, gone...)
	}
	if len(changes) > 0 {
		t.fanOut(ctx, changes)
	}
}

// checkHidden asks Hidden about the users who connected since it was
// last asked.
func (t *presenceTracker) checkHidden(ctx context.Context) {
	if t.hidden == nil {
		return
	}
	var ask []string
	t.mu.Lock()
	for id, u := range t.users {
		if !u.checked {
			ask = append(ask, id)
		}
	}
	t.mu.Unlock()
	for _, id := range ask {
		hidden := t.isHidden(ctx, id)
		t.mu.Lock()
		if u := t.users[id]; u != nil {
			u.checked, u.hidden = true, hidden
		}
		t.mu.Unlock()
	}
}

func (t *presenceTracker) isHidden(ctx context.Context, userID string) bool {
	if t.hidden == nil {
		return false
	}
	hidden, err := t.hidden(ctx, userID)
	if err != nil {
		t.s.log.Warn("chat: PresenceConfig.Hidden failed; treating the user as hidden", "user_id", userID, "err", err)
		return true
	}
	return hidden
}

// presenceRetryDelay is how long the tracker waits before recording again
// users whose SetOffline failed.
const presenceRetryDelay = time.Second

// postpone moves the end of the grace of the users still disconnected to
// at.
func (t *presenceTracker) postpone(ids []string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if u := t.users[id]; u != nil && !u.connected {
			u.leaveAt = at
		}
	}
}

func (t *presenceTracker) markRecorded(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if u := t.users[id]; u != nil {
			u.recorded = true
		}
	}
}

// forgetLeft drops the users recorded offline, unless they connected
// again meanwhile: then the next step records them online.
func (t *presenceTracker) forgetLeft(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		u := t.users[id]
		switch {
		case u == nil:
		case u.connected:
			u.recorded = false
		default:
			delete(t.users, id)
		}
	}
	if len(ids) > 0 {
		t.kick()
	}
}

// read returns the presence of users, hidden ones as offline and never
// seen.
func (t *presenceTracker) read(ctx context.Context, users []string) ([]Presence, error) {
	ps, err := t.pb.Presence(ctx, users)
	if err != nil {
		return nil, fmt.Errorf("chat: read presence: %w", err)
	}
	if len(ps) != len(users) {
		return nil, fmt.Errorf("chat: read presence: the PresenceBroker returned %d answers for %d users", len(ps), len(users))
	}
	for i := range ps {
		ps[i].UserID = users[i]
		if t.isHidden(ctx, users[i]) {
			ps[i] = Presence{UserID: users[i]}
		}
		if ps[i].LastSeenAt != nil {
			at := ps[i].LastSeenAt.UTC()
			ps[i].LastSeenAt = &at
		}
	}
	return ps, nil
}

// fanOut tells the members of each changed user's chats, on every node:
// one notification per chat, carrying the changes of every user of the
// batch who is in it. Chats that get the same changes share one encoding.
func (t *presenceTracker) fanOut(ctx context.Context, changes []Presence) {
	h := t.s.hub
	byChat := make(map[string][]int) // chat id -> indexes in changes
	for i, p := range changes {
		ids, err := t.s.store.ChatIDs(ctx, p.UserID)
		if err != nil {
			t.s.log.Warn("chat: reading chats to announce presence", "user_id", p.UserID, "err", err)
			continue
		}
		for _, id := range ids {
			byChat[id] = append(byChat[id], i)
		}
	}
	type batch struct {
		ps      []Presence
		payload []byte
	}
	batches := make(map[string]*batch) // by the indexes, as text
	for chatID, idx := range byChat {
		key := fmt.Sprint(idx)
		b := batches[key]
		if b == nil {
			b = &batch{ps: make([]Presence, len(idx))}
			for j, i := range idx {
				b.ps[j] = changes[i]
			}
			if h.pub != nil {
				var err error
				if b.payload, err = json.Marshal(envelope{Node: h.node, Event: Event{Type: eventPresenceBatch}, Presence: b.ps}); err != nil {
					t.s.log.Error("chat: encoding presence notification", "err", err)
					return
				}
			}
			batches[key] = b
		}
		h.dispatchPresence(chatID, b.ps)
		if h.pub != nil {
			topic := chatTopicPrefix + chatID
			h.pub.shard(topic).enqueue(publication{typ: eventPresenceBatch, topic: topic, payload: b.payload})
		}
	}
}

// dispatchPresence hands presence changes of chatID's members to this
// node's connections following the chat.
func (h *hub) dispatchPresence(chatID string, ps []Presence) {
	h.mu.Lock()
	st := h.streams[chatID]
	h.mu.Unlock()
	if st == nil {
		return
	}
	followers := st.followerList()
	if len(followers) == 0 {
		return
	}
	for i := range ps {
		p := ps[i]
		d := &delivery{Event: Event{Type: EventPresence, ChatID: chatID, UserID: p.UserID, Presence: &p}}
		for _, s := range followers {
			s.deliverPresence(d)
		}
	}
}

// presenceMark is the latest presence change of a user a subscription
// passed on.
type presenceMark struct {
	online bool
	at     time.Time
}

// deliverPresence passes d on if it changes what the reader was last told
// of the user: not a copy that came through another shared chat, nor a
// change older than the one they have.
func (sub *Subscription) deliverPresence(d *delivery) {
	if d.UserID == sub.user || d.Presence == nil || d.Presence.LastSeenAt == nil {
		return
	}
	mark := presenceMark{online: d.Presence.Online, at: *d.Presence.LastSeenAt}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.err != nil || !sub.following[d.ChatID] {
		return
	}
	if last, ok := sub.presenceSent[d.UserID]; ok {
		if last.online == mark.online || mark.at.Before(last.at) {
			return
		}
	}
	if sub.presenceSent == nil {
		sub.presenceSent = make(map[string]presenceMark)
	}
	sub.presenceSent[d.UserID] = mark
	sub.deliverEphemeralLocked(d)
}

func (h *restHandler) chatPresence(w http.ResponseWriter, r *http.Request, user, chatID string) {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	page, err := h.svc.ChatPresence(r.Context(), user, chatID, MemberQuery{After: q.Get("after"), Limit: limit})
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, page)
}
