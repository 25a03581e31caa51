package chat

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"sync"
	"time"
)

// The publisher takes the Broker off the request path: a send, an edit or
// a typing frame hands its notification to a bounded per-node queue and
// returns, and a few goroutines owned by the hub publish from it. A Broker
// that hangs (a partition where Redis times out instead of refusing) then
// delays notifications, never answers.
//
// Topics are spread over the workers by hash, so that the notifications of
// one topic keep their order. What cannot be published now is kept for a
// retry, by kind:
//   - a stored event of a chat: only the latest per chat (highest seq); the
//     other nodes read everything before it from the Store when it arrives.
//     A typing or read notification never replaces it.
//   - a chat.created of a user topic: every one, as a set per (user, chat),
//     since each names a different chat.
//   - typing and read: nothing. They are live only; a lost one is gone.
//
// A full queue drops ephemeral notifications and moves stored ones to the
// retry set, coalescing them as above; both are counted in Service.flow.

const (
	// DefaultPublishQueueSize is the default of Config.PublishQueueSize.
	DefaultPublishQueueSize = 4096
	// publishWorkers is how many Broker publishes a node runs at once.
	publishWorkers = 4
	// publishDrainTimeout bounds the publishing of what is still queued
	// when the Service shuts down.
	publishDrainTimeout = time.Second
)

// publication is one notification for one topic.
type publication struct {
	typ     EventType
	topic   string
	payload []byte
	// seq is the event's seq for a stored chat event, 0 otherwise.
	seq int64
	// chatID names the chat of a chat.created, whose retries are kept
	// per (topic, chat); "" for the other kinds.
	chatID string
}

// retryable reports whether a failed p is worth publishing again.
func (p publication) retryable() bool { return p.seq > 0 || p.chatID != "" }

type publisher struct {
	h      *hub
	seed   maphash.Seed
	shards []*pubShard
}

type pubShard struct {
	p    *publisher
	size int
	wake chan struct{}

	mu         sync.Mutex
	queue      []publication
	busy       bool                      // a publication taken from queue is being published
	retryChats map[string]publication    // by topic: the latest stored event
	retryUsers map[[2]string]publication // by (topic, chat id)
}

func newPublisher(h *hub, size int) *publisher {
	p := &publisher{h: h, seed: maphash.MakeSeed()}
	per := max(1, size/publishWorkers)
	for range publishWorkers {
		p.shards = append(p.shards, &pubShard{
			p:          p,
			size:       per,
			wake:       make(chan struct{}, 1),
			retryChats: make(map[string]publication),
			retryUsers: make(map[[2]string]publication),
		})
	}
	return p
}

// start runs the workers on the hub's goroutines.
func (p *publisher) start() {
	for _, sh := range p.shards {
		p.h.spawn(sh.run)
	}
}

// publish queues ev for topics, encoded once, with the sender's trace
// context if any.
func (p *publisher) publish(ev Event, trace map[string]string, topics ...string) {
	payload, err := json.Marshal(envelope{Node: p.h.node, Event: ev, Trace: trace, At: time.Now().UnixMicro()})
	if err != nil {
		p.h.svc.log.Error("chat: encoding notification", "err", err)
		return
	}
	for _, topic := range topics {
		pub := publication{typ: ev.Type, topic: topic, payload: payload, seq: ev.Seq}
		if ev.Type == EventChatCreated {
			pub.chatID = ev.ChatID
		}
		p.shard(topic).enqueue(pub)
	}
}

func (p *publisher) shard(topic string) *pubShard {
	return p.shards[maphash.String(p.seed, topic)%uint64(len(p.shards))]
}

func (sh *pubShard) enqueue(pub publication) {
	sh.mu.Lock()
	if len(sh.queue) < sh.size {
		sh.queue = append(sh.queue, pub)
	} else {
		sh.dropped(pub, "publish_queue_full")
		if pub.retryable() {
			sh.keepLocked(pub)
		}
	}
	sh.mu.Unlock()
	sh.signal()
}

func (sh *pubShard) signal() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// keepLocked adds pub to the retry set, unless a later stored event of the
// same chat is there already.
func (sh *pubShard) keepLocked(pub publication) {
	if pub.chatID != "" {
		key := [2]string{pub.topic, pub.chatID}
		if _, ok := sh.retryUsers[key]; !ok && len(sh.retryUsers) >= sh.size {
			sh.dropped(pub, "publish_queue_full")
			sh.p.h.svc.log.Warn("chat: too many chat.created notifications waiting, dropping one", "topic", pub.topic, "chat_id", pub.chatID)
			return
		}
		sh.retryUsers[key] = pub
		return
	}
	if old, ok := sh.retryChats[pub.topic]; ok && old.seq >= pub.seq {
		return
	}
	sh.retryChats[pub.topic] = pub
}

