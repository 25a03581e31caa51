package storetest

import (
	"fmt"
	"slices"
	"sync"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testMarkReadForwardOnly(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	sent := f.sendN("g1", "alice", 5, 1)
	g1 = afterSend(g1, sent[4])

	read, moved := f.markRead("g1", "bob", 3)
	require.Equal(f.t, int64(3), read, "marker after MarkRead 3")
	require.True(f.t, moved, "MarkRead 3 from 0 must report moved")
	// A marker is not an event: the chat's log and activity stay.
	requireChat(f.t, withMarker(g1, "bob", 3), f.getChat("g1"))
	requireChats(f.t, []chat.Chat{withMarker(g1, "bob", 3)}, f.listChats("bob", chat.ChatQuery{Limit: 10}))
	require.Len(f.t, f.listEvents("g1", 0, 10), 5, "events after MarkRead")
	for user, want := range map[string]int64{"alice": 0, "bob": 3} {
		m, err := f.store.GetMember(f.ctx, "g1", user)
		require.NoError(f.t, err)
		require.Equal(f.t, chat.Member{UserID: user, LastReadSeq: want}, withoutRole(m), "GetMember after MarkRead")
	}

	for _, seq := range []int64{2, 3, 0, -1} {
		read, moved = f.markRead("g1", "bob", seq)
		require.Equal(f.t, int64(3), read, "marker after MarkRead %d from 3", seq)
		require.False(f.t, moved, "MarkRead %d from 3 must not report moved", seq)
	}
	requireChat(f.t, withMarker(g1, "bob", 3), f.getChat("g1"))

	read, moved = f.markRead("g1", "bob", 5)
	require.Equal(f.t, int64(5), read)
	require.True(f.t, moved)
	requireChat(f.t, withMarker(g1, "bob", 5), f.getChat("g1"))
}

func testMarkReadClamps(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	read, moved := f.markRead("g1", "alice", 10)
	require.Equal(f.t, int64(0), read, "marker after MarkRead in a chat without events")
	require.False(f.t, moved)

	f.sendN("g1", "bob", 2, 1)
	read, moved = f.markRead("g1", "alice", 100)
	require.Equal(f.t, int64(2), read, "marker after MarkRead past LastSeq 2")
	require.True(f.t, moved)
	read, moved = f.markRead("g1", "alice", 100)
	require.Equal(f.t, int64(2), read, "marker after MarkRead past LastSeq 2 again")
	require.False(f.t, moved, "MarkRead past LastSeq when the marker is already at LastSeq must not report moved")

	// The marker is a position in the log, whatever the event there.
	f.addMember("g1", "bob", "carol", f.at(3))
	read, moved = f.markRead("g1", "alice", 100)
	require.Equal(f.t, int64(3), read, "marker after MarkRead past a member event")
	require.True(f.t, moved)
	require.Equal(f.t, map[string]int64{"g1": 3}, f.lastSeqs("g1"))
}

func testMarkReadNotFound(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "dave")
	f.sendN("g1", "alice", 3, 1)
	f.removeMember("g1", "carol", "carol", f.at(4))
	before := f.snapshot("g1")

	for _, c := range []struct{ chatID, userID string }{
		{"missing", "alice"},
		{"g1", "dave"},
		{"g1", "carol"},
	} {
		_, _, err := f.store.MarkRead(f.ctx, c.chatID, c.userID, 2)
		requireNotFound(f.t, err, fmt.Sprintf("MarkRead of %s in %s", c.userID, c.chatID))
	}
	f.requireUnchanged(before, "MarkRead by non-members")
}

