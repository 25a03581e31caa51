package storetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testEditUpdatesMessage(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	m := f.newMessage("g1", "alice", f.at(1))
	m.ClientID = "k1"
	m.Metadata = json.RawMessage(`{"kept": true}`)
	m1 := f.appendMessage(m)
	m2 := f.send("g1", "bob", f.at(2))

	// An edit replaces the text only: client id and metadata stay.
	m1 = f.edit(m1, "edited once", f.at(3))
	requireMessages(f.t, []chat.Message{m1, m2}, f.listMessages("g1", chat.MessageQuery{Limit: 10}))
	// The message.created event shows the message as it is now too.
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), updatedEvent(3, m1))

	// Every edit is an event; EditedAt is the latest one's time.
	m1 = f.edit(m1, "edited twice", f.at(4))
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), updatedEvent(3, m1), updatedEvent(4, m1))

	// Editing the newest message shows in LastMessage.
	m2 = f.edit(m2, "bob's edit", f.at(5))
	want := g1
	want.LastSeq, want.LastActivityAt, want.LastMessage = 5, f.at(5), &m2
	requireChat(f.t, want, f.getChat("g1"))
	requireChats(f.t, []chat.Chat{want}, f.listChats("alice", chat.ChatQuery{Limit: 10}))
	requireMessages(f.t, []chat.Message{m1, m2}, f.listMessages("g1", chat.MessageQuery{Limit: 10}))
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), updatedEvent(3, m1), updatedEvent(4, m1), updatedEvent(5, m2))

	// A retry of the original send returns the message as it is now.
	got, created, err := f.store.AppendMessage(f.ctx, m)
	require.NoError(f.t, err)
	require.False(f.t, created, "a retry of an edited message's send must not create a message")
	requireMessage(f.t, m1, got)
	require.Equal(f.t, int64(6), f.send("g1", "alice", f.at(6)).Seq, "seq after a retry of an edited message's send")
}

func testDeleteLeavesTombstone(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m := f.newMessage("g1", "alice", f.at(1))
	m.ClientID = "k1"
	m.Metadata = json.RawMessage(`{"gone": true}`)
	m1 := f.appendMessage(m)
	m2 := f.send("g1", "bob", f.at(2))

	m1 = f.edit(m1, "edited before deletion", f.at(3))
	m1 = f.deleteMessage(m1, f.at(4))
	requireMessages(f.t, []chat.Message{m1, m2}, f.listMessages("g1", chat.MessageQuery{Limit: 10}))
	// Every event of the message shows its tombstone.
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), updatedEvent(3, m1), deletedEvent(4, m1))

	// Deleting the newest message leaves its tombstone as LastMessage.
	m2 = f.deleteMessage(m2, f.at(5))
	requireMessages(f.t, []chat.Message{m1, m2}, f.listMessages("g1", chat.MessageQuery{Limit: 10}))
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), updatedEvent(3, m1), deletedEvent(4, m1), deletedEvent(5, m2))
	list := f.listChats("bob", chat.ChatQuery{Limit: 10})
	require.Len(f.t, list, 1)
	require.NotNil(f.t, list[0].LastMessage, "LastMessage of a chat whose newest message was deleted")
	requireMessage(f.t, m2, *list[0].LastMessage)

	// A retry of a deleted message's send returns its tombstone: it does
	// not bring the message back.
	got, created, err := f.store.AppendMessage(f.ctx, m)
	require.NoError(f.t, err)
	require.False(f.t, created, "a retry of a deleted message's send must not create a message")
	requireMessage(f.t, m1, got)
	require.Equal(f.t, int64(6), f.send("g1", "alice", f.at(6)).Seq, "seq after a retry of a deleted message's send")
}

func testEditDeletedIsConflict(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.deleteMessage(f.send("g1", "alice", f.at(1)), f.at(2))
	before := f.snapshot("g1")

	_, _, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m1.Seq, UserID: "alice", Text: "revived", At: f.at(3)})
	require.ErrorIs(f.t, err, chat.ErrConflict, "EditMessage of a deleted message must fail with an error wrapping chat.ErrConflict")
	f.requireUnchanged(before, "editing a deleted message")
	require.Equal(f.t, int64(3), f.send("g1", "alice", f.at(4)).Seq, "seq after a refused edit")
}

