package storetest

import (
	"fmt"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

var reactionTests = []subtest{
	{"AddIsNextEventWithCount", testReactAdds},
	{"RepeatChangesNothing", testReactRepeat},
	{"RemoveDropsEmptyEmoji", testReactRemove},
	{"DistinctEmojisAreBounded", testReactBound},
	{"RefusalsTakeNoSeq", testReactRefusals},
	{"ConcurrentReactionsCountExactly", testReactConcurrent},
}

// reactor returns the fixture's Store as a chat.Reactor, or skips.
func (f *fixture) reactor() chat.Reactor {
	f.t.Helper()
	r, ok := f.store.(chat.Reactor)
	if !ok {
		f.t.Skip("the Store is no chat.Reactor")
	}
	return r
}

func reactionEdit(m chat.Message, user, emoji string, remove bool) chat.ReactionEdit {
	return chat.ReactionEdit{ChatID: m.ChatID, Seq: m.Seq, UserID: user, Emoji: emoji, Remove: remove,
		MaxReactions: chat.DefaultMaxReactions}
}

// react runs r at f.at(at), which must change something, checks the event
// it returns and the chat it leaves, and returns the event.
func (f *fixture) react(r chat.ReactionEdit, at int, wantCount int64) chat.Event {
	f.t.Helper()
	r.At = f.at(at)
	before := f.getChat(r.ChatID)
	ev, changed, err := f.reactor().React(f.ctx, r)
	require.NoError(f.t, err, "React %+v", r)
	require.True(f.t, changed, "React %+v: changed", r)
	want := reactionEvent(r, before.LastSeq+1, wantCount)
	requireEvent(f.t, want, ev)
	after := f.getChat(r.ChatID)
	require.Equal(f.t, before.LastSeq+1, after.LastSeq, "LastSeq after React %+v", r)
	requireTime(f.t, r.At, after.LastActivityAt, "LastActivityAt after React")
	return want
}

func reactionEvent(r chat.ReactionEdit, seq, count int64) chat.Event {
	typ := chat.EventReactionAdded
	if r.Remove {
		typ = chat.EventReactionRemoved
	}
	return chat.Event{Type: typ, ChatID: r.ChatID, Seq: seq, UserID: r.UserID,
		Reaction: &chat.ReactionEvent{MessageSeq: r.Seq, Emoji: r.Emoji, Count: count}}
}

// requireReactions checks the reaction counts of message seq of chatID as
// ListMessages returns it.
func (f *fixture) requireReactions(chatID string, seq int64, want ...chat.Reaction) {
	f.t.Helper()
	ms := f.listMessages(chatID, chat.MessageQuery{Forward: true, After: seq - 1, Limit: 1})
	require.Len(f.t, ms, 1, "message %d", seq)
	if len(want) == 0 {
		require.Empty(f.t, ms[0].Reactions, "Reactions of message %d", seq)
		return
	}
	require.Equal(f.t, want, ms[0].Reactions, "Reactions of message %d", seq)
}

func testReactAdds(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	m1 := f.send("g1", "alice", f.at(1))
	m2 := f.send("g1", "bob", f.at(2))

	e3 := f.react(reactionEdit(m1, "bob", "👍", false), 3, 1)
	e4 := f.react(reactionEdit(m1, "carol", "👍", false), 4, 2)
	e5 := f.react(reactionEdit(m1, "alice", "🎉", false), 5, 1)
	e6 := f.react(reactionEdit(m2, "alice", "👍", false), 6, 1)

	// Counts in the order each emoji was first used; Me is the Service's.
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "👍", Count: 2}, chat.Reaction{Emoji: "🎉", Count: 1})
	f.requireReactions("g1", m2.Seq, chat.Reaction{Emoji: "👍", Count: 1})
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), e3, e4, e5, e6)
	// Replayed, the message.created event carries the counts as they are now.
	evs := f.listEvents("g1", 0, 1)
	require.Equal(f.t, []chat.Reaction{{Emoji: "👍", Count: 2}, {Emoji: "🎉", Count: 1}}, evs[0].Message.Reactions)
	// So does the chat's last message.
	require.Equal(f.t, []chat.Reaction{{Emoji: "👍", Count: 1}}, f.getChat("g1").LastMessage.Reactions)
	// Reactions are no messages: unread counts ignore them.
	require.Equal(f.t, map[string]int64{"g1": 2}, f.unreadCounts("carol", "g1"))

	mine, err := f.reactor().UserReactions(f.ctx, "g1", "alice", []int64{m1.Seq, m2.Seq, 99})
	require.NoError(f.t, err)
	require.Equal(f.t, map[int64][]string{m1.Seq: {"🎉"}, m2.Seq: {"👍"}}, mine)
	mine, err = f.reactor().UserReactions(f.ctx, "g1", "carol", []int64{m2.Seq})
	require.NoError(f.t, err)
	require.Empty(f.t, mine, "carol reacted to nothing of %d", m2.Seq)
}