// testMarkReadConcurrent has one user mark read from many devices at once:
// the marker only moves forward, ends at the highest seq asked for, and
// every move reported is to a new position.
func testMarkReadConcurrent(f *fixture) {
	const devices, last = 8, 40
	g1 := f.group("g1", f.at(0), "alice", "bob")
	sent := f.sendN("g1", "bob", last, 1)

	type mark struct {
		asked, read int64
		moved       bool
		err         error
	}
	marks := make([][]mark, devices)
	var wg sync.WaitGroup
	for d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(d + 1); seq <= last+devices; seq += devices {
				read, moved, err := f.store.MarkRead(f.ctx, "g1", "alice", seq)
				marks[d] = append(marks[d], mark{seq, read, moved, err})
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()

	var movedTo []int64
	for d, ms := range marks {
		var prev int64
		for _, m := range ms {
			require.NoError(f.t, m.err, "MarkRead %d", m.asked)
			require.GreaterOrEqual(f.t, m.read, min(m.asked, last), "marker after MarkRead %d", m.asked)
			require.LessOrEqual(f.t, m.read, int64(last), "marker after MarkRead %d, past LastSeq", m.asked)
			require.GreaterOrEqual(f.t, m.read, prev, "marker seen by device %d went back", d)
			prev = m.read
			if m.moved {
				require.Equal(f.t, min(m.asked, last), m.read, "marker after MarkRead %d that reported moved", m.asked)
				movedTo = append(movedTo, m.read)
			}
		}
	}
	slices.Sort(movedTo)
	require.NotEmpty(f.t, movedTo, "no MarkRead reported moved")
	require.Equal(f.t, slices.Compact(slices.Clone(movedTo)), movedTo, "two MarkRead calls reported moving the marker to the same seq")
	requireChat(f.t, withMarker(afterSend(g1, sent[last-1]), "alice", last), f.getChat("g1"))
}

func testUnreadCounts(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "alice", "bob")
	f.group("g3", f.at(0), "bob", "carol")
	var g1 []chat.Message
	for i, sender := range []string{"alice", "bob", "bob", "bob", "carol"} {
		g1 = append(g1, f.send("g1", sender, f.at(i+1)))
	}
	f.sendN("g2", "bob", 2, 1)
	// Deleted messages do not count, edited ones count once, and other
	// events not at all.
	f.deleteMessage(g1[2], f.at(6))
	f.edit(g1[4], "edited", f.at(7))
	f.addMember("g1", "alice", "dave", f.at(8))

	require.Equal(f.t, map[string]int64{"g1": 3, "g2": 2}, f.unreadCounts("alice", "g1", "g2", "g3", "missing"))
	require.Equal(f.t, map[string]int64{"g1": 2, "g2": 0, "g3": 0}, f.unreadCounts("bob", "g1", "g2", "g3"))
	require.Equal(f.t, map[string]int64{"g1": 3, "g3": 0}, f.unreadCounts("carol", "g3", "g1"))
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadCounts("dave", "g1"))
}

func testUnreadCountsAfterMarkRead(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.sendN("g1", "bob", 5, 1)
	f.send("g1", "alice", f.at(6))
	m7 := f.send("g1", "bob", f.at(7))
	unread := func() int64 {
		f.t.Helper()
		return f.unreadCounts("alice", "g1")["g1"]
	}
	require.Equal(f.t, int64(6), unread())

	f.markRead("g1", "alice", 3)
	require.Equal(f.t, int64(3), unread(), "unread after reading up to seq 3")
	f.markRead("g1", "alice", 6)
	require.Equal(f.t, int64(1), unread(), "unread after reading up to seq 6")
	f.deleteMessage(m7, f.at(8))
	require.Equal(f.t, int64(0), unread(), "unread after the only unread message was deleted")
	f.send("g1", "bob", f.at(9))
	require.Equal(f.t, int64(1), unread(), "unread after a new message")
	f.markRead("g1", "alice", 100)
	require.Equal(f.t, int64(0), unread(), "unread after reading everything")
	// Bob has read nothing; of all that, only alice's message is unread for him.
	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadCounts("bob", "g1"))
}

func testUnreadCountsLateMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.sendN("g1", "bob", 5, 1)
	added := f.addMember("g1", "alice", "dave", f.at(6))

	// The history before a member joined is not unread for them.
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadCounts("dave", "g1"))
	f.send("g1", "bob", f.at(7))
	f.send("g1", "dave", f.at(8))
	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadCounts("dave", "g1"))
	require.Equal(f.t, map[string]int64{"g1": 7}, f.unreadCounts("alice", "g1"))

	f.removeMember("g1", "dave", "dave", f.at(9))
	require.Empty(f.t, f.unreadCounts("dave", "g1"))
	readded := f.addMember("g1", "bob", "dave", f.at(10))
	require.Greater(f.t, readded, added)
	require.Equal(f.t, map[string]int64{"g1": 0}, f.unreadCounts("dave", "g1"))
}

