package chat

import (
	"sync"
	"sync/atomic"
	"time"
)

// flowCounts counts what the Service dropped or cut short to keep one
// slow party from holding up the others. Metrics collectors read them
// through Service.FlowCounts.
type flowCounts struct {
	// notificationsDropped counts Broker notifications not published as
	// such: typing and read ones dropped on a full publish queue or a
	// failed publish, stored ones coalesced into a later retry.
	notificationsDropped atomic.Int64
	// ephemeralDropped counts typing and read events a subscription did
	// not take: its queue of them was full, or it was resuming.
	ephemeralDropped atomic.Int64
	// typingThrottled counts typing signals not fanned out because the
	// user's previous one in the chat was too recent.
	typingThrottled atomic.Int64
	// forcedResyncs counts chats a subscription answered with resync
	// because too many live events arrived while it was replaying.
	forcedResyncs atomic.Int64
	// closes counts the close codes the WebSocket handler sent.
	closesMu sync.Mutex
	closes   map[int]int64
}

// FlowCounts says how often a Service shed load to protect its other
// users, since it started. Each count is monotonic.
type FlowCounts struct {
	// NotificationsDropped counts Broker notifications not published as
	// such: typing and read ones dropped (a full publish queue, a failed
	// publish) and stored ones folded into a later retry of their chat.
	// Other nodes recover stored events from the Store.
	NotificationsDropped int64
	// EphemeralDropped counts typing and read events not delivered to a
	// subscription: its queue of them was full, or it was resuming.
	EphemeralDropped int64
	// TypingThrottled counts typing signals not fanned out because the
	// same user's previous one in the chat was under
	// Config.TypingInterval old.
	TypingThrottled int64
	// ForcedResyncs counts resync events sent instead of events that
	// arrived while a subscription was still replaying and holding too
	// many of them.
	ForcedResyncs int64
	// Closes maps each close code the WebSocket handler sent (when the
	// client closed first, the code it answered with) to how many
	// connections got it.
	Closes map[int]int64
}

func (f *flowCounts) countClose(code int) {
	f.closesMu.Lock()
	defer f.closesMu.Unlock()
	if f.closes == nil {
		f.closes = make(map[int]int64)
	}
	f.closes[code]++
}

// FlowCounts returns the Service's load-shedding counters, for metrics.
func (s *Service) FlowCounts() FlowCounts {
	s.flow.closesMu.Lock()
	closes := make(map[int]int64, len(s.flow.closes))
	for code, n := range s.flow.closes {
		closes[code] = n
	}
	s.flow.closesMu.Unlock()
	return FlowCounts{
		NotificationsDropped: s.flow.notificationsDropped.Load(),
		EphemeralDropped:     s.flow.ephemeralDropped.Load(),
		TypingThrottled:      s.flow.typingThrottled.Load(),
		ForcedResyncs:        s.flow.forcedResyncs.Load(),
		Closes:               closes,
	}
}

// DefaultTypingInterval is the default of Config.TypingInterval.
const DefaultTypingInterval = 2 * time.Second

// typingThrottle lets one typing signal per (user, chat) through per
// interval. It forgets pairs idle for an interval, so it holds only the
// users typing right now.
type typingThrottle struct {
	interval time.Duration // <= 0: no throttle

	mu    sync.Mutex
	last  map[[2]string]time.Time
	swept time.Time
}

func (t *typingThrottle) allow(now time.Time, userID, chatID string) bool {
	if t.interval <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.swept) >= t.interval {
		for k, at := range t.last {
			if now.Sub(at) >= t.interval {
				delete(t.last, k)
			}
		}
		t.swept = now
	}
	key := [2]string{userID, chatID}
	if at, ok := t.last[key]; ok && now.Sub(at) < t.interval {
		return false
	}
	if t.last == nil {
		t.last = make(map[[2]string]time.Time)
	}
	t.last[key] = now
	return true
}
