//go:build unix

package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// logStore is a chat's final state and log, as loadTruth reads them.
type logStore struct {
	members []string // at the end
	events  []chat.Event
}

func (l logStore) GetChat(context.Context, string) (chat.Chat, error) {
	c := chat.Chat{ID: "c", LastSeq: int64(len(l.events))}
	for _, m := range l.members {
		c.Members = append(c.Members, chat.Member{UserID: m})
	}
	return c, nil
}

func (l logStore) ListEvents(_ context.Context, _ string, after int64, limit int) ([]chat.Event, error) {
	evs := l.events[min(after, int64(len(l.events))):]
	return evs[:min(limit, len(evs))], nil
}

func msg(seq int64) chat.Event {
	return chat.Event{Type: chat.EventMessageCreated, ChatID: "c", Seq: seq}
}

func member(typ chat.EventType, seq int64, user string) chat.Event {
	return chat.Event{Type: typ, ChatID: "c", Seq: seq, UserID: user}
}

// ev is what connection "bob" receives, at a time given in ms.
func ev(ms int, e chat.Event) record {
	return record{at: time.Duration(ms) * time.Millisecond, typ: e.Type, chat: "c", seq: e.Seq, user: e.UserID}
}

func typing(ms int) record {
	return record{at: time.Duration(ms) * time.Millisecond, typ: chat.EventTyping, chat: "c", user: "alice"}
}

func anchor(ms int, lastSeq int64, ref int) record {
	return record{at: time.Duration(ms) * time.Millisecond, chat: "c", isAnchor: true, anchor: lastSeq, ref: ref}
}

func TestLoadTruthUndoesMemberEvents(t *testing.T) {
	store := logStore{members: []string{"alice", "carol"}, events: []chat.Event{
		msg(1), member(chat.EventMemberRemoved, 2, "bob"), member(chat.EventMemberAdded, 3, "carol"), msg(4),
	}}
	tr, err := loadTruth(t.Context(), store, "c")
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"alice": true, "bob": true}, tr.initial)
	assert.True(t, tr.owed("bob", 1))
	assert.True(t, tr.owed("bob", 2), "the removal is the removed member's last event")
	assert.False(t, tr.owed("bob", 4))
	assert.False(t, tr.owed("carol", 2))
	assert.True(t, tr.owed("carol", 3))
	assert.False(t, tr.everMember("dave"))
}

func TestLoadTruthRefusesAGappedLog(t *testing.T) {
	_, err := loadTruth(t.Context(), logStore{members: []string{"bob"}, events: []chat.Event{msg(1), msg(3)}}, "c")
	assert.Error(t, err)
}

