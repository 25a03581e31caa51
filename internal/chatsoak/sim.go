//go:build unix

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/embedchat/chat"
)

// sim is one run: the cluster, the users' devices, what the workload
// believes about chats (to choose plausible actions; the check trusts
// only the Store), and every connection's log.
type sim struct {
	cfg   config
	cl    *cluster
	rng   *lockedRand
	http  *http.Client
	start time.Time

	users  []*device
	probes []*device // one per node, pinned to it

	mu     sync.Mutex
	chats  map[string]*chatView
	order  []string // chat ids in creation order
	probe  string   // the probe chat
	conns  []*connLog
	adds   []addition
	faults []faultResult

	counts counters
}

// chatView is the workload's belief about a chat.
type chatView struct {
	id      string
	creator string
	members map[string]bool
	sent    map[string][]int64 // sender → seqs of their messages not deleted
}

// addition is a member.added the workload caused, with when it asked for
// it: an event of the chat from before that seq reaching the added user
// earlier than the request started is a leak.
type addition struct {
	chat    string
	user    string
	seq     int64
	started time.Duration
}

// counters are the workload's tallies; they are updated atomically.
type counters struct {
	sent, sendFailed, edits, deletes, reads, typing, adds, removes, creates, disconnects,
	opErrors, retries, dialErrors, badFrames, resyncs, skipped atomic.Int64
}

func (s *sim) count(c *atomic.Int64) { c.Add(1) }

func (s *sim) since() time.Duration { return time.Since(s.start) }

func (s *sim) newConnLog(user string, nodeID int, listed map[string]int64) *connLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &connLog{id: len(s.conns), user: user, node: nodeID, start: s.since(), listed: listed}
	s.conns = append(s.conns, c)
	return c
}

// knownChats is every chat the workload has created.
func (s *sim) knownChats() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

func (s *sim) remember(c chat.Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[c.ID]; ok {
		return
	}
	v := &chatView{id: c.ID, creator: c.CreatedBy, members: make(map[string]bool), sent: make(map[string][]int64)}
	for _, m := range c.Members {
		v.members[m.UserID] = true
	}
	s.chats[c.ID] = v
	s.order = append(s.order, c.ID)
}

// createGroup creates a group over REST, retrying while nodes or backends
// are down.
func (s *sim) createGroup(ctx context.Context, creator string, members []string) (chat.Chat, error) {
	var c chat.Chat
	_, err := s.callRetrying(ctx, 30*time.Second, creator, http.MethodPost, "/chats",
		map[string]any{"kind": "group", "title": "soak", "members": members}, &c)
	if err == nil {
		s.remember(c)
	}
	return c, err
}

// setup creates the probe chat and the initial groups.
func (s *sim) setup(ctx context.Context) error {
	var probeUsers []string
	for _, d := range s.probes {
		probeUsers = append(probeUsers, d.user)
	}
	pc, err := s.createGroup(ctx, probeUsers[0], probeUsers[1:])
	if err != nil {
		return fmt.Errorf("create the probe chat: %w", err)
	}
	s.probe = pc.ID
	for i := range s.cfg.Groups {
		creator := s.users[i%len(s.users)].user
		if _, err := s.createGroup(ctx, creator, s.randomUsers(creator, 2+s.rng.IntN(max(1, len(s.users)/3)))); err != nil {
			return fmt.Errorf("create a group: %w", err)
		}
	}
	return nil
}

// randomUsers picks n workload users other than but.
func (s *sim) randomUsers(but string, n int) []string {
	var out []string
	for _, i := range s.rng.Perm(len(s.users)) {
		if u := s.users[i].user; u != but && len(out) < n {
			out = append(out, u)
		}
	}
	return out
}

// pickChat returns a random group that the workload believes user is in,
// the probe chat excluded.
func (s *sim) pickChat(user string) *chatView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*chatView
	for _, id := range s.order {
		if v := s.chats[id]; id != s.probe && v.members[user] {
			mine = append(mine, v)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	return mine[s.rng.IntN(len(mine))]
}

// workload runs actions at cfg.Rate until ctx ends, and waits for those
// still under way.
func (s *sim) workload(ctx context.Context) {
	var ops sync.WaitGroup
	defer ops.Wait()
	slots := make(chan struct{}, 64)
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.Rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			s.count(&s.counts.skipped) // every slot waits on a slow backend
			continue
		}
		ops.Add(1)
		go func() {
			defer ops.Done()
			defer func() { <-slots }()
			s.act(context.WithoutCancel(ctx))
		}()
	}
}

