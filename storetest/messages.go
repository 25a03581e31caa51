package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testAppendAssignsSeqs(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	g2 := f.group("g2", f.at(0), "alice", "bob")
	var last chat.Message
	for i, sender := range []string{"alice", "bob", "alice"} {
		last = f.send("g1", sender, f.at(i+1))
		require.Equal(f.t, int64(i+1), last.Seq, "seq of message %d", i+1)
		requireChat(f.t, afterSend(g1, last), f.getChat("g1"))
		require.Equal(f.t, map[string]int64{"g1": last.Seq}, f.lastSeqs("g1"))
	}

	// Each chat has its own sequence.
	m := f.send("g2", "bob", f.at(10))
	require.Equal(f.t, int64(1), m.Seq, "seq of the first message of another chat")
	requireChat(f.t, afterSend(g2, m), f.getChat("g2"))
	requireChat(f.t, afterSend(g1, last), f.getChat("g1"))
}

func testAppendStoresFields(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	inputs := []chat.Message{{
		Sender:    "alice",
		Text:      "plain, without metadata",
		CreatedAt: f.start.Truncate(time.Second).Add(654321 * time.Microsecond),
	}, {
		Sender:    "bob",
		Text:      "Ünïcode 👋\nsecond line\t<b>&\"quoted\"</b>",
		ClientID:  "client-1",
		Metadata:  json.RawMessage(`{"b": [1, 2.5, "x"], "a": {"nested": true, "none": null}, "emoji": "👋"}`),
		CreatedAt: f.at(1),
	}, {
		Sender:    "alice",
		Text:      "empty metadata object",
		Metadata:  json.RawMessage(`{}`),
		CreatedAt: f.at(2),
	}}
	var sent []chat.Message
	for _, m := range inputs {
		m.ChatID = "g1"
		sent = append(sent, f.appendMessage(m))
	}
	requireMessages(f.t, sent, f.listMessages("g1", chat.MessageQuery{Limit: 10}))
	requireEvents(f.t, sent, f.listEvents("g1", 0, 10))
}

func testAppendMissingChat(f *fixture) {
	f.group("g1", f.at(0), "alice")
	_, _, err := f.store.AppendMessage(f.ctx, f.newMessage("g2", "alice", f.at(1)))
	requireNotFound(f.t, err, "AppendMessage to a missing chat")
	require.Empty(f.t, f.listMessages("g2", chat.MessageQuery{Limit: 10}))
}

func testAppendNonMember(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "carol")
	_, _, err := f.store.AppendMessage(f.ctx, f.newMessage("g1", "carol", f.at(1)))
	requireNotFound(f.t, err, "AppendMessage from a user who is not a member")
	requireChat(f.t, g1, f.getChat("g1"))
	require.Empty(f.t, f.listEvents("g1", 0, 10))
}

func testAppendRetryReturnsOriginal(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	m := f.newMessage("g1", "alice", f.at(1))
	m.ClientID = "k1"
	m.Metadata = json.RawMessage(`{"attempt": 1}`)
	original := f.appendMessage(m)

	// A retry may differ in everything but the key; the original wins.
	retry := m
	retry.Text = "retried"
	retry.Metadata = nil
	retry.CreatedAt = f.at(5)
	got, created, err := f.store.AppendMessage(f.ctx, retry)
	require.NoError(f.t, err)
	require.False(f.t, created, "a retry with the same client id must not create a message")
	requireMessage(f.t, original, got)
	requireChat(f.t, afterSend(g1, original), f.getChat("g1"))
	requireEvents(f.t, []chat.Message{original}, f.listEvents("g1", 0, 10))

	next := f.send("g1", "alice", f.at(6))
	require.Equal(f.t, int64(2), next.Seq, "a retry must not consume a seq")
}

func testAppendClientIDScope(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "alice", "bob")
	send := func(chatID, sender string, at time.Time) chat.Message {
		m := f.newMessage(chatID, sender, at)
		m.ClientID = "k1"
		return f.appendMessage(m)
	}
	first := send("g1", "alice", f.at(1))
	require.Equal(f.t, int64(2), send("g1", "bob", f.at(2)).Seq, "same client id from another sender")
	require.Equal(f.t, int64(1), send("g2", "alice", f.at(3)).Seq, "same client id in another chat")

	retry := f.newMessage("g1", "alice", f.at(4))
	retry.ClientID = "k1"
	got, created, err := f.store.AppendMessage(f.ctx, retry)
	require.NoError(f.t, err)
	require.False(f.t, created)
	requireMessage(f.t, first, got)
}