// Each case is one connection of bob's against one chat's log; the
// counts are what the checker must find.
func TestCheckerClassifiesEveryViolation(t *testing.T) {
	plain := logStore{members: []string{"alice", "bob"}, events: []chat.Event{msg(1), msg(2), msg(3), msg(4)}}
	removed := logStore{members: []string{"alice"}, events: []chat.Event{msg(1), member(chat.EventMemberRemoved, 2, "bob"), msg(3)}}
	// bob is removed at 2 and added back at 4; the workload asked for
	// the addition at 100 ms.
	readded := logStore{members: []string{"alice", "bob"}, events: []chat.Event{
		msg(1), member(chat.EventMemberRemoved, 2, "bob"), msg(3), member(chat.EventMemberAdded, 4, "bob"), msg(5),
	}}
	readdedAt := []addition{{chat: "c", user: "bob", seq: 4, started: 100 * time.Millisecond}}
	stranger := logStore{members: []string{"alice"}, events: []chat.Event{msg(1)}}

	for _, tc := range []struct {
		name   string
		store  logStore
		adds   []addition
		listed map[string]int64 // resume positions; nil: chat not listed
		recs   []record
		want   map[string]int64
	}{
		{name: "clean replay and live", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, msg(2)), ev(3, msg(3)), ev(4, msg(4))}},
		{name: "resumed from a position", store: plain, listed: map[string]int64{"c": 2},
			recs: []record{ev(1, msg(3)), ev(2, msg(4))}},
		{name: "a gap is lost", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, msg(3)), ev(3, msg(4))}, want: map[string]int64{classLost: 1}},
		{name: "a gap filled late is reordered", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, msg(3)), ev(3, msg(2))}, want: map[string]int64{classReordered: 1}},
		{name: "an event twice", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, msg(2)), ev(3, msg(2))}, want: map[string]int64{classDuplicated: 1}},
		{name: "an event at the resume position", store: plain, listed: map[string]int64{"c": 2},
			recs: []record{ev(1, msg(2)), ev(2, msg(3))}, want: map[string]int64{classDuplicated: 1}},
		{name: "the first replayed event missing", store: plain, listed: map[string]int64{"c": 1},
			recs: []record{ev(1, msg(3))}, want: map[string]int64{classLost: 1}},
		{name: "nothing after the own removal", store: removed, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, member(chat.EventMemberRemoved, 2, "bob")), ev(3, msg(3)), typing(4)},
			want: map[string]int64{classLeaked: 2}},
		{name: "an event while not a member", store: removed, listed: map[string]int64{"c": 2},
			recs: []record{ev(1, msg(3))}, want: map[string]int64{classLeaked: 1}},
		{name: "the own removal skipped, the next event leaked", store: removed, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, msg(3))}, want: map[string]int64{classLeaked: 1, classLost: 1}},
		{name: "a chat left before it was followed: its events leak, and only the user's own are lost",
			store: logStore{members: []string{"alice"}, events: []chat.Event{msg(1), member(chat.EventMemberRemoved, 2, "bob"), msg(3), msg(4)}},
			recs:  []record{{typ: chat.EventChatCreated, chat: "c"}, ev(1, msg(4))},
			want:  map[string]int64{classLeaked: 1, classLost: 2}},
		{name: "a chat never joined", store: stranger, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), typing(2)}, want: map[string]int64{classLeaked: 2}},
		{name: "re-added: chat.created, then the history from seq 1", store: readded, adds: readdedAt,
			listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), ev(2, member(chat.EventMemberRemoved, 2, "bob")),
				{at: 150 * time.Millisecond, typ: chat.EventChatCreated, chat: "c"},
				ev(151, msg(1)), ev(152, member(chat.EventMemberRemoved, 2, "bob")), ev(153, msg(3)),
				ev(154, member(chat.EventMemberAdded, 4, "bob")), ev(155, msg(5))}},
		{name: "leaked before the user is added back: what it skipped is not lost",
			store: logStore{members: []string{"alice", "bob"}, events: []chat.Event{
				msg(1), member(chat.EventMemberRemoved, 2, "bob"), msg(3), msg(4), member(chat.EventMemberAdded, 5, "bob"),
			}},
			adds:   []addition{{chat: "c", user: "bob", seq: 5, started: 100 * time.Millisecond}},
			listed: map[string]int64{"c": 0},
			recs:   []record{ev(1, msg(1)), ev(2, member(chat.EventMemberRemoved, 2, "bob")), ev(3, msg(4))},
			want:   map[string]int64{classLeaked: 1}},
		{name: "re-added, but history arrives before the addition was asked for", store: readded, adds: readdedAt,
			listed: map[string]int64{"c": 0},
			recs:   []record{ev(1, msg(1)), ev(2, member(chat.EventMemberRemoved, 2, "bob")), ev(3, msg(3))},
			want:   map[string]int64{classLeaked: 1}},
		{name: "resync, then live events from the chat's end", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{{typ: chat.EventResync, chat: "c"}, anchor(2, 3, 0), ev(3, msg(4))}},
		{name: "resync, then live events from past the chat's end", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{{typ: chat.EventResync, chat: "c"}, ev(2, msg(4)), anchor(3, 1, 0)},
			want: map[string]int64{classLost: 2}},
		{name: "an unlisted chat's live events", store: plain,
			recs: []record{ev(1, msg(3)), ev(2, msg(4)), anchor(3, 2, -1)}},
		{name: "an unlisted chat's first live events lost", store: plain,
			recs: []record{anchor(1, 1, -1), ev(2, msg(4))}, want: map[string]int64{classLost: 2}},
		{name: "chat.created for a followed chat changes nothing", store: plain, listed: map[string]int64{"c": 0},
			recs: []record{ev(1, msg(1)), {typ: chat.EventChatCreated, chat: "c"}, ev(2, msg(2)), ev(3, msg(2))},
			want: map[string]int64{classDuplicated: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := loadTruth(t.Context(), tc.store, "c")
			require.NoError(t, err)
			k := newChecker(map[string]*truth{"c": tr}, tc.adds)
			k.check(&connLog{user: "bob", listed: tc.listed, recs: tc.recs})
			got := make(map[string]int64)
			for class, n := range k.counts {
				if n > 0 {
					got[class] = n
				}
			}
			if tc.want == nil {
				tc.want = map[string]int64{}
			}
			assert.Equal(t, tc.want, got, "violations: %v", k.violations)
		})
	}
}

func TestSeqRanges(t *testing.T) {
	assert.Equal(t, "3-5,9", seqRanges([]int64{3, 4, 5, 9}))
	assert.Equal(t, "1", seqRanges([]int64{1}))
}