func testDeleteTwiceChangesNothing(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.deleteMessage(f.send("g1", "alice", f.at(1)), f.at(2))
	before := f.snapshot("g1")

	ev, changed, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m1.Seq, UserID: "alice", Delete: true, At: f.at(3)})
	require.NoError(f.t, err, "deleting a deleted message")
	require.False(f.t, changed, "deleting a deleted message must report changed=false")
	require.Zero(f.t, ev.Seq, "Seq of the event of a delete that changed nothing")
	require.NotNil(f.t, ev.Message, "Message of the event of a delete that changed nothing")
	requireMessage(f.t, m1, *ev.Message)
	f.requireUnchanged(before, "deleting a deleted message")
	require.Equal(f.t, int64(3), f.send("g1", "alice", f.at(4)).Seq, "seq after a delete that changed nothing")
}

func testEditOnlyBySender(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	m1 := f.send("g1", "alice", f.at(1))
	before := f.snapshot("g1")

	for _, e := range []chat.MessageEdit{
		{ChatID: "g1", Seq: m1.Seq, UserID: "bob", Text: "not mine", At: f.at(2)},
		{ChatID: "g1", Seq: m1.Seq, UserID: "bob", Delete: true, At: f.at(2)},
	} {
		_, _, err := f.store.EditMessage(f.ctx, e)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "EditMessage %+v of another member's message must fail with an error wrapping chat.ErrForbidden", e)
	}
	f.requireUnchanged(before, "edits by a member who did not send the message")
}

func testEditMissingMessage(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "alice")
	f.send("g1", "alice", f.at(1))
	f.addMember("g1", "alice", "carol", f.at(2))
	f.send("g1", "alice", f.at(3))
	// g2 has messages at seqs that g1 has not reached.
	f.sendN("g2", "alice", 5, 4)
	before := f.snapshot("g1")

	for _, e := range []chat.MessageEdit{
		{UserID: "alice", Seq: 0},
		{UserID: "alice", Seq: -1},
		{UserID: "alice", Seq: 2},   // the member.added event
		{UserID: "carol", Seq: 2},   // the member.added event, by its user
		{UserID: "alice", Seq: 4},   // beyond the end, a message in g2
		{UserID: "alice", Seq: 100}, // far beyond the end
	} {
		e.ChatID, e.At = "g1", f.at(10)
		for _, del := range []bool{false, true} {
			e.Delete, e.Text = del, "edited"
			_, _, err := f.store.EditMessage(f.ctx, e)
			requireNotFound(f.t, err, fmt.Sprintf("EditMessage %+v of a seq that is no message", e))
		}
	}
	f.requireUnchanged(before, "edits of seqs that are no message")
}

func testEditNonMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "dave")
	m1 := f.send("g1", "alice", f.at(1))
	m2 := f.send("g1", "bob", f.at(2))
	f.removeMember("g1", "bob", "bob", f.at(3))
	before := f.snapshot("g1")

	for _, e := range []chat.MessageEdit{
		{ChatID: "missing", Seq: m1.Seq, UserID: "alice"},
		{ChatID: "g1", Seq: m1.Seq, UserID: "dave"},
		// A sender who left may no longer change what they sent.
		{ChatID: "g1", Seq: m2.Seq, UserID: "bob"},
	} {
		e.At = f.at(10)
		for _, del := range []bool{false, true} {
			e.Delete, e.Text = del, "edited"
			_, _, err := f.store.EditMessage(f.ctx, e)
			requireNotFound(f.t, err, fmt.Sprintf("EditMessage %+v by a non-member", e))
		}
	}
	f.requireUnchanged(before, "edits by non-members")
}

