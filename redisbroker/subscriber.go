package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/embedchat/chat"
)

// subscriber is the chat.Subscriber of a Broker.
//
// Its state is a set of wanted topics, each routed to one conn (a pub/sub
// connection with its own goroutine), and the handler's queue. A topic is
// active once Redis has confirmed its subscription on the current
// connection of its conn. Whenever a topic that was active stops being so,
// or a Subscribe for it returns an error, it is marked lostOnActivate, and
// the moment it is confirmed again it is reported through HandleLost.
type subscriber struct {
	b   *Broker
	h   chat.BrokerHandler
	log *slog.Logger

	// ctx ends when Close starts; it bounds the subscriber's own I/O.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when Close starts
	wg     sync.WaitGroup

	queue chan notification

	lostMu     sync.Mutex
	lost       map[string]struct{} // topics to report through HandleLost
	dropped    int                 // notifications dropped since the last report
	lostSignal chan struct{}       // capacity 1: lost has something

	mu      sync.Mutex
	closed  bool
	topics  map[string]*topic
	conns   map[string]*conn // by node address; "" without a cluster
	changed chan struct{}    // closed and replaced on every state change
	reroute chan struct{}    // capacity 1: routes need checking
}

type notification struct {
	topic   string
	payload []byte
}

type topic struct {
	name    string
	channel string
	conn    *conn // nil while no route is known

	active         bool
	lostOnActivate bool
}

func newSubscriber(b *Broker, h chat.BrokerHandler) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{
		b:          b,
		h:          h,
		log:        b.log,
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		queue:      make(chan notification, b.cfg.BufferSize),
		lost:       make(map[string]struct{}),
		lostSignal: make(chan struct{}, 1),
		topics:     make(map[string]*topic),
		conns:      make(map[string]*conn),
		changed:    make(chan struct{}),
		reroute:    make(chan struct{}, 1),
	}
	s.wg.Add(2)
	go s.deliverLoop()
	go s.routeLoop()
	return s
}

// Subscribe adds topics and waits until Redis has confirmed each of them,
// until a connection they need fails, or until ctx ends.
func (s *subscriber) Subscribe(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	names := unique(topics)
	// Look the routes up before locking: on a cluster that may mean
	// loading the slot map.
	routes, routeErr := s.lookup(ctx, names)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("redisbroker: subscribe: %w", chat.ErrClosed)
	}
	added := make(map[*conn][]*topic)
	for _, name := range names {
		t := s.topics[name]
		if t == nil {
			t = &topic{name: name, channel: s.b.cfg.Prefix + name}
			s.topics[name] = t
		} else if t.conn != nil {
			continue
		}
		r, ok := routes[name]
		if !ok {
			s.requestReroute()
			continue
		}
		c := s.connLocked(r)
		t.conn = c
		c.topics[name] = t
		added[c] = append(added[c], t)
	}
	for c, ts := range added {
		if c.gen != nil {
			c.sendLocked(true, ts)
		} else {
			c.wakeUp()
		}
	}

	// failSeq of each conn when this call first looked at it: a change
	// means an attempt to connect failed while the call waited.
	seen := make(map[*conn]uint64)
	for {
		err := s.pendingLocked(names, seen)
		if err == nil {
			return nil
		}
		switch {
		case err == errPending:
		case errors.Is(err, chat.ErrClosed):
			return fmt.Errorf("redisbroker: subscribe: %w", err)
		default:
			if err == errNoRoute && routeErr != nil {
				err = routeErr
			}
			s.markUnconfirmedLocked(names)
			return fmt.Errorf("redisbroker: subscribe: %w: %w", chat.ErrUnavailable, err)
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			if s.pendingLocked(names, seen) == nil {
				return nil
			}
			s.markUnconfirmedLocked(names)
			return fmt.Errorf("redisbroker: subscribe: %w", context.Cause(ctx))
		case <-s.done:
			s.mu.Lock()
			return fmt.Errorf("redisbroker: subscribe: %w", chat.ErrClosed)
		}
	}
}

// pendingLocked returns nil when every topic of names is active (or no
// longer wanted), errPending while some are on their way, and the reason
// when one cannot become active soon.
func (s *subscriber) pendingLocked(names []string, seen map[*conn]uint64) error {
	if s.closed {
		return chat.ErrClosed
	}
	var err error
	for _, name := range names {
		t := s.topics[name]
		if t == nil || t.active {
			continue
		}
		c := t.conn
		if c == nil {
			return errNoRoute
		}
		seq, ok := seen[c]
		if !ok {
			seen[c] = c.failSeq
			if c.down {
				return c.lastErr
			}
		} else if seq != c.failSeq {
			return c.lastErr
		}
		err = errPending
	}
	return err
}

// markUnconfirmedLocked makes the topics of names that are not active
// report themselves lost once they are, as the contract asks of a failed
// Subscribe.
func (s *subscriber) markUnconfirmedLocked(names []string) {
	for _, name := range names {
		if t := s.topics[name]; t != nil && !t.active {
			t.lostOnActivate = true
		}
	}
}