// act does one random thing as a random user. The weights make sends the
// bulk, with enough membership churn that removals race deliveries.
func (s *sim) act(ctx context.Context) {
	d := s.users[s.rng.IntN(len(s.users))]
	u := d.user
	r := s.rng.IntN(1000)
	if r < 5 {
		if len(s.knownChats()) < 2*s.cfg.Groups+1 {
			s.count(&s.counts.creates)
			if _, err := s.createGroup(ctx, u, s.randomUsers(u, 1+s.rng.IntN(4))); err != nil {
				s.count(&s.counts.opErrors)
			}
		}
		return
	}
	if r < 25 {
		s.count(&s.counts.disconnects)
		d.disconnect(time.Duration(s.rng.Int64N(int64(time.Second))))
		return
	}
	v := s.pickChat(u)
	if v == nil {
		return
	}
	switch {
	case r < 570:
		s.send(ctx, u, v)
	case r < 670:
		s.edit(ctx, u, v, false)
	case r < 700:
		s.edit(ctx, u, v, true)
	case r < 800:
		s.count(&s.counts.reads)
		_, err := s.callRetrying(ctx, 5*time.Second, u, http.MethodPost, "/chats/"+v.id+"/read",
			map[string]any{"seq": d.position(v.id)}, nil)
		s.noteError(v, u, err)
	case r < 910:
		if d.typing(ctx, v.id) {
			s.count(&s.counts.typing)
		}
	case r < 955:
		s.addMember(ctx, u, v)
	default:
		s.removeMember(ctx, u, v)
	}
}

// noteError counts a failed action; a 404 means the user is no longer a
// member, which the workload then believes.
func (s *sim) noteError(v *chatView, user string, err error) {
	if err == nil {
		return
	}
	s.count(&s.counts.opErrors)
	if statusOf(err) == http.StatusNotFound {
		s.mu.Lock()
		delete(v.members, user)
		s.mu.Unlock()
	}
}

func (s *sim) send(ctx context.Context, user string, v *chatView) {
	var m chat.Message
	// The same client_id on every attempt: a retry never stores twice.
	_, err := s.callRetrying(ctx, 20*time.Second, user, http.MethodPost, "/chats/"+v.id+"/messages",
		map[string]any{"text": "soak " + randomID()[:8], "client_id": randomID()}, &m)
	if err != nil {
		s.count(&s.counts.sendFailed)
		s.noteError(v, user, err)
		return
	}
	s.count(&s.counts.sent)
	s.mu.Lock()
	v.sent[user] = append(v.sent[user], m.Seq)
	s.mu.Unlock()
}

// edit edits, or deletes, one of the user's messages in v.
func (s *sim) edit(ctx context.Context, user string, v *chatView, del bool) {
	s.mu.Lock()
	mine := v.sent[user]
	if len(mine) == 0 {
		s.mu.Unlock()
		return
	}
	i := s.rng.IntN(len(mine))
	seq := mine[i]
	if del {
		v.sent[user] = slices.Delete(slices.Clone(mine), i, i+1)
	}
	s.mu.Unlock()
	path := fmt.Sprintf("/chats/%s/messages/%d", v.id, seq)
	var err error
	if del {
		s.count(&s.counts.deletes)
		_, err = s.callRetrying(ctx, 5*time.Second, user, http.MethodDelete, path, nil, nil)
	} else {
		s.count(&s.counts.edits)
		_, err = s.callRetrying(ctx, 5*time.Second, user, http.MethodPatch, path, map[string]any{"text": "edited " + randomID()[:8]}, nil)
	}
	s.noteError(v, user, err)
}

// addMember has user add someone not in v, while the group is not too big.
func (s *sim) addMember(ctx context.Context, user string, v *chatView) {
	s.mu.Lock()
	var out []string
	for _, d := range s.users {
		if !v.members[d.user] {
			out = append(out, d.user)
		}
	}
	s.mu.Unlock()
	if len(out) == 0 || len(s.users)-len(out) > len(s.users)/2 {
		return
	}
	who := out[s.rng.IntN(len(out))]
	s.count(&s.counts.adds)
	started := s.since()
	var c chat.Chat
	status, err := s.callRetrying(ctx, 5*time.Second, user, http.MethodPost, "/chats/"+v.id+"/members",
		map[string]any{"user_id": who}, &c)
	s.noteError(v, user, err)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v.members[who] = true
	if status != http.StatusCreated {
		return
	}
	for _, m := range c.Members {
		if m.UserID == who {
			s.adds = append(s.adds, addition{chat: v.id, user: who, seq: m.LastReadSeq, started: started})
		}
	}
}

// removeMember has the creator remove someone, or user leave, while the
// group keeps at least three members. Creators never leave, so that every
// group keeps a member to send its final message.
func (s *sim) removeMember(ctx context.Context, user string, v *chatView) {
	s.mu.Lock()
	var in []string
	for m, ok := range v.members {
		if ok && m != v.creator {
			in = append(in, m)
		}
	}
	creator := v.creator
	s.mu.Unlock()
	if len(in) < 3 {
		return
	}
	slices.Sort(in)
	actor, who := user, user
	if user == creator {
		who = in[s.rng.IntN(len(in))]
	}
	s.count(&s.counts.removes)
	_, err := s.callRetrying(ctx, 5*time.Second, actor, http.MethodDelete, "/chats/"+v.id+"/members/"+who, nil, nil)
	if err == nil || statusOf(err) == http.StatusNotFound {
		s.mu.Lock()
		delete(v.members, who)
		s.mu.Unlock()
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		s.count(&s.counts.opErrors)
	}
}

// lockedRand is a seeded source shared by the run's goroutines. The seed
// fixes the run's choices, not the interleavings of its goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) Int64N(n int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n)
}

func (l *lockedRand) Perm(n int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Perm(n)
}
