package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/embedchat/chat"
)

var _ chat.Broker = (*Broker)(nil)

// Broker is a chat.Broker within one process. Services that share a Broker
// behave like the nodes of one cluster, one node per Subscriber, so that
// multi-node setups run without Redis. Create it with NewBroker.
//
// Publish calls the handlers of the topic's subscribers itself, on the
// publishing goroutine, and returns when they have returned. So a Subscribe
// is active as soon as it returns, a notification has been handled by the
// time Publish returns, and nothing is lost unless a test asks for it with
// SetDrop. Handlers of one Subscriber run concurrently when several
// goroutines publish at once.
//
// Handlers may call the Broker and its Subscribers, with one exception:
// Close waits for the handler calls in progress, so a handler must not
// close its own Subscriber.
//
// HandleLost is called only by Lose and LoseAll, which let tests of the
// Service's recovery run without a network to break.
type Broker struct {
	mu     sync.Mutex
	topics map[string]map[*subscriber]struct{}
	subs   map[*subscriber]struct{} // the open subscribers
	drop   bool

	presence presenceBook // chat.PresenceBroker, see presence.go
}

// NewBroker returns an empty Broker.
func NewBroker() *Broker {
	return &Broker{
		topics: make(map[string]map[*subscriber]struct{}),
		subs:   make(map[*subscriber]struct{}),
	}
}

// Publish calls HandleNotification of every subscriber of topic, each with
// its own copy of payload, and returns when they have returned. It returns
// ctx's error, and delivers nothing, when ctx has ended.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.drop {
		b.mu.Unlock()
		return nil
	}
	// Handlers run without b.mu held, so that they can call the Broker.
	subs := slices.Collect(maps.Keys(b.topics[topic]))
	b.mu.Unlock()

	for _, s := range subs {
		// Each subscriber stands for a node that would get its own copy
		// off the network, and may keep it.
		s.notify(topic, bytes.Clone(payload))
	}
	return nil
}

// NewSubscriber returns a Subscriber that calls h. It fails only when h is
// nil.
func (b *Broker) NewSubscriber(h chat.BrokerHandler) (chat.Subscriber, error) {
	if h == nil {
		return nil, errors.New("memory: NewSubscriber: nil BrokerHandler")
	}
	s := &subscriber{b: b, h: h, topics: make(map[string]struct{})}
	s.idle.L = &s.callMu
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// SetDrop makes Publish drop every notification while drop is true: it
// returns nil and calls no handler, like a network that loses messages.
// Tests use it with Lose or LoseAll to check that the Service fills the gap
// from the Store.
func (b *Broker) SetDrop(drop bool) {
	b.mu.Lock()
	b.drop = drop
	b.mu.Unlock()
}

// Lose calls HandleLost of every subscriber of any of topics, once per
// subscriber with the sorted topics it subscribes to, as a Subscriber
// does when it may have missed notifications. It returns when the handlers
// have returned.
func (b *Broker) Lose(topics ...string) {
	b.mu.Lock()
	lost := make(map[*subscriber][]string)
	for _, topic := range topics {
		for s := range b.topics[topic] {
			lost[s] = append(lost[s], topic)
		}
	}
	b.mu.Unlock()

	for s, topics := range lost {
		slices.Sort(topics)
		s.lose(slices.Compact(topics))
	}
}

// LoseAll calls HandleLost of every subscriber with all the sorted topics
// it subscribes to, as a Subscriber does after it reconnects. Subscribers
// without topics are not called. It returns when the handlers have
// returned.
func (b *Broker) LoseAll() {
	b.mu.Lock()
	lost := make(map[*subscriber][]string, len(b.subs))
	for s := range b.subs {
		if len(s.topics) > 0 {
			lost[s] = slices.Sorted(maps.Keys(s.topics))
		}
	}
	b.mu.Unlock()

	for s, topics := range lost {
		s.lose(topics)
	}
}

// subscriber is one node's Subscriber on a Broker.
type subscriber struct {
	b *Broker
	h chat.BrokerHandler

	// Guarded by b.mu, so that Publish sees subscriptions and closing
	// atomically.
	topics map[string]struct{}
	closed bool

	// callMu guards the count of handler calls in progress, which Close
	// waits to fall to zero. A count rather than an RWMutex held across
	// calls lets a handler publish to its own subscriber while Close waits.
	callMu  sync.Mutex
	idle    sync.Cond // signalled when calling falls to zero
	calling int
	closing bool // no new handler calls once set
}

// Subscribe adds topics. It does not block, so it ignores ctx. It fails
// only when the subscriber is closed.
func (s *subscriber) Subscribe(_ context.Context, topics ...string) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return fmt.Errorf("memory: subscribe: %w", chat.ErrClosed)
	}
	for _, topic := range topics {
		if _, ok := s.topics[topic]; ok {
			continue
		}
		s.topics[topic] = struct{}{}
		subs := b.topics[topic]
		if subs == nil {
			subs = make(map[*subscriber]struct{})
			b.topics[topic] = subs
		}
		subs[s] = struct{}{}
	}
	return nil
}

// Unsubscribe removes topics. It does not block, so it ignores ctx.
// Publish calls that had already started may still deliver on them.
func (s *subscriber) Unsubscribe(_ context.Context, topics ...string) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, topic := range topics {
		s.removeLocked(topic)
	}
	return nil
}

// Close removes every subscription and waits for the handler calls in
// progress to return. It must not be called from the subscriber's handler,
// which it would wait for forever.
func (s *subscriber) Close() error {
	b := s.b
	b.mu.Lock()
	for topic := range s.topics {
		s.removeLocked(topic)
	}
	s.closed = true
	delete(b.subs, s)
	b.mu.Unlock()

	s.callMu.Lock()
	defer s.callMu.Unlock()
	s.closing = true
	for s.calling > 0 {
		s.idle.Wait()
	}
	return nil
}

func (s *subscriber) removeLocked(topic string) {
	if _, ok := s.topics[topic]; !ok {
		return
	}
	delete(s.topics, topic)
	subs := s.b.topics[topic]
	delete(subs, s)
	if len(subs) == 0 {
		delete(s.b.topics, topic)
	}
}

func (s *subscriber) notify(topic string, payload []byte) {
	if !s.enter() {
		return
	}
	defer s.leave()
	s.h.HandleNotification(topic, payload)
}

func (s *subscriber) lose(topics []string) {
	if !s.enter() {
		return
	}
	defer s.leave()
	s.h.HandleLost(topics)
}

// enter reports whether the handler may be called, and if so counts the
// call as in progress until leave.
func (s *subscriber) enter() bool {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if s.closing {
		return false
	}
	s.calling++
	return true
}

func (s *subscriber) leave() {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	s.calling--
	if s.calling == 0 {
		s.idle.Broadcast()
	}
}