// Unsubscribe removes topics. It does not wait for Redis to confirm: the
// contract lets notifications trail an Unsubscribe.
func (s *subscriber) Unsubscribe(_ context.Context, topics ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("redisbroker: unsubscribe: %w", chat.ErrClosed)
	}
	removed := make(map[*conn][]*topic)
	for _, name := range topics {
		t := s.topics[name]
		if t == nil {
			continue
		}
		delete(s.topics, name)
		c := t.conn
		if c == nil {
			continue
		}
		delete(c.topics, name)
		if c.gen != nil && c.gen.on(name) {
			removed[c] = append(removed[c], t)
		}
	}
	for c, ts := range removed {
		// A failed write replaces the connection, and the new one is
		// made without these topics, so the removal holds either way.
		c.sendLocked(false, ts)
	}
	s.broadcastLocked()
	return nil
}

// Close closes every pub/sub connection and waits for the subscriber's
// goroutines, including a handler call in progress.
func (s *subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.broadcastLocked()
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// connLocked returns the conn for r, starting it when it is new.
func (s *subscriber) connLocked(r route) *conn {
	c := s.conns[r.addr]
	if c == nil {
		c = newConn(s, r)
		s.conns[r.addr] = c
		s.wg.Add(1)
		go c.run()
	} else if r.node != nil {
		// The cluster client may have replaced the node's client.
		c.node = r.node
	}
	return c
}

// activateLocked marks t active, reporting it lost if it owes a report.
func (s *subscriber) activateLocked(t *topic) {
	t.active = true
	if t.lostOnActivate {
		t.lostOnActivate = false
		s.markLost(t.name)
	}
	s.broadcastLocked()
}

// deactivateLocked marks t inactive; if it was active, notifications may
// be lost from now until it is active again.
func (s *subscriber) deactivateLocked(t *topic) {
	if t.active {
		t.active = false
		t.lostOnActivate = true
	}
}

func (s *subscriber) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *subscriber) requestReroute() {
	select {
	case s.reroute <- struct{}{}:
	default:
	}
}

// deliver hands a notification to the handler's goroutine. It never
// blocks: when the queue is full the notification is dropped and its
// topic reported lost.
func (s *subscriber) deliver(topic string, payload []byte) {
	select {
	case s.queue <- notification{topic, payload}:
	default:
		s.lostMu.Lock()
		s.dropped++
		s.lostMu.Unlock()
		s.markLost(topic)
	}
}

func (s *subscriber) markLost(topic string) {
	s.lostMu.Lock()
	s.lost[topic] = struct{}{}
	s.lostMu.Unlock()
	select {
	case s.lostSignal <- struct{}{}:
	default:
	}
}

// deliverLoop is the only caller of the handler.
func (s *subscriber) deliverLoop() {
	defer s.wg.Done()
	for {
		// A select with several ready cases picks any: check done first,
		// then losses, which must not wait behind a full queue.
		if isClosed(s.done) {
			return
		}
		select {
		case <-s.lostSignal:
			if topics := s.takeLost(); len(topics) > 0 {
				s.h.HandleLost(topics)
			}
			continue
		default:
		}
		select {
		case <-s.done:
			return
		case n := <-s.queue:
			s.h.HandleNotification(n.topic, n.payload)
		case <-s.lostSignal:
			if topics := s.takeLost(); len(topics) > 0 {
				s.h.HandleLost(topics)
			}
		}
	}
}

// takeLost empties the lost set and returns the topics in it that are
// still wanted and active. Inactive ones will be reported when they are
// confirmed again.
func (s *subscriber) takeLost() []string {
	s.lostMu.Lock()
	lost, dropped := s.lost, s.dropped
	s.lost, s.dropped = make(map[string]struct{}), 0
	s.lostMu.Unlock()
	if dropped > 0 {
		s.log.Warn("redisbroker: handler too slow, notifications dropped",
			"dropped", dropped, "buffer", cap(s.queue))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	topics := make([]string, 0, len(lost))
	for name := range lost {
		t := s.topics[name]
		switch {
		case t == nil:
		case t.active:
			topics = append(topics, name)
		default:
			t.lostOnActivate = true
		}
	}
	slices.Sort(topics)
	return topics
}

func unique(topics []string) []string {
	if len(topics) == 1 {
		return topics
	}
	set := make(map[string]struct{}, len(topics))
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		if _, ok := set[t]; !ok {
			set[t] = struct{}{}
			names = append(names, t)
		}
	}
	return names
}

// topicsOf returns the topics of a conn in a stable order.
func topicsOf(m map[string]*topic) []*topic {
	return slices.SortedFunc(maps.Values(m), func(a, b *topic) int {
		return strings.Compare(a.name, b.name)
	})
}
