package storetest

import (
	"context"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testCancelledReads(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.send("g1", "alice", f.at(1))
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()

	for _, call := range []struct {
		name string
		run  func() error
	}{
		{"GetChat", func() error { _, err := f.store.GetChat(ctx, "g1"); return err }},
		{"GetMember", func() error { _, err := f.store.GetMember(ctx, "g1", "alice"); return err }},
		{"ListChats", func() error { _, err := f.store.ListChats(ctx, "alice", chat.ChatQuery{Limit: 10}); return err }},
		{"ChatIDs", func() error { _, err := f.store.ChatIDs(ctx, "alice"); return err }},
		{"LastSeqs", func() error { _, err := f.store.LastSeqs(ctx, []string{"g1"}); return err }},
		{"ListMessages", func() error { _, err := f.store.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10}); return err }},
		{"ListEvents", func() error { _, err := f.store.ListEvents(ctx, "g1", 0, 10); return err }},
		{"UnreadCounts", func() error { _, err := f.store.UnreadCounts(ctx, "alice", []string{"g1"}); return err }},
	} {
		require.Error(f.t, call.run(), "%s with a cancelled context", call.name)
	}
}

// testCancelledWrites checks that a write whose context is cancelled fails
// and leaves either all of its effects or none.
func testCancelledWrites(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.send("g1", "alice", f.at(1))
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()

	g2 := newGroup("g2", f.at(2), "alice")
	_, _, err := f.store.CreateChat(ctx, g2, "")
	require.Error(f.t, err, "CreateChat with a cancelled context")
	if got, err := f.store.GetChat(f.ctx, "g2"); err == nil {
		requireChat(f.t, asCreated(g2), got)
	} else {
		requireNotFound(f.t, err, "GetChat of a chat whose creation was cancelled")
	}

	d1 := newDirect("d1", f.at(3), "alice", "bob")
	_, _, err = f.store.CreateChat(ctx, d1, "alice:bob")
	require.Error(f.t, err, "CreateChat of a direct chat with a cancelled context")
	d2 := newDirect("d2", f.at(4), "alice", "bob")
	got, created, err := f.store.CreateChat(f.ctx, d2, "alice:bob")
	require.NoError(f.t, err)
	if created {
		requireChat(f.t, asCreated(d2), got)
	} else {
		requireChat(f.t, asCreated(d1), got)
	}

	_, _, err = f.store.AppendMessage(ctx, f.newMessage("g1", "bob", f.at(5)))
	require.Error(f.t, err, "AppendMessage with a cancelled context")
	last := f.lastSeqs("g1")["g1"]
	require.Contains(f.t, []int64{1, 2}, last, "LastSeq after a cancelled AppendMessage")
	require.Len(f.t, f.listEvents("g1", 0, 10), int(last), "events after a cancelled AppendMessage")
	require.Equal(f.t, last+1, f.send("g1", "alice", f.at(6)).Seq, "seq after a cancelled AppendMessage")
}

// testCancelledChangesFailWholly does for the writes that change existing
// chats what testCancelledWrites does for the others.
func testCancelledChangesFailWholly(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	m1 := f.send("g1", "alice", f.at(1))
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()

	_, _, err := f.store.EditMessage(ctx, chat.MessageEdit{ChatID: "g1", Seq: m1.Seq, UserID: "alice", Text: "cancelled edit", At: f.at(2)})
	require.Error(f.t, err, "EditMessage with a cancelled context")
	last := f.requireGapFree("g1")
	msgs := f.listMessages("g1", chat.MessageQuery{Limit: 10})
	require.Len(f.t, msgs, 1)
	if last == 2 {
		requireMessage(f.t, edited(m1, "cancelled edit", f.at(2)), msgs[0])
	} else {
		require.Equal(f.t, int64(1), last, "LastSeq after a cancelled EditMessage")
		requireMessage(f.t, m1, msgs[0])
	}

	_, _, err = f.store.EditMessage(ctx, chat.MessageEdit{ChatID: "g1", Seq: m1.Seq, UserID: "alice", Delete: true, At: f.at(3)})
	require.Error(f.t, err, "EditMessage deleting with a cancelled context")
	before := last
	last = f.requireGapFree("g1")
	msgs = f.listMessages("g1", chat.MessageQuery{Limit: 10})
	require.Len(f.t, msgs, 1)
	if last == before+1 {
		require.True(f.t, msgs[0].Deleted, "a message whose deletion made an event")
	} else {
		require.Equal(f.t, before, last, "LastSeq after a cancelled delete")
		require.False(f.t, msgs[0].Deleted, "a message whose deletion was cancelled before making an event")
	}

	_, _, err = f.store.MarkRead(ctx, "g1", "bob", last)
	require.Error(f.t, err, "MarkRead with a cancelled context")
	m, err := f.store.GetMember(f.ctx, "g1", "bob")
	require.NoError(f.t, err)
	require.Contains(f.t, []int64{0, last}, m.LastReadSeq, "marker after a cancelled MarkRead")

	_, _, err = f.store.AddMember(ctx, memberChange("g1", "alice", "dave", f.at(4)))
	require.Error(f.t, err, "AddMember with a cancelled context")
	before = last
	last = f.requireGapFree("g1")
	m, err = f.store.GetMember(f.ctx, "g1", "dave")
	if last == before+1 {
		require.NoError(f.t, err, "GetMember of a member whose addition made an event")
		require.Equal(f.t, chat.Member{UserID: "dave", LastReadSeq: last}, withoutRole(m))
	} else {
		require.Equal(f.t, before, last, "LastSeq after a cancelled AddMember")
		requireNotFound(f.t, err, "GetMember of a member whose addition was cancelled")
	}

	_, err = f.store.RemoveMember(ctx, chat.MemberChange{ChatID: "g1", ActorID: "carol", UserID: "carol", At: f.at(5)})
	require.Error(f.t, err, "RemoveMember with a cancelled context")
	before = last
	last = f.requireGapFree("g1")
	_, err = f.store.GetMember(f.ctx, "g1", "carol")
	if last == before+1 {
		requireNotFound(f.t, err, "GetMember of a member whose removal made an event")
	} else {
		require.Equal(f.t, before, last, "LastSeq after a cancelled RemoveMember")
		require.NoError(f.t, err, "GetMember of a member whose removal was cancelled")
	}

	require.Equal(f.t, last+1, f.send("g1", "bob", f.at(6)).Seq, "seq after cancelled changes")
}
