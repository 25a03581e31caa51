//go:build unix

package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/embedchat/chat"
)

// The classes of violations.
const (
	classLost       = "lost"       // an event the connection was owed never arrived
	classDuplicated = "duplicated" // an event arrived twice, or at or below the resume position
	classReordered  = "reordered"  // an event arrived after a later one of its chat
	classLeaked     = "leaked"     // an event of a chat the user was not in
	classBehind     = "behind"     // at the end, a connection had not caught up with the Store
)

// violation is one break of the invariant, with what is needed to find it
// in the nodes' logs.
type violation struct {
	class  string
	at     time.Duration
	conn   int
	user   string
	node   int
	chat   string
	seq    int64
	n      int64 // events it covers
	detail string
}

func (v violation) String() string {
	return fmt.Sprintf("%-10s t=%-9v conn=%d user=%s node=%d chat=%.8s seq=%d n=%d: %s",
		v.class, v.at.Round(time.Millisecond), v.conn, v.user, v.node, v.chat, v.seq, v.n, v.detail)
}

// truth is a chat as the Store has it at the end: its whole event log and
// when each user was a member.
type truth struct {
	last    int64
	members map[string]bool // now
	initial map[string]bool
	events  []chat.Event // events[i].Seq == i+1
	toggles map[string][]toggle
}

type toggle struct {
	seq   int64
	added bool
}

// loadTruth reads a chat and its whole log from the Store, and derives
// the members at creation by undoing the member events.
func loadTruth(ctx context.Context, store interface {
	GetChat(context.Context, string) (chat.Chat, error)
	ListEvents(context.Context, string, int64, int) ([]chat.Event, error)
}, id string) (*truth, error) {
	c, err := store.GetChat(ctx, id)
	if err != nil {
		return nil, err
	}
	t := &truth{last: c.LastSeq, members: make(map[string]bool), initial: make(map[string]bool), toggles: make(map[string][]toggle)}
	for _, m := range c.Members {
		t.members[m.UserID] = true
		t.initial[m.UserID] = true
	}
	for after := int64(0); after < c.LastSeq; {
		evs, err := store.ListEvents(ctx, id, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return nil, fmt.Errorf("chat %s: the Store lists no events after %d, below its last seq %d", id, after, c.LastSeq)
		}
		for _, ev := range evs {
			if ev.Seq != int64(len(t.events))+1 {
				return nil, fmt.Errorf("chat %s: the Store's log has seq %d after %d", id, ev.Seq, len(t.events))
			}
			t.events = append(t.events, ev)
		}
		after = evs[len(evs)-1].Seq
	}
	for _, ev := range t.events {
		switch ev.Type {
		case chat.EventMemberAdded:
			t.toggles[ev.UserID] = append(t.toggles[ev.UserID], toggle{ev.Seq, true})
		case chat.EventMemberRemoved:
			t.toggles[ev.UserID] = append(t.toggles[ev.UserID], toggle{ev.Seq, false})
		}
	}
	for i := len(t.events) - 1; i >= 0; i-- {
		switch ev := t.events[i]; ev.Type {
		case chat.EventMemberAdded:
			delete(t.initial, ev.UserID)
		case chat.EventMemberRemoved:
			t.initial[ev.UserID] = true
		}
	}
	return t, nil
}

// memberAfter reports whether user is a member once event seq is applied.
func (t *truth) memberAfter(user string, seq int64) bool {
	in := t.initial[user]
	for _, tg := range t.toggles[user] {
		if tg.seq > seq {
			break
		}
		in = tg.added
	}
	return in
}

// owed reports whether event seq is the user's while a member: it is
// theirs if they are a member once it is applied, or it removes them.
func (t *truth) owed(user string, seq int64) bool {
	if t.memberAfter(user, seq) {
		return true
	}
	ev := t.events[seq-1]
	return ev.Type == chat.EventMemberRemoved && ev.UserID == user
}

func (t *truth) everMember(user string) bool {
	return t.initial[user] || len(t.toggles[user]) > 0
}

// addedLater returns the seqs of the user's member.added events after seq.
func (t *truth) addedLater(user string, seq int64) []int64 {
	var out []int64
	for _, tg := range t.toggles[user] {
		if tg.added && tg.seq > seq {
			out = append(out, tg.seq)
		}
	}
	return out
}

// checker judges the connections' logs against the Store's.
type checker struct {
	truths map[string]*truth
	// addStarted says when the workload asked for a member.added, by
	// chat, user and seq; an addition it did not see succeed is unknown.
	addStarted map[addKey]time.Duration

	delivered, ephemeral int64
	counts               map[string]int64
	violations           []violation
}