func testAppendEmptyClientID(f *fixture) {
	f.group("g1", f.at(0), "alice")
	m := f.newMessage("g1", "alice", f.at(1))
	a := f.appendMessage(m)
	b := f.appendMessage(m)
	require.Equal(f.t, []int64{1, 2}, []int64{a.Seq, b.Seq}, "identical messages without a client id are two messages")
}

func testAppendConcurrentSends(f *fixture) {
	const writers, perWriter = 8, 50
	const total = writers * perWriter
	var members []string
	for w := range writers {
		members = append(members, fmt.Sprintf("user%d", w))
	}
	f.group("g1", f.at(0), members...)

	stop := f.watchLog("g1")

	sent := make([][]chat.Message, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				m := chat.Message{
					ChatID:    "g1",
					Sender:    members[w],
					Text:      fmt.Sprintf("%s #%d", members[w], i),
					CreatedAt: f.at(1 + i),
				}
				got, created, err := f.store.AppendMessage(f.ctx, m)
				if !assert.NoError(f.t, err, "AppendMessage %q", m.Text) || !assert.True(f.t, created, "AppendMessage %q: created", m.Text) {
					return
				}
				sent[w] = append(sent[w], got)
			}
		}()
	}
	wg.Wait()
	stop()

	bySeq := make([]chat.Message, total)
	var seqs []int64
	for w := range writers {
		// A writer's sends follow one another, so their seqs must too.
		require.True(f.t, slices.IsSorted(seqsOf(sent[w])), "seqs of one writer's consecutive sends: %v", seqsOf(sent[w]))
		for _, m := range sent[w] {
			seqs = append(seqs, m.Seq)
			if m.Seq >= 1 && m.Seq <= total {
				bySeq[m.Seq-1] = m
			}
		}
	}
	slices.Sort(seqs)
	require.Equal(f.t, seqRange(1, total), seqs, "seqs of concurrent sends")
	require.Equal(f.t, map[string]int64{"g1": total}, f.lastSeqs("g1"))
	requireEvents(f.t, bySeq, f.listEvents("g1", 0, total+1))
	requireMessages(f.t, bySeq, f.listMessages("g1", chat.MessageQuery{Limit: total + 1, Forward: true}))
}

func testAppendConcurrentRetries(f *fixture) {
	const n = 50
	g1 := f.group("g1", f.at(0), "alice", "bob")
	type result struct {
		msg     chat.Message
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := chat.Message{
				ChatID:    "g1",
				Sender:    "alice",
				Text:      fmt.Sprintf("attempt %d", i),
				ClientID:  "k1",
				CreatedAt: f.at(1 + i),
			}
			got, created, err := f.store.AppendMessage(f.ctx, m)
			results[i] = result{got, created, err}
		}()
	}
	wg.Wait()

	winner := -1
	for i, r := range results {
		require.NoError(f.t, r.err, "attempt %d", i)
		if r.created {
			require.Equal(f.t, -1, winner, "attempts %d and %d both reported created=true", max(winner, 0), i)
			winner = i
		}
	}
	require.NotEqual(f.t, -1, winner, "no concurrent retry reported created=true")
	original := results[winner].msg
	require.Equal(f.t, int64(1), original.Seq)
	require.Equal(f.t, fmt.Sprintf("attempt %d", winner), original.Text)
	for _, r := range results {
		requireMessage(f.t, original, r.msg)
	}
	requireChat(f.t, afterSend(g1, original), f.getChat("g1"))
	requireEvents(f.t, []chat.Message{original}, f.listEvents("g1", 0, 10))
}

// sendInterleaved sends n messages to chat g1, with messages to g2 between
// them so that a store that mixes chats up is caught. It returns g1's.
func (f *fixture) sendInterleaved(n int) []chat.Message {
	f.t.Helper()
	var sent []chat.Message
	for i := range n {
		sent = append(sent, f.send("g1", "alice", f.at(2*i+1)))
		if i%3 == 0 {
			f.send("g2", "alice", f.at(2*i+2))
		}
	}
	return sent
}

