package storetest

import (
	"strings"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

var threadTests = []subtest{
	{"ReplyQuotesParentAndCountsInIt", testReplyQuotesParent},
	{"ListRepliesPages", testListRepliesPages},
	{"QuoteFollowsEditAndDelete", testQuoteFollowsParent},
	{"RefusedParentTakesNoSeq", testReplyRefusedParent},
	{"RetryReturnsOriginalReply", testReplyRetry},
}

// threads returns the fixture's Store as a chat.ThreadStore, or skips.
func (f *fixture) threads() chat.ThreadStore {
	f.t.Helper()
	ts, ok := f.store.(chat.ThreadStore)
	if !ok {
		f.t.Skip("the Store is no chat.ThreadStore")
	}
	return ts
}

// reply appends a reply from sender to parent at f.at(at) and returns it
// as stored, checking its quote.
func (f *fixture) reply(parent chat.Message, sender string, at int) chat.Message {
	f.t.Helper()
	f.threads()
	m := f.newMessage(parent.ChatID, sender, f.at(at))
	m.ReplyTo = parent.Seq
	got := f.appendMessage(m)
	require.Equal(f.t, parent.Seq, got.ReplyTo, "ReplyTo of the reply")
	require.Equal(f.t, &chat.Quote{Sender: parent.Sender, Text: parent.Text}, got.Quote, "Quote of a reply")
	return got
}

func (f *fixture) listReplies(chatID string, parent int64, q chat.MessageQuery) []chat.Message {
	f.t.Helper()
	ms, err := f.threads().ListReplies(f.ctx, chatID, parent, q)
	require.NoError(f.t, err, "ListReplies %s %d %+v", chatID, parent, q)
	return ms
}

// message returns message seq of chatID as ListMessages has it.
func (f *fixture) message(chatID string, seq int64) chat.Message {
	f.t.Helper()
	ms := f.listMessages(chatID, chat.MessageQuery{Forward: true, After: seq - 1, Limit: 1})
	require.Len(f.t, ms, 1, "message %d of %s", seq, chatID)
	return ms[0]
}

func requireThread(f *fixture, parent chat.Message, count int64, last chat.Message) {
	f.t.Helper()
	got := f.message(parent.ChatID, parent.Seq)
	require.Equal(f.t, count, got.ReplyCount, "ReplyCount of %d", parent.Seq)
	require.Equal(f.t, last.Seq, got.LastReplySeq, "LastReplySeq of %d", parent.Seq)
	require.NotNil(f.t, got.LastReplyAt, "LastReplyAt of %d", parent.Seq)
	requireTime(f.t, last.CreatedAt, *got.LastReplyAt, "LastReplyAt")
}

func testReplyQuotesParent(f *fixture) {
	f.threads()
	f.group("g1", f.at(0), "alice", "bob")
	long := f.newMessage("g1", "alice", f.at(1))
	long.Text = strings.Repeat("é", chat.QuoteRunes+20)
	parent := f.appendMessage(long)
	r1 := f.reply(chat.Message{ChatID: "g1", Seq: parent.Seq, Sender: "alice", Text: strings.Repeat("é", chat.QuoteRunes)}, "bob", 2)
	requireThread(f, parent, 1, r1)
	r2 := f.reply(chat.Message{ChatID: "g1", Seq: parent.Seq, Sender: "alice", Text: strings.Repeat("é", chat.QuoteRunes)}, "alice", 3)
	requireThread(f, parent, 2, r2)

	// Replies are messages of the chat: in its timeline and its log.
	ms := f.listMessages("g1", chat.MessageQuery{Limit: 10})
	require.Equal(f.t, []int64{1, 2, 3}, seqsOf(ms))
	require.Equal(f.t, parent.Seq, ms[1].ReplyTo)
	require.NotNil(f.t, ms[2].Quote)
	evs := f.listEvents("g1", 0, 10)
	require.Len(f.t, evs, 3)
	require.Equal(f.t, parent.Seq, evs[2].Message.ReplyTo, "a replayed reply names its parent")
	require.Equal(f.t, int64(2), evs[0].Message.ReplyCount, "a replayed parent shows its thread as it is now")
	require.Equal(f.t, parent.Seq, f.getChat("g1").LastMessage.ReplyTo)
	// A message without replies has no thread.
	require.Zero(f.t, f.message("g1", r1.Seq).ReplyCount)
	require.Nil(f.t, f.message("g1", r1.Seq).LastReplyAt)
	require.Nil(f.t, f.message("g1", parent.Seq).Quote, "a message that replies to nothing quotes nothing")
}

func testListRepliesPages(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	p := f.send("g1", "alice", f.at(1))
	other := f.send("g1", "alice", f.at(2))
	var replies []chat.Message
	for i := range 5 {
		replies = append(replies, f.reply(p, "bob", 3+2*i))
		f.reply(other, "alice", 4+2*i)
	}
	requireMessages(f.t, replies, f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 10}))
	requireMessages(f.t, replies[3:], f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 2}))
	requireMessages(f.t, replies[1:3], f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 2, Before: replies[3].Seq}))
	requireMessages(f.t, replies[:2], f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 2, Forward: true}))
	requireMessages(f.t, replies[2:4], f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 2, Forward: true, After: replies[1].Seq}))
	require.Empty(f.t, f.listReplies("g1", replies[0].Seq, chat.MessageQuery{Limit: 10}), "a reply without replies")
	require.Empty(f.t, f.listReplies("missing", 1, chat.MessageQuery{Limit: 10}))
	requireThread(f, p, 5, replies[4])
}

