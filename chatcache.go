package chat

import (
	"context"
	"sync"
)

// chatCacheSize bounds the chats a node keeps for announcements. An entry
// is needed only while one announcement reaches the node's subscriptions,
// so a few recent chats are enough.
const chatCacheSize = 64

// chatCache gives a node's subscriptions the chat a chat.created
// announcement is about. Announcements carry ids only, since a group's
// member list would be copied to every member's topic; so the first
// subscription of the node that needs the chat reads it from the Store, and
// every other one gets that copy, waiting for the read if it is under way.
//
// An announcement says how recent the chat must be (its LastSeq at the
// time: 0 for a new chat, the member.added seq for an addition), so an
// entry older than that is read again.
type chatCache struct {
	h *hub

	mu      sync.Mutex
	entries map[string]*chatEntry
	order   []string // entry ids, oldest first
}

type chatEntry struct {
	done chan struct{} // closed when chat and err are set
	chat Chat
	err  error
}

// put records c, as its node has it right after creating or changing it.
func (cc *chatCache) put(c Chat) {
	e := &chatEntry{done: make(chan struct{}), chat: copyChat(c)}
	close(e.done)
	cc.mu.Lock()
	cc.setLocked(c.ID, e)
	cc.mu.Unlock()
}

// get returns chat chatID with a LastSeq of at least atLeast. The chat is
// shared: callers must not change it.
func (cc *chatCache) get(ctx context.Context, chatID string, atLeast int64) (Chat, error) {
	for {
		cc.mu.Lock()
		e := cc.entries[chatID]
		reader := false
		if e == nil || e.stale(atLeast) {
			e = &chatEntry{done: make(chan struct{})}
			cc.setLocked(chatID, e)
			reader = true
		}
		cc.mu.Unlock()
		if reader {
			cc.read(chatID, e)
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return Chat{}, ctx.Err()
		}
		if e.err != nil {
			return Chat{}, e.err
		}
		if reader || e.chat.LastSeq >= atLeast {
			return e.chat, nil
		}
		// Another caller's read began before the change this caller
		// knows of: read again.
	}
}

// stale reports whether e, if done, cannot serve a caller that needs
// atLeast; a read under way is waited for.
func (e *chatEntry) stale(atLeast int64) bool {
	select {
	case <-e.done:
		return e.err != nil || e.chat.LastSeq < atLeast
	default:
		return false
	}
}

// read fills e from the Store. It runs on the hub's context, not the
// caller's, because others may be waiting for it.
func (cc *chatCache) read(chatID string, e *chatEntry) {
	ctx, cancel := cc.h.ioContext()
	defer cancel()
	e.chat, e.err = cc.h.svc.store.GetChat(ctx, chatID)
	close(e.done)
}

func (cc *chatCache) setLocked(chatID string, e *chatEntry) {
	if cc.entries == nil {
		cc.entries = make(map[string]*chatEntry)
	}
	if _, ok := cc.entries[chatID]; !ok {
		cc.order = append(cc.order, chatID)
	}
	cc.entries[chatID] = e
	for len(cc.order) > chatCacheSize {
		delete(cc.entries, cc.order[0])
		cc.order = cc.order[1:]
	}
}

// copyChat returns c with its own members, so that decorating one copy
// for a reader never shows in another.
func copyChat(c Chat) Chat {
	c.Members = append([]Member(nil), c.Members...)
	if c.LastMessage != nil {
		m := *c.LastMessage
		c.LastMessage = &m
	}
	return c
}