// delivered forgets retries that pub, just published, makes pointless.
func (sh *pubShard) delivered(pub publication) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if pub.chatID != "" {
		delete(sh.retryUsers, [2]string{pub.topic, pub.chatID})
		return
	}
	if old, ok := sh.retryChats[pub.topic]; ok && pub.seq > 0 && old.seq <= pub.seq {
		delete(sh.retryChats, pub.topic)
	}
}

// run publishes the queue in order, and the retry set after a delay that
// grows while the Broker keeps failing.
func (sh *pubShard) run() {
	h := sh.p.h
	var retry *time.Timer
	var retryC <-chan time.Time
	attempt := 0
	defer func() {
		if retry != nil {
			retry.Stop()
		}
		sh.drain()
	}()
	for {
		select {
		case <-sh.wake:
		case <-retryC:
			retryC = nil
			if sh.publishRetries() {
				attempt = 0
			} else {
				attempt++
			}
		case <-h.ctx.Done():
			return
		}
		for {
			sh.mu.Lock()
			sh.busy = false
			if len(sh.queue) == 0 {
				sh.mu.Unlock()
				break
			}
			pub := sh.queue[0]
			sh.queue[0] = publication{}
			sh.queue = sh.queue[1:]
			sh.busy = true
			sh.mu.Unlock()
			ctx, cancel := h.ioContext()
			sh.attempt(ctx, pub)
			cancel()
		}
		sh.mu.Lock()
		pending := len(sh.retryChats) + len(sh.retryUsers)
		sh.mu.Unlock()
		if pending > 0 && retryC == nil {
			if retry == nil {
				retry = time.NewTimer(retryDelay(attempt + 1))
			} else {
				retry.Reset(retryDelay(attempt + 1))
			}
			retryC = retry.C
		}
	}
}

// attempt publishes pub once and keeps it for a retry if that fails.
func (sh *pubShard) attempt(ctx context.Context, pub publication) bool {
	if err := sh.p.h.svc.broker.Publish(ctx, pub.topic, pub.payload); err != nil {
		if !pub.retryable() {
			sh.dropped(pub, "publish_failed")
			return false
		}
		sh.p.h.svc.log.Warn("chat: publishing notification, will retry", "topic", pub.topic, "err", err)
		sh.mu.Lock()
		sh.keepLocked(pub)
		sh.mu.Unlock()
		return false
	}
	sh.delivered(pub)
	return true
}

// publishRetries publishes the retry set once and reports whether all of
// it went out.
func (sh *pubShard) publishRetries() bool {
	sh.mu.Lock()
	pending := make([]publication, 0, len(sh.retryChats)+len(sh.retryUsers))
	for _, pub := range sh.retryChats {
		pending = append(pending, pub)
	}
	for _, pub := range sh.retryUsers {
		pending = append(pending, pub)
	}
	sh.mu.Unlock()
	ok := true
	for _, pub := range pending {
		ctx, cancel := sh.p.h.ioContext()
		ok = sh.attempt(ctx, pub) && ok
		cancel()
		if sh.p.h.ctx.Err() != nil {
			return false
		}
	}
	return ok
}

// drain publishes what is still queued when the hub closes, within
// publishDrainTimeout; the rest is counted as dropped.
func (sh *pubShard) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), publishDrainTimeout)
	defer cancel()
	sh.mu.Lock()
	queue := sh.queue
	sh.queue = nil
	for _, pub := range sh.retryChats {
		queue = append(queue, pub)
	}
	for _, pub := range sh.retryUsers {
		queue = append(queue, pub)
	}
	clear(sh.retryChats)
	clear(sh.retryUsers)
	sh.mu.Unlock()
	lost := 0
	for _, pub := range queue {
		if ctx.Err() != nil || sh.p.h.svc.broker.Publish(ctx, pub.topic, pub.payload) != nil {
			sh.dropped(pub, "shutdown")
			lost++
		}
	}
	if lost > 0 {
		sh.p.h.svc.log.Warn("chat: notifications not published at shutdown", "count", lost)
	}
}

// idle reports whether nothing is queued or being published; the retry
// set does not count.
func (p *publisher) idle() bool {
	for _, sh := range p.shards {
		sh.mu.Lock()
		busy := sh.busy || len(sh.queue) > 0
		sh.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// dropped counts a notification not published as such, for FlowCounts and
// the Observer.
func (sh *pubShard) dropped(pub publication, reason string) {
	sh.p.h.svc.flow.notificationsDropped.Add(1)
	sh.p.h.svc.observe(EventDroppedObserved{Type: pub.typ, Reason: reason})
}