func testUnreadCountsLeavesOutOtherIDs(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "bob")
	f.group("g3", f.at(0), "alice", "bob")
	f.send("g1", "bob", f.at(1))
	f.send("g2", "bob", f.at(1))
	f.send("g3", "bob", f.at(1))
	f.removeMember("g3", "alice", "alice", f.at(2))

	require.Equal(f.t, map[string]int64{"g1": 1}, f.unreadCounts("alice", "g2", "missing", "g1", "g3", "g1"))
	require.Empty(f.t, f.unreadCounts("alice", "g2", "g3", "missing"))
	require.Empty(f.t, f.unreadCounts("nobody", "g1", "g2"))
	require.Empty(f.t, f.unreadCounts("alice"))
	counts, err := f.store.UnreadCounts(f.ctx, "alice", []string{})
	require.NoError(f.t, err)
	require.Empty(f.t, counts)
}

// testUnreadCountsConcurrent has members send and delete while a reader
// marks read and counts, and checks that the counts end equal to a recount
// of the messages.
func testUnreadCountsConcurrent(f *fixture) {
	const rounds = 24
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "alice", "dave")
	ids := []string{"g1", "g2"}

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
			seqs, err := f.store.LastSeqs(f.ctx, ids)
			if !assert.NoError(f.t, err, "LastSeqs during writes") {
				return
			}
			for _, id := range ids {
				read, _, err := f.store.MarkRead(f.ctx, id, "alice", seqs[id]-2)
				if !assert.NoError(f.t, err, "MarkRead during writes") {
					return
				}
				later, err := f.store.LastSeqs(f.ctx, []string{id})
				if !assert.NoError(f.t, err, "LastSeqs during writes") || !assert.LessOrEqual(f.t, read, later[id], "marker past LastSeq") {
					return
				}
			}
			counts, err := f.store.UnreadCounts(f.ctx, "alice", ids)
			if !assert.NoError(f.t, err, "UnreadCounts during writes") || !assert.Len(f.t, counts, len(ids), "UnreadCounts during writes") {
				return
			}
			for id, n := range counts {
				if !assert.GreaterOrEqual(f.t, n, int64(0), "unread count of %s during writes", id) {
					return
				}
			}
		}
	}()

	writers := []struct{ chatID, sender string }{{"g1", "bob"}, {"g1", "carol"}, {"g1", "alice"}, {"g2", "dave"}}
	errs := make([]error, len(writers))
	var wg sync.WaitGroup
	for w, wr := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				m := chat.Message{ChatID: wr.chatID, Sender: wr.sender, Text: fmt.Sprintf("%s #%d", wr.sender, i), CreatedAt: f.at(1 + i)}
				sent, _, err := f.store.AppendMessage(f.ctx, m)
				if err == nil && i%3 == 0 {
					_, _, err = f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: wr.chatID, Seq: sent.Seq, UserID: wr.sender, Delete: true, At: f.at(2 + i)})
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-readerDone
	for w, err := range errs {
		require.NoError(f.t, err, "writer %d", w)
	}
	require.False(f.t, f.t.Failed(), "the reader failed during writes")

	recount := func() map[string]int64 {
		f.t.Helper()
		counts := make(map[string]int64)
		for _, id := range ids {
			m, err := f.store.GetMember(f.ctx, id, "alice")
			require.NoError(f.t, err)
			counts[id] = 0
			for _, msg := range f.listMessages(id, chat.MessageQuery{Limit: allOfThem, Forward: true, After: m.LastReadSeq}) {
				if msg.Sender != "alice" && !msg.Deleted {
					counts[id]++
				}
			}
		}
		return counts
	}
	want := recount()
	require.Equal(f.t, want, f.unreadCounts("alice", ids...), "unread counts after concurrent writes and reads")
	f.send("g1", "bob", f.at(100))
	want["g1"]++
	require.Equal(f.t, want, recount(), "recount after one more message")
	require.Equal(f.t, want, f.unreadCounts("alice", ids...), "unread counts after one more message")
	for _, id := range ids {
		f.markRead(id, "alice", allOfThem)
	}
	require.Equal(f.t, map[string]int64{"g1": 0, "g2": 0}, f.unreadCounts("alice", ids...))
}