func (f *fixture) twoChats() {
	f.t.Helper()
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "alice")
}

// seqWindow is a query and the seqs first through last it must select;
// none when last < first.
type seqWindow struct {
	q           chat.MessageQuery
	first, last int64
}

func (f *fixture) requireWindows(sent []chat.Message, windows []seqWindow) {
	f.t.Helper()
	for _, w := range windows {
		got := f.listMessages("g1", w.q)
		require.Equal(f.t, seqRange(w.first, w.last), seqsOf(got), "ListMessages %+v", w.q)
		requireMessages(f.t, sent[w.first-1:max(w.last, w.first-1)], got)
	}
}

func testListMessagesNewest(f *fixture) {
	f.twoChats()
	sent := f.sendInterleaved(10)
	f.requireWindows(sent, []seqWindow{
		{chat.MessageQuery{Limit: 3}, 8, 10},
		{chat.MessageQuery{Limit: 1}, 10, 10},
		{chat.MessageQuery{Limit: 10}, 1, 10},
		{chat.MessageQuery{Limit: 100}, 1, 10},
	})
}

func testListMessagesBefore(f *fixture) {
	f.twoChats()
	sent := f.sendInterleaved(10)
	f.requireWindows(sent, []seqWindow{
		{chat.MessageQuery{Limit: 3, Before: 5}, 2, 4},
		{chat.MessageQuery{Limit: 5, Before: 3}, 1, 2},
		{chat.MessageQuery{Limit: 1, Before: 2}, 1, 1},
		{chat.MessageQuery{Limit: 5, Before: 1}, 1, 0},
		{chat.MessageQuery{Limit: 2, Before: 11}, 9, 10},
		{chat.MessageQuery{Limit: 2, Before: 100}, 9, 10},
		{chat.MessageQuery{Limit: 100, Before: 10}, 1, 9},
	})
}

func testListMessagesForward(f *fixture) {
	f.twoChats()
	sent := f.sendInterleaved(10)
	f.requireWindows(sent, []seqWindow{
		{chat.MessageQuery{Limit: 3, Forward: true}, 1, 3},
		{chat.MessageQuery{Limit: 3, Forward: true, After: 4}, 5, 7},
		{chat.MessageQuery{Limit: 5, Forward: true, After: 8}, 9, 10},
		{chat.MessageQuery{Limit: 1, Forward: true, After: 9}, 10, 10},
		{chat.MessageQuery{Limit: 5, Forward: true, After: 10}, 1, 0},
		{chat.MessageQuery{Limit: 5, Forward: true, After: 100}, 1, 0},
		{chat.MessageQuery{Limit: 100, Forward: true}, 1, 10},
	})
}

func testListMessagesEmptyChat(f *fixture) {
	f.twoChats()
	f.sendN("g2", "alice", 3, 1)
	for _, q := range []chat.MessageQuery{
		{Limit: 10},
		{Limit: 10, Before: 5},
		{Limit: 10, Forward: true},
	} {
		require.Empty(f.t, f.listMessages("g1", q), "ListMessages %+v of a chat without messages", q)
	}
}

func testListMessagesMissingChat(f *fixture) {
	f.twoChats()
	f.sendN("g1", "alice", 3, 1)
	for _, q := range []chat.MessageQuery{
		{Limit: 10},
		{Limit: 10, Before: 2},
		{Limit: 10, Forward: true},
	} {
		require.Empty(f.t, f.listMessages("missing", q), "ListMessages %+v of a missing chat", q)
	}
}

func testListEvents(f *fixture) {
	f.twoChats()
	sent := f.sendInterleaved(5)
	requireEvents(f.t, sent, f.listEvents("g1", 0, 100))
}

func testListEventsAfterSeqAndLimit(f *fixture) {
	f.twoChats()
	sent := f.sendInterleaved(5)
	for _, w := range []struct {
		after       int64
		limit       int
		first, last int64
	}{
		{0, 5, 1, 5},
		{0, 1, 1, 1},
		{2, 2, 3, 4},
		{4, 10, 5, 5},
		{5, 10, 1, 0},
		{100, 10, 1, 0},
	} {
		got := f.listEvents("g1", w.after, w.limit)
		require.Len(f.t, got, int(max(w.last-w.first+1, 0)), "ListEvents after %d limit %d", w.after, w.limit)
		requireEvents(f.t, sent[w.first-1:max(w.last, w.first-1)], got)
	}
}

