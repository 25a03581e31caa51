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

	// While the writers run, a reader checks that whatever LastSeqs
	// reports is readable together with everything below it.
	done := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-done:
				return
			default:
			}
			seqs, err := f.store.LastSeqs(f.ctx, []string{"g1"})
			if !assert.NoError(f.t, err, "LastSeqs during sends") {
				return
			}
			events, err := f.store.ListEvents(f.ctx, "g1", 0, total)
			if !assert.NoError(f.t, err, "ListEvents during sends") {
				return
			}
			if !assert.GreaterOrEqual(f.t, int64(len(events)), seqs["g1"], "events readable after LastSeqs reported them") {
				return
			}
			for i, e := range events {
				if !assert.Equal(f.t, int64(i+1), e.Seq, "seq of event %d of a concurrent read", i) {
					return
				}
			}
		}
	}()

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
	close(done)
	<-readerDone
	require.False(f.t, f.t.Failed())

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
	gotSeqs := make([]int64, len(got))
	for i, e := range got {
		gotSeqs[i] = e.Seq
	}
	require.Equal(t, seqsOf(want), gotSeqs, "event seqs")
	for i, e := range got {
		require.Equal(t, chat.EventMessageCreated, e.Type, "Type of event %d", e.Seq)
		require.Equal(t, want[i].ChatID, e.ChatID, "ChatID of event %d", e.Seq)
		require.NotNil(t, e.Message, "Message of event %d", e.Seq)
		requireMessage(t, want[i], *e.Message)
	}
}
