package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

var mentionTests = []subtest{
	{"StoredAndReturned", testMentionsStored},
	{"NonMemberIsInvalid", testMentionNonMember},
	{"UnreadMentionsFollowMarkerAndDeletes", testUnreadMentions},
	{"UnreadMentionsLeaveOutOtherIDs", testUnreadMentionsOtherIDs},
}

// mentions returns the fixture's Store as a chat.MentionStore, or skips.
func (f *fixture) mentions() chat.MentionStore {
	f.t.Helper()
	ms, ok := f.store.(chat.MentionStore)
	if !ok {
		f.t.Skip("the Store is no chat.MentionStore")
	}
	return ms
}

// mention appends a message from sender at f.at(at) mentioning users,
// sorted, and returns it as stored.
func (f *fixture) mention(chatID, sender string, at int, users ...string) chat.Message {
	f.t.Helper()
	m := f.newMessage(chatID, sender, f.at(at))
	m.Mentions = users
	got := f.appendMessage(m)
	require.Equal(f.t, users, got.Mentions, "Mentions of the appended message")
	return got
}

func (f *fixture) unreadMentions(userID string, chatIDs ...string) map[string]int64 {
	f.t.Helper()
	counts, err := f.mentions().UnreadMentions(f.ctx, userID, chatIDs)
	require.NoError(f.t, err, "UnreadMentions %s %v", userID, chatIDs)
	return counts
}

func testMentionsStored(f *fixture) {
	f.mentions()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	m1 := f.mention("g1", "alice", 1, "bob", "carol")
	m2 := f.send("g1", "bob", f.at(2))
	ms := f.listMessages("g1", chat.MessageQuery{Limit: 10})
	require.Equal(f.t, []string{"bob", "carol"}, ms[0].Mentions)
	require.Empty(f.t, ms[1].Mentions, "message %d mentions nobody", m2.Seq)
	evs := f.listEvents("g1", 0, 10)
	require.Equal(f.t, []string{"bob", "carol"}, evs[0].Message.Mentions, "replayed mentions")
	f.edit(m1, "edited", f.at(3))
	require.Equal(f.t, []string{"bob", "carol"}, f.listMessages("g1", chat.MessageQuery{Limit: 1, Forward: true})[0].Mentions, "an edit keeps mentions")
}

func testMentionNonMember(f *fixture) {
	f.mentions()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.removeMember("g1", "carol", "carol", f.at(1))
	before := f.snapshot("g1")
	for _, users := range [][]string{{"dave"}, {"bob", "carol"}} {
		m := f.newMessage("g1", "alice", f.at(2))
		m.Mentions = users
		_, _, err := f.store.AppendMessage(f.ctx, m)
		require.ErrorIs(f.t, err, chat.ErrInvalid, "mentioning %v", users)
	}
	f.requireUnchanged(before, "refused mentions")
}

func testUnreadMentions(f *fixture) {
	f.mentions()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.mention("g1", "alice", 1, "bob")
	f.send("g1", "alice", f.at(2))
	m3 := f.mention("g1", "carol", 3, "bob", "carol")
	f.mention("g1", "bob", 4, "bob") // a self-mention never counts
	m5 := f.mention("g1", "alice", 5, "bob")
	require.Equal(f.t, map[string]int64{"g1": 3}, f.unreadMentions("bob", "g1"))
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadMentions("carol", "g1"), "carol mentioned herself only")
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadMentions("alice", "g1"))

	f.markRead("g1", "bob", 1)
	require.Equal(f.t, map[string]int64{"g1": 2}, f.unreadMentions("bob", "g1"))
	f.deleteMessage(m3, f.at(6))
	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadMentions("bob", "g1"), "a deleted mention is not unread")
	f.markRead("g1", "bob", m5.Seq-1)
	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadMentions("bob", "g1"))
	f.markRead("g1", "bob", 100)
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadMentions("bob", "g1"))
	f.mention("g1", "alice", 7, "bob")
	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadMentions("bob", "g1"))
}

func testUnreadMentionsOtherIDs(f *fixture) {
	f.mentions()
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "alice", "carol")
	f.mention("g1", "alice", 1, "bob")
	counts := f.unreadMentions("bob", "g1", "g2", "missing")
	require.Equal(f.t, int64(1), counts["g1"])
	require.Zero(f.t, counts["g2"], "bob is no member of g2")
	require.Zero(f.t, counts["missing"])
}
