package redisbroker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// reloadTimeout bounds one reload of the cluster's slot map.
const reloadTimeout = 5 * time.Second

// route says which conn serves a topic.
type route struct {
	addr string        // "" without a cluster
	node *redis.Client // the slot's master on a cluster
}

// lookup returns the route of each of names. Without a cluster every topic
// goes to the one conn. On a cluster it asks the client's slot map, once
// per slot; when that fails, the topics not yet routed are left out and
// the error says why.
func (s *subscriber) lookup(ctx context.Context, names []string) (map[string]route, error) {
	routes := make(map[string]route, len(names))
	if s.b.cluster == nil {
		for _, name := range names {
			routes[name] = route{}
		}
		return routes, nil
	}
	bySlot := make(map[int]route)
	for _, name := range names {
		channel := s.b.cfg.Prefix + name
		slot := keySlot(channel)
		r, seen := bySlot[slot]
		if !seen {
			// MasterForKey fails only when the client has no slot map
			// and cannot load one; the other slots would fail the same
			// way, each after its own attempt to load it.
			node, err := s.b.cluster.MasterForKey(ctx, channel)
			if err != nil {
				return routes, err
			}
			r = route{addr: node.Options().Addr, node: node}
			bySlot[slot] = r
		}
		routes[name] = r
	}
	return routes, nil
}

// routeLoop re-routes topics when a node refuses a subscription, drops one
// because its slot moved, or cannot be reached. It paces itself: a request
// that comes right after a pass means the cluster has not settled yet, and
// the delay before the next pass doubles.
func (s *subscriber) routeLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		select {
		case <-s.done:
			return
		case <-s.reroute:
		}
		if !s.rerouteOnce() {
			s.requestReroute()
		}
		if len(s.reroute) > 0 {
			delay = backoff(delay, s.b.cfg.MaxReconnectDelay)
		} else {
			delay = minReconnDelay
		}
		if !sleep(s.done, delay) {
			return
		}
	}
}

// rerouteOnce reloads the slot map and moves every topic to the conn of
// its slot's master, subscribing it again where it is not subscribed. A
// topic that moves is reported lost once confirmed on its new conn. It
// reports false when some topics are still without a route, or without a
// subscription on the conn they are on.
func (s *subscriber) rerouteOnce() bool {
	if s.b.cluster != nil {
		// ForEachMaster reloads the slot map before it runs; the other
		// ways to reload it (ReloadState) return before the reload ends.
		ctx, cancel := context.WithTimeout(s.ctx, reloadTimeout)
		err := s.b.cluster.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
		cancel()
		if err != nil {
			s.log.Warn("redisbroker: reload cluster slots", "err", err)
		}
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.topics))
	for name := range s.topics {
		names = append(names, name)
	}
	s.mu.Unlock()
	routes, err := s.lookup(s.ctx, names)
	if err != nil {
		s.log.Warn("redisbroker: route topics", "err", err)
	}
	s.dropReplicas(routes)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	complete := true
	removed := make(map[*conn][]*topic)
	added := make(map[*conn][]*topic)
	for _, name := range names {
		t := s.topics[name]
		if t == nil {
			continue // unsubscribed meanwhile
		}
		r, ok := routes[name]
		if !ok {
			// Without a route, a topic stays where it is; one that is
			// not subscribed there needs another pass.
			if t.conn == nil || !t.active {
				complete = false
			}
			continue
		}
		c := s.connLocked(r)
		if t.conn == c {
			if c.gen != nil && !c.gen.on(name) {
				added[c] = append(added[c], t)
			}
			continue
		}
		if old := t.conn; old != nil {
			s.log.Info("redisbroker: topic moved", "topic", name, "from", old.addr, "to", c.addr)
			delete(old.topics, name)
			if old.gen != nil && old.gen.on(name) {
				removed[old] = append(removed[old], t)
			}
		}
		s.deactivateLocked(t)
		t.conn = c
		c.topics[name] = t
		added[c] = append(added[c], t)
	}
	for c, ts := range removed {
		c.sendLocked(false, ts)
	}
	for c, ts := range added {
		if c.gen != nil {
			c.sendLocked(true, ts)
		} else {
			c.wakeUp()
		}
	}
	s.broadcastLocked()
	return complete
}

// dropReplicas removes the routes to nodes that say they are replicas (see
// isReplica). Such a route comes from a stale slot map, loaded from a node
// that has not yet heard of a failover; the topics stay unrouted until a
// later pass loads a map that names the new master.
func (s *subscriber) dropReplicas(routes map[string]route) {
	replicas := make(map[string]bool) // by node address, once per pass
	for name, r := range routes {
		if r.node == nil {
			continue
		}
		replica, checked := replicas[r.addr]
		if !checked {
			ok, err := isReplica(s.ctx, r.node)
			replica = err == nil && ok
			replicas[r.addr] = replica
			if replica {
				s.log.Info("redisbroker: the slot map names a replica as master; loading it again", "node", r.addr)
			}
		}
		if replica {
			delete(routes, name)
		}
	}
}
