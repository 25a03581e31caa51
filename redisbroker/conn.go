package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
)

// maxChannelsPerCommand bounds the arguments of one SUBSCRIBE command.
const maxChannelsPerCommand = 1024

var (
	errPending    = errors.New("redisbroker: subscription pending")
	errNoRoute    = errors.New("redisbroker: no cluster node known for the topic's slot")
	errUnanswered = errors.New("redisbroker: pub/sub connection did not answer a ping")
	errOutOfStep  = errors.New("redisbroker: pub/sub reply does not match the commands sent")
	errReplica    = errors.New("redisbroker: the node is a replica; waiting for the slot map to name its master")
)

// roleTimeout bounds one ROLE query.
const roleTimeout = time.Second

// minReconnDelay is the first delay of the reconnect backoff.
const minReconnDelay = 50 * time.Millisecond

// conn is one pub/sub connection of a subscriber: the only one without a
// cluster, one per master with one. Its goroutine (run) connects while it
// has topics, and reconnects with backoff when the connection fails.
//
// go-redis's PubSub reconnects and resubscribes by itself inside Receive,
// without saying so, and on a cluster its resubscription sends channels of
// many slots in one SSUBSCRIBE, which Redis refuses. So conn never reuses a
// PubSub after any failure: each connection is a generation with a fresh
// PubSub, and every error on it ends the generation. The topics it held
// are reported lost once the next generation has confirmed them.
type conn struct {
	s    *subscriber
	addr string
	node *redis.Client // the master's client on a cluster, else nil

	// Guarded by s.mu.
	topics  map[string]*topic
	gen     *generation // the live connection, or nil
	down    bool        // the last attempt to connect failed
	failSeq uint64      // counts failed attempts to connect
	lastErr error

	wake chan struct{} // capacity 1: topics were added
}

// generation is one connection's PubSub and what has been asked of it.
type generation struct {
	ps   *redis.PubSub
	dead chan struct{} // closed when the generation ends

	// Guarded by s.mu.
	chans map[string]*chanState // by topic
	cmds  []*command            // sent, awaiting replies, oldest first

	lastRead atomic.Int64 // UnixNano of the last reply or message
	answered atomic.Bool  // something was read on this connection
}

// chanState is what a generation knows of one channel.
type chanState struct {
	on      bool // the last command sent for it was a subscribe
	pending int  // commands sent for it whose reply has not come
}

// command is one SUBSCRIBE or UNSUBSCRIBE sent. Redis answers with one
// reply per channel, in order, or with a single error.
type command struct {
	subscribe bool
	topics    []string
	next      int // index of the topic whose reply comes next
}

func newConn(s *subscriber, r route) *conn {
	return &conn{
		s:      s,
		addr:   r.addr,
		node:   r.node,
		topics: make(map[string]*topic),
		wake:   make(chan struct{}, 1),
	}
}

func (g *generation) on(topic string) bool {
	cs := g.chans[topic]
	return cs != nil && cs.on
}

func (c *conn) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) sharded() bool { return c.s.b.cluster != nil }

// run owns the conn's connections until the subscriber closes.
func (c *conn) run() {
	s := c.s
	defer s.wg.Done()
	var delay time.Duration
	for {
		if !c.waitForTopics() {
			return
		}
		g, err := c.connect()
		if err == nil {
			c.serve(g)
			if g.answered.Load() {
				delay = 0
				continue
			}
		} else {
			if isClosed(s.done) {
				return
			}
			s.log.Warn("redisbroker: connect failed", "node", c.addr, "err", err)
			// On a cluster the node may be gone for good; the routes
			// will say where its slots went.
			s.requestReroute()
		}
		delay = backoff(delay, s.b.cfg.MaxReconnectDelay)
		if !sleep(s.done, delay) {
			return
		}
	}
}