func testQuoteFollowsParent(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	p := f.send("g1", "alice", f.at(1))
	r := f.reply(p, "bob", 2)
	f.edit(p, "edited parent", f.at(3))
	require.Equal(f.t, &chat.Quote{Sender: "alice", Text: "edited parent"}, f.message("g1", r.Seq).Quote)

	// A deleted parent leaves its thread readable; the quote says it is gone.
	f.deleteMessage(f.message("g1", p.Seq), f.at(4))
	require.Equal(f.t, &chat.Quote{Sender: "alice", Deleted: true}, f.message("g1", r.Seq).Quote)
	replies := f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 10})
	require.Equal(f.t, []int64{r.Seq}, seqsOf(replies))
	require.Equal(f.t, &chat.Quote{Sender: "alice", Deleted: true}, replies[0].Quote)
	requireThread(f, p, 1, r)

	// A deleted reply stays in its thread, as a tombstone, and counts.
	f.deleteMessage(r, f.at(5))
	replies = f.listReplies("g1", p.Seq, chat.MessageQuery{Limit: 10})
	require.True(f.t, replies[0].Deleted)
	requireThread(f, p, 1, r)
}

func testReplyRefusedParent(f *fixture) {
	f.threads()
	f.group("g1", f.at(0), "alice", "bob")
	p := f.send("g1", "alice", f.at(1))
	f.addMember("g1", "alice", "carol", f.at(2))
	f.deleteMessage(p, f.at(3))
	before := f.snapshot("g1")
	for _, c := range []struct {
		replyTo int64
		want    error
	}{{99, chat.ErrInvalid}, {2, chat.ErrInvalid}, {p.Seq, chat.ErrConflict}} {
		m := f.newMessage("g1", "bob", f.at(4))
		m.ReplyTo = c.replyTo
		_, _, err := f.store.AppendMessage(f.ctx, m)
		require.ErrorIs(f.t, err, c.want, "a reply to %d", c.replyTo)
	}
	f.requireUnchanged(before, "refused replies")
}

func testReplyRetry(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	p := f.send("g1", "alice", f.at(1))
	m := f.newMessage("g1", "bob", f.at(2))
	m.ReplyTo, m.ClientID = p.Seq, "k1"
	r := f.appendMessage(m)
	// The retry finds the original even once its parent is deleted.
	f.deleteMessage(p, f.at(3))
	got, created, err := f.store.AppendMessage(f.ctx, m)
	require.NoError(f.t, err)
	require.False(f.t, created)
	require.Equal(f.t, r.Seq, got.Seq)
	require.Equal(f.t, p.Seq, got.ReplyTo)
	require.Equal(f.t, &chat.Quote{Sender: "alice", Deleted: true}, got.Quote)
	requireThread(f, p, 1, r)
}