type addKey struct {
	chat, user string
	seq        int64
}

func newChecker(truths map[string]*truth, adds []addition) *checker {
	k := &checker{truths: truths, addStarted: make(map[addKey]time.Duration), counts: make(map[string]int64)}
	for _, a := range adds {
		k.addStarted[addKey{a.chat, a.user, a.seq}] = a.started
	}
	return k
}

func (k *checker) report(v violation) {
	k.counts[v.class] += v.n
	k.violations = append(k.violations, v)
}

// chatRun is what a connection has of one chat since its last known start:
// its resume position, a chat.created (from seq 1), or a resync or a chat
// it did not list (no known start: the first event is held to the chat's
// last_seq read over REST afterwards, its anchor).
type chatRun struct {
	active  bool
	bare    bool
	ref     int   // bare: the index of the resync record, -1 for an unlisted chat
	first   int64 // bare: the first seq received
	bound   int64 // bare: the anchor, -1 while unknown
	last    int64
	got     map[int64]bool
	missing map[int64]bool
	removed bool // the user's own member.removed arrived, and was final
	retell  bool // chat.created arrived while active: a replay from 1 may follow
}

func strictRun(pos int64) *chatRun {
	return &chatRun{active: true, ref: -1, bound: -1, last: pos, got: map[int64]bool{}, missing: map[int64]bool{}}
}

func bareRun(ref int, bound int64) *chatRun {
	return &chatRun{active: true, bare: true, ref: ref, bound: bound, got: map[int64]bool{}, missing: map[int64]bool{}}
}

// connCheck judges one connection.
type connCheck struct {
	k       *checker
	c       *connLog
	runs    map[string]*chatRun
	anchors map[string]int64 // last_seq read after resumed, for chats not yet started
}

func (k *checker) check(c *connLog) {
	cc := &connCheck{k: k, c: c, runs: make(map[string]*chatRun), anchors: make(map[string]int64)}
	for id, p := range c.listed {
		cc.runs[id] = strictRun(p)
	}
	for i, r := range c.recs {
		cc.record(i, r)
	}
	for id, st := range cc.runs {
		cc.finish(id, st, c.end)
	}
}

func (cc *connCheck) violation(class string, r record, n int64, format string, args ...any) {
	cc.k.report(violation{class: class, at: r.at, conn: cc.c.id, user: cc.c.user, node: cc.c.node,
		chat: r.chat, seq: r.seq, n: n, detail: fmt.Sprintf(format, args...)})
}

// finish counts what a run still misses as lost: the events that were the
// user's, as a member then or as history after being added back.
func (cc *connCheck) finish(id string, st *chatRun, at time.Duration) {
	t := cc.k.truths[id]
	seqs := make([]int64, 0, len(st.missing))
	for s := range st.missing {
		if t.owed(cc.c.user, s) || cc.readdedBefore(t, id, s, at) {
			seqs = append(seqs, s)
		}
	}
	clear(st.missing)
	if len(seqs) == 0 {
		return
	}
	slices.Sort(seqs)
	cc.k.report(violation{class: classLost, at: at, conn: cc.c.id, user: cc.c.user, node: cc.c.node, chat: id,
		seq: seqs[0], n: int64(len(seqs)), detail: fmt.Sprintf("never delivered on this connection: %s", seqRanges(seqs))})
}