// waitForTopics blocks until the conn has topics, and reports false once
// the subscriber is closed.
func (c *conn) waitForTopics() bool {
	s := c.s
	for {
		s.mu.Lock()
		closed, want := s.closed, len(c.topics) > 0
		s.mu.Unlock()
		if closed {
			return false
		}
		if want {
			return true
		}
		select {
		case <-c.wake:
		case <-s.done:
			return false
		}
	}
}

// connect opens a connection and subscribes to every topic of the conn.
func (c *conn) connect() (*generation, error) {
	s := c.s
	s.mu.Lock()
	var ps *redis.PubSub
	if c.node != nil {
		ps = c.node.Subscribe(s.ctx)
	} else {
		ps = s.b.client.Subscribe(s.ctx)
	}
	s.mu.Unlock()

	// Subscribe without channels does no I/O; a PING makes go-redis dial,
	// so that an unreachable server shows here.
	if err := ps.Ping(s.ctx); err != nil {
		_ = ps.Close()
		s.mu.Lock()
		c.failedLocked(err)
		s.mu.Unlock()
		return nil, err
	}

	// A node that was demoted while this conn was away would accept the
	// subscriptions as a replica; see isReplica.
	if node := c.currentNode(); node != nil {
		if replica, err := isReplica(s.ctx, node); err == nil && replica {
			_ = ps.Close()
			s.mu.Lock()
			c.failedLocked(errReplica)
			s.mu.Unlock()
			return nil, errReplica
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ps.Close()
		return nil, chat.ErrClosed
	}
	g := &generation{ps: ps, dead: make(chan struct{}), chans: make(map[string]*chanState)}
	g.lastRead.Store(time.Now().UnixNano())
	c.gen, c.down = g, false
	c.sendLocked(true, topicsOf(c.topics))
	if c.gen != g {
		_ = ps.Close()
		return nil, c.lastErr
	}
	return g, nil
}

// currentNode returns the master's client on a cluster, else nil.
func (c *conn) currentNode() *redis.Client {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.node
}

// isReplica reports whether node says it is a replica. Redis 7 lets a
// replica serve SSUBSCRIBE for its master's slots without a redirection,
// so a slot map that still names a demoted master puts topics on a
// replica without an error. A subscriber there hears only what the master
// forwards over the cluster bus: nothing would tell it when that stops,
// or when the master dies. So topics are subscribed only on nodes that
// say they are masters; a node that does not answer is not judged here
// (its connection fails on its own).
func isReplica(ctx context.Context, node *redis.Client) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, roleTimeout)
	defer cancel()
	reply, err := node.Do(ctx, "ROLE").Slice()
	if err != nil {
		return false, err
	}
	if len(reply) == 0 {
		return false, errors.New("redisbroker: empty ROLE reply")
	}
	role, _ := reply[0].(string)
	return role == "slave", nil
}

// failedLocked records a failed attempt to connect.
func (c *conn) failedLocked(err error) {
	c.down = true
	c.failSeq++
	c.lastErr = err
	c.s.broadcastLocked()
}

// endLocked ends generation g, if it is still the live one. Its topics
// become inactive. Subscribe calls waiting on it keep waiting for the next
// connection, unless g never answered: then it counts as a failed attempt.
func (c *conn) endLocked(g *generation, err error) {
	if c.gen != g {
		return
	}
	c.gen = nil
	close(g.dead)
	c.lastErr = err
	if !g.answered.Load() {
		c.down = true
		c.failSeq++
	}
	for _, t := range c.topics {
		c.s.deactivateLocked(t)
	}
	c.s.broadcastLocked()
	if !errors.Is(err, chat.ErrClosed) {
		c.s.log.Warn("redisbroker: pub/sub connection lost", "node", c.addr, "topics", len(c.topics), "err", err)
	}
}

// serve reads generation g until it ends, pinging it when it is quiet.
func (c *conn) serve(g *generation) {
	s := c.s
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.read(g)
	}()

	var tick <-chan time.Time
	interval := s.b.cfg.HealthCheckInterval
	if interval > 0 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	var pingedAt int64 // UnixNano of the unanswered ping, or 0