// requireEvents fails unless got are the message.created events of want.
func requireEvents(t *testing.T, want []chat.Message, got []chat.Event) {
	t.Helper()
	events := make([]chat.Event, len(want))
	for i, m := range want {
		events[i] = createdEvent(m)
	}
	requireEventLog(t, events, got)
}

// buildMixedLog gives chat g1 a log with every type of event:
//
//	1 created m1 (alice)       6 deleted m3
//	2 added carol              7 removed carol
//	3 created m3 (carol)       8 created m8 (alice)
//	4 updated m1               9 created m9 (bob)
//	5 created m5 (bob)
//
// and returns the log and the messages as they are at the end.
func (f *fixture) buildMixedLog() ([]chat.Event, []chat.Message) {
	f.t.Helper()
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "alice")
	m1 := f.send("g1", "alice", f.at(1))
	f.addMember("g1", "alice", "carol", f.at(2))
	m3 := f.send("g1", "carol", f.at(3))
	f.send("g2", "alice", f.at(3))
	m1 = f.edit(m1, "edited", f.at(4))
	m5 := f.send("g1", "bob", f.at(5))
	m3 = f.deleteMessage(m3, f.at(6))
	f.removeMember("g1", "alice", "carol", f.at(7))
	m8 := f.send("g1", "alice", f.at(8))
	m9 := f.send("g1", "bob", f.at(9))
	f.send("g2", "alice", f.at(10))
	return []chat.Event{
			createdEvent(m1), addedEvent("g1", 2, "carol"), createdEvent(m3), updatedEvent(4, m1), createdEvent(m5),
			deletedEvent(6, m3), removedEvent("g1", 7, "carol"), createdEvent(m8), createdEvent(m9),
		},
		[]chat.Message{m1, m3, m5, m8, m9}
}

func testListEventsEveryType(f *fixture) {
	log, _ := f.buildMixedLog()
	f.requireLog("g1", log...)
	for after := range len(log) + 2 {
		for limit := 1; limit <= 3; limit++ {
			got := f.listEvents("g1", int64(after), limit)
			requireEventLog(f.t, log[min(after, len(log)):min(after+limit, len(log))], got)
		}
	}
	require.Empty(f.t, f.listEvents("missing", 0, 10))
}

// testListMessagesAmongOtherEvents checks that message windows are bounded
// by seq and counted in messages when other events sit between them.
func testListMessagesAmongOtherEvents(f *fixture) {
	_, msgs := f.buildMixedLog()
	bySeq := make(map[int64]chat.Message)
	for _, m := range msgs {
		bySeq[m.Seq] = m
	}
	for _, w := range []struct {
		q    chat.MessageQuery
		seqs []int64
	}{
		{chat.MessageQuery{Limit: 2}, []int64{8, 9}},
		{chat.MessageQuery{Limit: 10}, []int64{1, 3, 5, 8, 9}},
		{chat.MessageQuery{Limit: 2, Before: 8}, []int64{3, 5}},
		{chat.MessageQuery{Limit: 2, Before: 7}, []int64{3, 5}},
		{chat.MessageQuery{Limit: 5, Before: 4}, []int64{1, 3}},
		{chat.MessageQuery{Limit: 5, Before: 2}, []int64{1}},
		{chat.MessageQuery{Limit: 5, Before: 1}, []int64{}},
		{chat.MessageQuery{Limit: 2, Forward: true}, []int64{1, 3}},
		{chat.MessageQuery{Limit: 2, Forward: true, After: 1}, []int64{3, 5}},
		{chat.MessageQuery{Limit: 2, Forward: true, After: 2}, []int64{3, 5}},
		{chat.MessageQuery{Limit: 10, Forward: true, After: 5}, []int64{8, 9}},
		{chat.MessageQuery{Limit: 1, Forward: true, After: 6}, []int64{8}},
		{chat.MessageQuery{Limit: 10, Forward: true, After: 9}, []int64{}},
	} {
		want := make([]chat.Message, len(w.seqs))
		for i, seq := range w.seqs {
			want[i] = bySeq[seq]
		}
		got := f.listMessages("g1", w.q)
		require.Equal(f.t, w.seqs, seqsOf(got), "ListMessages %+v", w.q)
		requireMessages(f.t, want, got)
	}
}
