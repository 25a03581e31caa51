package chat

// Stats is a snapshot of one node, for host dashboards, metrics and tests.
type Stats struct {
	// Connections is the number of WebSocket connections being served,
	// including those still in their resume handshake.
	Connections int
	// Subscriptions is the number of live subscriptions: one per resumed
	// WebSocket connection, plus those made through Subscribe directly.
	Subscriptions int
	// UserSubscriptions maps each user with a subscription on this node
	// to their number of subscriptions (their connected devices).
	UserSubscriptions map[string]int
	// Streams is the number of chats this node follows for its
	// subscriptions.
	Streams int
	// BrokerTopics is the number of topics subscribed at the Broker; 0
	// without a Broker.
	BrokerTopics int
	// QueuedEvents is the number of events waiting in subscriptions'
	// queues for their readers, and MaxQueuedEvents the longest queue.
	QueuedEvents    int
	MaxQueuedEvents int
	// StreamBacklog is the number of notifications waiting for this
	// node's per-chat streams to process them.
	StreamBacklog int
	// Draining is true once Shutdown has started.
	Draining bool
}

// Stats returns a snapshot of the node. It takes each structure's lock
// briefly and does no I/O, so it is cheap enough to call on every scrape.
func (s *Service) Stats() Stats {
	st := s.hub.stats()
	st.Connections = int(s.connections.Load())
	st.Draining = s.checkReady() != nil
	return st
}

func (h *hub) stats() Stats {
	h.mu.Lock()
	st := Stats{
		Subscriptions:     len(h.subs),
		UserSubscriptions: make(map[string]int, len(h.users)),
		Streams:           len(h.streams),
		BrokerTopics:      int(h.activeTopics.Load()),
	}
	for user, set := range h.users {
		st.UserSubscriptions[user] = len(set)
	}
	subs := make([]*Subscription, 0, len(h.subs))
	for sub := range h.subs {
		subs = append(subs, sub)
	}
	streams := make([]*stream, 0, len(h.streams))
	for _, s := range h.streams {
		streams = append(streams, s)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		n := sub.queued()
		st.QueuedEvents += n
		st.MaxQueuedEvents = max(st.MaxQueuedEvents, n)
	}
	for _, s := range streams {
		s.mu.Lock()
		st.StreamBacklog += len(s.queue)
		s.mu.Unlock()
	}
	return st
}
