package memory

import (
	"context"
	"sync"
	"time"

	"github.com/embedchat/chat"
)

var _ chat.PresenceBroker = (*Broker)(nil)

// presenceBook is the Broker's chat.PresenceBroker state: per user, the
// nodes with a connection open and when each entry expires; per node, its
// lease and its users.
type presenceBook struct {
	mu    sync.Mutex
	users map[string]*userPresence
	nodes map[string]*nodeLease
}

type userPresence struct {
	entries map[string]time.Time // node -> expiry
	seen    time.Time            // latest SetOnline or SetOffline
}

type nodeLease struct {
	expires time.Time
	users   map[string]struct{}
}

// liveAt reports whether u has an unexpired entry at now.
func (u *userPresence) liveAt(now time.Time) bool {
	for _, exp := range u.entries {
		if exp.After(now) {
			return true
		}
	}
	return false
}

// prune forgets u's expired entries. Only the calls that report u's
// transitions themselves prune: an expired entry left alone is the
// reaper's to report.
func (u *userPresence) prune(now time.Time) {
	for node, exp := range u.entries {
		if !exp.After(now) {
			delete(u.entries, node)
		}
	}
}

func (b *presenceBook) init() {
	if b.users == nil {
		b.users = make(map[string]*userPresence)
		b.nodes = make(map[string]*nodeLease)
	}
}

// SetOnline implements chat.PresenceBroker.
func (b *Broker) SetOnline(ctx context.Context, node string, users []string, ttl time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &b.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	now := time.Now()
	lease := p.nodes[node]
	if lease == nil {
		lease = &nodeLease{users: make(map[string]struct{})}
		p.nodes[node] = lease
	}
	lease.expires = now.Add(ttl)
	var came []string
	for _, id := range users {
		u := p.users[id]
		if u == nil {
			u = &userPresence{entries: make(map[string]time.Time)}
			p.users[id] = u
		}
		if !u.liveAt(now) {
			came = append(came, id)
		}
		u.prune(now)
		u.entries[node] = now.Add(ttl)
		u.seen = now
		lease.users[id] = struct{}{}
	}
	return came, nil
}

// SetOffline implements chat.PresenceBroker.
func (b *Broker) SetOffline(ctx context.Context, node string, users []string) ([]chat.Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &b.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	now := time.Now()
	var went []chat.Presence
	for _, id := range users {
		if lease := p.nodes[node]; lease != nil {
			delete(lease.users, id)
		}
		if u := p.users[id]; u != nil {
			u.seen = now
		}
		if p.leave(id, node, now) {
			seen := now.UTC()
			went = append(went, chat.Presence{UserID: id, LastSeenAt: &seen})
		}
	}
	return went, nil
}

// leave removes node's entry of user and reports whether it had one and
// the user is left with no unexpired entry.
func (p *presenceBook) leave(user, node string, now time.Time) bool {
	u := p.users[user]
	if u == nil {
		return false
	}
	if _, ok := u.entries[node]; !ok {
		return false
	}
	delete(u.entries, node)
	u.prune(now)
	return !u.liveAt(now)
}

// ExpireNodes implements chat.PresenceBroker.
func (b *Broker) ExpireNodes(ctx context.Context) ([]chat.Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &b.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	now := time.Now()
	var gone []chat.Presence
	for node, lease := range p.nodes {
		if lease.expires.After(now) {
			continue
		}
		delete(p.nodes, node)
		for id := range lease.users {
			if p.leave(id, node, now) {
				seen := p.users[id].seen.UTC()
				gone = append(gone, chat.Presence{UserID: id, LastSeenAt: &seen})
			}
		}
	}
	return gone, nil
}

// Presence implements chat.PresenceBroker.
func (b *Broker) Presence(ctx context.Context, users []string) ([]chat.Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &b.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	out := make([]chat.Presence, len(users))
	for i, id := range users {
		out[i].UserID = id
		u := p.users[id]
		if u == nil {
			continue
		}
		out[i].Online = u.liveAt(now)
		if !u.seen.IsZero() {
			seen := u.seen.UTC()
			out[i].LastSeenAt = &seen
		}
	}
	return out, nil
}