loop:
	for {
		select {
		case <-readerDone:
			break loop
		case <-g.dead:
			break loop
		case <-s.done:
			s.mu.Lock()
			c.endLocked(g, chat.ErrClosed)
			s.mu.Unlock()
			break loop
		case now := <-tick:
			last := g.lastRead.Load()
			if pingedAt != 0 && last < pingedAt {
				s.mu.Lock()
				c.endLocked(g, errUnanswered)
				s.mu.Unlock()
				break loop
			}
			pingedAt = 0
			if now.UnixNano()-last < int64(interval) {
				continue
			}
			pingedAt = now.UnixNano()
			if err := g.ps.Ping(s.ctx); err != nil {
				s.mu.Lock()
				c.endLocked(g, err)
				s.mu.Unlock()
				break loop
			}
		}
	}
	// Closing the PubSub is what stops the reader; it is done here, outside
	// s.mu, because go-redis may hold the PubSub's lock while it redials.
	_ = g.ps.Close()
	<-readerDone
}

// read receives from g until it fails or is closed.
func (c *conn) read(g *generation) {
	s := c.s
	prefix := s.b.cfg.Prefix
	for {
		msg, err := g.ps.Receive(s.ctx)
		if err != nil {
			s.mu.Lock()
			if !c.failCommandLocked(g, err) {
				c.endLocked(g, err)
			}
			s.mu.Unlock()
			select {
			case <-g.dead:
				return
			default:
				continue
			}
		}
		g.lastRead.Store(time.Now().UnixNano())
		g.answered.Store(true)
		switch m := msg.(type) {
		case *redis.Message:
			if topic, ok := strings.CutPrefix(m.Channel, prefix); ok {
				s.deliver(topic, []byte(m.Payload))
			}
		case *redis.Subscription:
			s.mu.Lock()
			c.replyLocked(g, m)
			s.mu.Unlock()
		}
	}
}

// sendLocked writes SUBSCRIBE (or UNSUBSCRIBE) commands for ts on the live
// generation, one per slot on a cluster, where each command may only name
// channels of one slot. A failed write ends the generation.
func (c *conn) sendLocked(subscribe bool, ts []*topic) {
	g := c.gen
	if g == nil || len(ts) == 0 {
		return
	}
	for _, group := range c.group(ts) {
		names := make([]string, len(group))
		channels := make([]string, len(group))
		for i, t := range group {
			names[i], channels[i] = t.name, t.channel
			cs := g.chans[t.name]
			if cs == nil {
				cs = new(chanState)
				g.chans[t.name] = cs
			}
			cs.on = subscribe
			cs.pending++
		}
		g.cmds = append(g.cmds, &command{subscribe: subscribe, topics: names})
		var err error
		switch {
		case subscribe && c.sharded():
			err = g.ps.SSubscribe(c.s.ctx, channels...)
		case subscribe:
			err = g.ps.Subscribe(c.s.ctx, channels...)
		case c.sharded():
			err = g.ps.SUnsubscribe(c.s.ctx, channels...)
		default:
			err = g.ps.Unsubscribe(c.s.ctx, channels...)
		}
		if err != nil {
			c.endLocked(g, fmt.Errorf("write: %w", err))
			return
		}
	}
}

// group splits ts into the commands that carry them.
func (c *conn) group(ts []*topic) [][]*topic {
	var groups [][]*topic
	chunk := func(ts []*topic) {
		for len(ts) > maxChannelsPerCommand {
			groups = append(groups, ts[:maxChannelsPerCommand])
			ts = ts[maxChannelsPerCommand:]
		}
		groups = append(groups, ts)
	}
	if !c.sharded() {
		chunk(ts)
		return groups
	}
	bySlot := make(map[int][]*topic)
	var slots []int
	for _, t := range ts {
		slot := keySlot(t.channel)
		if bySlot[slot] == nil {
			slots = append(slots, slot)
		}
		bySlot[slot] = append(bySlot[slot], t)
	}
	for _, slot := range slots {
		chunk(bySlot[slot])
	}
	return groups
}