func (cc *connCheck) record(i int, r record) {
	user := cc.c.user
	t := cc.k.truths[r.chat]
	st := cc.runs[r.chat]
	if r.isAnchor {
		switch {
		case r.ref >= 0 && st != nil && st.bare && st.ref == r.ref:
			cc.bound(st, r)
		case r.ref < 0 && (st == nil || !st.active):
			cc.anchors[r.chat] = r.anchor
		case r.ref < 0 && st.bare && st.ref < 0:
			cc.bound(st, r)
		}
		return
	}
	switch r.typ {
	case chat.EventResumed, "error":
		return
	case chat.EventTyping, chat.EventRead:
		cc.k.ephemeral++
		switch {
		case t == nil || !t.everMember(user):
			cc.violation(classLeaked, r, 1, "%s of a chat the user never belonged to", r.typ)
		case st != nil && st.removed:
			cc.violation(classLeaked, r, 1, "%s after the user's own member.removed", r.typ)
		}
		return
	case chat.EventChatCreated:
		switch {
		case t == nil || !t.everMember(user):
			cc.violation(classLeaked, r, 1, "chat.created of a chat the user never belonged to")
		case st == nil || !st.active:
			delete(cc.anchors, r.chat)
			cc.runs[r.chat] = strictRun(0)
		default:
			st.retell = true
		}
		return
	case chat.EventResync:
		switch {
		case t == nil || !t.everMember(user):
			cc.violation(classLeaked, r, 1, "resync of a chat the user never belonged to")
		case st != nil && st.removed:
			cc.violation(classLeaked, r, 1, "resync after the user's own member.removed")
		default:
			if st != nil {
				cc.finish(r.chat, st, r.at)
			}
			cc.runs[r.chat] = bareRun(i, -1)
		}
		return
	}
	if r.seq <= 0 {
		return
	}
	cc.k.delivered++
	if t == nil || r.seq > t.last {
		cc.violation(classLeaked, r, 1, "%s with a seq the Store does not have", r.typ)
		return
	}
	if st != nil && st.removed {
		cc.violation(classLeaked, r, 1, "%s after the user's own member.removed", r.typ)
		return
	}
	leaked := !t.owed(user, r.seq) && !cc.readdedBefore(t, r.chat, r.seq, r.at)
	if leaked {
		cc.violation(classLeaked, r, 1, "%s while the user was not a member", r.typ)
		if st == nil || !st.active {
			return
		}
		// On a connection that follows the chat, a leaked event still
		// shows what came before it: a missing own member.removed is
		// lost.
	}
	if st == nil || !st.active {
		bound, ok := cc.anchors[r.chat]
		if !ok {
			bound = -1
		}
		delete(cc.anchors, r.chat)
		st = bareRun(-1, bound)
		cc.runs[r.chat] = st
	}
	if st.retell && r.seq == 1 {
		// chat.created, then the chat from its first event: the
		// server had not been following it (a re-added member).
		cc.finish(r.chat, st, r.at)
		st = strictRun(0)
		cc.runs[r.chat] = st
	}
	st.retell = false
	switch exp := st.last + 1; {
	case st.bare && st.first == 0:
		st.first, st.last = r.seq, r.seq
		if st.bound >= 0 && r.seq > st.bound+1 {
			cc.violation(classLost, r, r.seq-st.bound-1, "first live event after %s is %d, but the chat was at %d when read over REST", cc.bareCause(st), r.seq, st.bound)
		}
	case r.seq == exp:
		st.last = r.seq
	case r.seq < exp && st.missing[r.seq]:
		delete(st.missing, r.seq)
		cc.violation(classReordered, r, 1, "%s arrived after seq %d", r.typ, st.last)
	case r.seq < exp:
		cc.violation(classDuplicated, r, 1, "%s again (or at or below the resume position), after seq %d", r.typ, st.last)
	default:
		for s := exp; s < r.seq; s++ {
			st.missing[s] = true
		}
		st.last = r.seq
	}
	st.got[r.seq] = true
	if r.typ == chat.EventMemberRemoved && r.user == user && len(t.addedLater(user, r.seq)) == 0 {
		cc.finish(r.chat, st, r.at)
		st.removed, st.active = true, false
	}
}

func (cc *connCheck) bareCause(st *chatRun) string {
	if st.ref >= 0 {
		return "resync"
	}
	return "resume (chat not listed)"
}

// bound applies an anchor to a bare run: its first event must come no
// later than right after the anchor.
func (cc *connCheck) bound(st *chatRun, r record) {
	if st.first == 0 {
		st.bound = r.anchor
		return
	}
	if st.first > r.anchor+1 {
		cc.violation(classLost, record{at: r.at, chat: r.chat, seq: st.first}, st.first-r.anchor-1,
			"first live event after %s is %d, but the chat was at %d when read over REST", cc.bareCause(st), st.first, r.anchor)
	}
}

// readdedBefore reports whether the user was added back to the chat after
// seq by a request that started before at: a re-added member may read the
// history, including what happened while they were out. An addition the
// workload did not see answered counts as early.
func (cc *connCheck) readdedBefore(t *truth, chatID string, seq int64, at time.Duration) bool {
	for _, added := range t.addedLater(cc.c.user, seq) {
		started, known := cc.k.addStarted[addKey{chatID, cc.c.user, added}]
		if !known || started < at {
			return true
		}
	}
	return false
}

// seqRanges writes sorted seqs compactly: 3-5,9.
func seqRanges(seqs []int64) string {
	out := ""
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if out != "" {
			out += ","
		}
		if len(out) > 200 {
			return out + "..."
		}
		if j > i {
			out += fmt.Sprintf("%d-%d", seqs[i], seqs[j])
		} else {
			out += fmt.Sprint(seqs[i])
		}
		i = j + 1
	}
	return out
}