// testEditConcurrent runs sends, edits, deletes and member changes of one
// chat at once and checks that they share one gap-free sequence.
func testEditConcurrent(f *fixture) {
	const writers, rounds = 4, 12
	members := []string{"admin"}
	for w := range writers {
		members = append(members, fmt.Sprintf("user%d", w))
	}
	g1 := f.group("g1", f.at(0), members...)
	stop := f.watchLog("g1")

	// Each writer sends messages and edits every one, deleting every
	// other, while admin adds and removes guests.
	type change struct {
		ev      chat.Event
		changed bool
		err     error
	}
	type round struct {
		sent           chat.Message
		sendErr        error
		edit, deletion change
	}
	results := make([][]round, writers)
	guests := make([][2]change, rounds)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				var r round
				m := chat.Message{ChatID: "g1", Sender: members[w+1], Text: fmt.Sprintf("%s #%d", members[w+1], i), CreatedAt: f.at(1 + i)}
				r.sent, _, r.sendErr = f.store.AppendMessage(f.ctx, m)
				if r.sendErr == nil {
					e := chat.MessageEdit{ChatID: "g1", Seq: r.sent.Seq, UserID: m.Sender, Text: m.Text + " edited", At: f.at(2 + i)}
					r.edit.ev, r.edit.changed, r.edit.err = f.store.EditMessage(f.ctx, e)
					if i%2 == 0 && r.edit.err == nil {
						e.Delete, e.At = true, f.at(3+i)
						r.deletion.ev, r.deletion.changed, r.deletion.err = f.store.EditMessage(f.ctx, e)
					}
				}
				results[w] = append(results[w], r)
				if r.sendErr != nil || r.edit.err != nil || r.deletion.err != nil {
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range rounds {
			guest := fmt.Sprintf("guest%d", i)
			g := &guests[i]
			g[0].ev, g[0].changed, g[0].err = f.store.AddMember(f.ctx, memberChange("g1", "admin", guest, f.at(1+i)))
			if g[0].err != nil {
				return
			}
			// Guests leave by themselves or are removed by the creator.
			actor := guest
			if i%2 == 0 {
				actor = "admin"
			}
			g[1].ev, g[1].err = f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: actor, UserID: guest, At: f.at(2 + i)})
			g[1].changed = g[1].err == nil
			if g[1].err != nil {
				return
			}
		}
	}()
	wg.Wait()
	stop()

	var want []chat.Event
	var messages []chat.Message
	var adminSeqs []int64
	for i, g := range guests {
		guest := fmt.Sprintf("guest%d", i)
		for j, typ := range []chat.EventType{chat.EventMemberAdded, chat.EventMemberRemoved} {
			require.NoError(f.t, g[j].err, "%s of %s", typ, guest)
			require.True(f.t, g[j].changed, "%s of %s: changed", typ, guest)
			require.Equal(f.t, typ, g[j].ev.Type, "Type of the event of %s of %s", typ, guest)
			want = append(want, memberEvent(typ, "g1", g[j].ev.Seq, guest))
			adminSeqs = append(adminSeqs, g[j].ev.Seq)
		}
	}
	require.True(f.t, slices.IsSorted(adminSeqs), "seqs of one goroutine's consecutive member changes: %v", adminSeqs)
	for w, rs := range results {
		require.Len(f.t, rs, rounds, "rounds of writer %d", w)
		var seqs []int64
		for i, r := range rs {
			require.NoError(f.t, r.sendErr, "send %d of writer %d", i, w)
			require.NoError(f.t, r.edit.err, "edit %d of writer %d", i, w)
			require.True(f.t, r.edit.changed, "edit %d of writer %d: changed", i, w)
			require.NotNil(f.t, r.edit.ev.Message, "Message of the event of edit %d of writer %d", i, w)
			final := edited(r.sent, r.sent.Text+" edited", f.at(2+i))
			requireMessage(f.t, final, *r.edit.ev.Message)
			if i%2 == 0 {
				require.NoError(f.t, r.deletion.err, "delete %d of writer %d", i, w)
				require.True(f.t, r.deletion.changed, "delete %d of writer %d: changed", i, w)
				require.NotNil(f.t, r.deletion.ev.Message, "Message of the event of delete %d of writer %d", i, w)
				final = tombstone(final)
				requireMessage(f.t, final, *r.deletion.ev.Message)
				want = append(want, deletedEvent(r.deletion.ev.Seq, final))
			}
			want = append(want, createdEvent(final), updatedEvent(r.edit.ev.Seq, final))
			seqs = append(seqs, r.sent.Seq, r.edit.ev.Seq)
			if i%2 == 0 {
				seqs = append(seqs, r.deletion.ev.Seq)
			}
			messages = append(messages, final)
		}
		require.True(f.t, slices.IsSorted(seqs), "seqs of one writer's consecutive changes: %v", seqs)
	}

	slices.SortFunc(want, func(a, b chat.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	total := int64(len(want))
	require.Equal(f.t, seqRange(1, total), eventSeqs(want), "seqs of concurrent sends, edits, deletes and member changes")
	require.Equal(f.t, map[string]int64{"g1": total}, f.lastSeqs("g1"))
	f.requireLog("g1", want...)
	slices.SortFunc(messages, func(a, b chat.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	requireMessages(f.t, messages, f.listMessages("g1", chat.MessageQuery{Limit: allOfThem, Forward: true}))
	c := f.getChat("g1")
	require.Equal(f.t, withoutRoles(g1.Members), withoutRoles(c.Members), "members once every guest has left")
	require.Equal(f.t, total, c.LastSeq, "LastSeq")
	require.NotNil(f.t, c.LastMessage, "LastMessage")
	requireMessage(f.t, messages[len(messages)-1], *c.LastMessage)
}