// replyLocked matches a subscribe or unsubscribe reply to the oldest
// command awaiting one. An unsubscribe that matches nothing was sent by
// the server: Redis Cluster unsubscribes a shard channel's subscribers
// when its slot moves to another node.
func (c *conn) replyLocked(g *generation, m *redis.Subscription) {
	if c.gen != g {
		return
	}
	s := c.s
	name, ok := strings.CutPrefix(m.Channel, s.b.cfg.Prefix)
	if !ok {
		return
	}
	subscribe := !strings.HasSuffix(m.Kind, "unsubscribe")
	if len(g.cmds) > 0 {
		cmd := g.cmds[0]
		if cmd.subscribe == subscribe && cmd.topics[cmd.next] == name {
			cmd.next++
			if cmd.next == len(cmd.topics) {
				g.cmds[0] = nil
				g.cmds = g.cmds[1:]
			}
			cs := g.chans[name]
			cs.pending--
			if cs.pending == 0 {
				if !cs.on {
					delete(g.chans, name)
				} else if t := c.topics[name]; t != nil && !t.active {
					s.activateLocked(t)
				}
			}
			return
		}
	}
	if subscribe {
		c.endLocked(g, fmt.Errorf("%w: %s %q", errOutOfStep, m.Kind, m.Channel))
		return
	}
	s.log.Info("redisbroker: server unsubscribed a channel", "node", c.addr, "channel", m.Channel)
	c.unservedLocked(g, name)
}

// failCommandLocked handles an error reply that refuses the oldest command
// because this node does not serve its slot (any longer, or yet): its
// topics become inactive until the routes are checked. It reports false
// for every other error, which ends the generation.
func (c *conn) failCommandLocked(g *generation, err error) bool {
	if c.gen != g || len(g.cmds) == 0 || !c.redirected(err) {
		return false
	}
	cmd := g.cmds[0]
	g.cmds[0] = nil
	g.cmds = g.cmds[1:]
	c.s.log.Info("redisbroker: command refused, checking routes", "node", c.addr, "err", err)
	for _, name := range cmd.topics[cmd.next:] {
		g.chans[name].pending--
		if cmd.subscribe {
			c.unservedLocked(g, name)
		}
	}
	return true
}

// unservedLocked records that the channel of topic name is not subscribed
// on g because the node does not serve its slot.
func (c *conn) unservedLocked(g *generation, name string) {
	if cs := g.chans[name]; cs != nil && cs.pending == 0 {
		delete(g.chans, name)
	}
	if cs := g.chans[name]; cs != nil {
		cs.on = false
	}
	if t := c.topics[name]; t != nil {
		c.s.deactivateLocked(t)
	}
	c.s.requestReroute()
}

// redirected reports whether err is a cluster redirection to another node,
// or a cluster that cannot serve the slot right now. go-redis itself
// reconnects on a MOVED to the same address, so that one ends the
// generation like any other error.
func (c *conn) redirected(err error) bool {
	var rerr redis.Error
	if !c.sharded() || !errors.As(err, &rerr) {
		return false
	}
	fields := strings.Fields(err.Error())
	if len(fields) == 0 {
		return false
	}
	switch fields[0] {
	case "MOVED", "ASK":
		return len(fields) == 3 && fields[2] != c.addr
	case "TRYAGAIN", "CLUSTERDOWN":
		return true
	}
	return false
}

// backoff returns the delay before the next attempt: doubling from
// minReconnDelay up to limit, with jitter so that the nodes of a service do
// not all reconnect at once.
func backoff(prev, limit time.Duration) time.Duration {
	d := min(max(prev*2, minReconnDelay), limit)
	return d/2 + rand.N(d/2+1)
}

// isClosed reports whether done is closed.
func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// sleep waits for d, or reports false when done closes first.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