func testReactRepeat(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.send("g1", "alice", f.at(1))
	f.react(reactionEdit(m1, "bob", "👍", false), 2, 1)
	before := f.snapshot("g1")

	for _, r := range []chat.ReactionEdit{
		reactionEdit(m1, "bob", "👍", false),   // already there
		reactionEdit(m1, "alice", "👍", true),  // alice has none
		reactionEdit(m1, "alice", "❤️", true), // nobody has it
	} {
		r.At = f.at(5)
		ev, changed, err := f.reactor().React(f.ctx, r)
		require.NoError(f.t, err, "React %+v", r)
		require.False(f.t, changed, "React %+v must change nothing", r)
		require.Zero(f.t, ev.Seq, "React %+v: an unchanged reaction has no seq", r)
		require.NotNil(f.t, ev.Reaction)
		want := int64(1)
		if r.Emoji != "👍" {
			want = 0
		}
		require.Equal(f.t, want, ev.Reaction.Count, "React %+v: the current count", r)
	}
	f.requireUnchanged(before, "reactions that change nothing")
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "👍", Count: 1})
}

func testReactRemove(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.send("g1", "alice", f.at(1))
	e2 := f.react(reactionEdit(m1, "bob", "👍", false), 2, 1)
	e3 := f.react(reactionEdit(m1, "alice", "👍", false), 3, 2)
	e4 := f.react(reactionEdit(m1, "alice", "🎉", false), 4, 1)
	e5 := f.react(reactionEdit(m1, "bob", "👍", true), 5, 1)
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "👍", Count: 1}, chat.Reaction{Emoji: "🎉", Count: 1})
	e6 := f.react(reactionEdit(m1, "alice", "👍", true), 6, 0)
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "🎉", Count: 1})
	// An emoji that comes back goes last.
	e7 := f.react(reactionEdit(m1, "bob", "👍", false), 7, 1)
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "🎉", Count: 1}, chat.Reaction{Emoji: "👍", Count: 1})
	f.requireLog("g1", createdEvent(m1), e2, e3, e4, e5, e6, e7)

	mine, err := f.reactor().UserReactions(f.ctx, "g1", "alice", []int64{m1.Seq})
	require.NoError(f.t, err)
	require.Equal(f.t, map[int64][]string{m1.Seq: {"🎉"}}, mine)
}

func testReactBound(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.send("g1", "alice", f.at(1))
	bounded := func(user, emoji string) chat.ReactionEdit {
		r := reactionEdit(m1, user, emoji, false)
		r.MaxReactions = 2
		return r
	}
	f.react(bounded("alice", "a"), 2, 1)
	f.react(bounded("alice", "b"), 3, 1)
	before := f.snapshot("g1")
	r := bounded("bob", "c")
	r.At = f.at(4)
	_, _, err := f.reactor().React(f.ctx, r)
	require.ErrorIs(f.t, err, chat.ErrInvalid, "a third emoji on a message bounded to 2")
	f.requireUnchanged(before, "reactions that change nothing")
	// Emojis the message has are still open to everyone.
	f.react(bounded("bob", "a"), 5, 2)
}

func testReactRefusals(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "dave")
	m1 := f.send("g1", "alice", f.at(1))
	m2 := f.send("g1", "alice", f.at(2))
	f.deleteMessage(m2, f.at(3))
	before := f.snapshot("g1")

	for _, c := range []struct {
		r    chat.ReactionEdit
		want error
	}{
		{chat.ReactionEdit{ChatID: "missing", Seq: 1, UserID: "alice", Emoji: "👍"}, chat.ErrNotFound},
		{reactionEdit(m1, "dave", "👍", false), chat.ErrNotFound},
		{chat.ReactionEdit{ChatID: "g1", Seq: 99, UserID: "alice", Emoji: "👍"}, chat.ErrNotFound},
		{chat.ReactionEdit{ChatID: "g1", Seq: 3, UserID: "alice", Emoji: "👍"}, chat.ErrNotFound}, // an event, no message
		{reactionEdit(m2, "bob", "👍", false), chat.ErrConflict},
		{reactionEdit(m2, "bob", "👍", true), chat.ErrConflict},
	} {
		c.r.At, c.r.MaxReactions = f.at(4), chat.DefaultMaxReactions
		_, _, err := f.reactor().React(f.ctx, c.r)
		require.ErrorIs(f.t, err, c.want, "React %+v", c.r)
	}
	f.requireUnchanged(before, "reactions that change nothing")
}

func testReactConcurrent(f *fixture) {
	const users = 16
	members := []string{"alice"}
	for i := range users {
		members = append(members, fmt.Sprintf("u%02d", i))
	}
	f.group("g1", f.at(0), members...)
	m1 := f.send("g1", "alice", f.at(1))
	var wg sync.WaitGroup
	errs := make(chan error, 2*users)
	for _, u := range members[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, remove := range []bool{false, true, false} {
				r := reactionEdit(m1, u, "👍", remove)
				r.At = f.at(2)
				if _, _, err := f.reactor().React(f.ctx, r); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(f.t, err)
	}
	f.requireReactions("g1", m1.Seq, chat.Reaction{Emoji: "👍", Count: users})
	require.Equal(f.t, int64(1+3*users), f.requireGapFree("g1"))
	// Replaying the reaction events in order ends at the current count.
	var count int64
	for _, ev := range f.listEvents("g1", 1, 3*users) {
		count = ev.Reaction.Count
	}
	require.Equal(f.t, int64(users), count, "count of the last reaction event")
}
