package storetest

import (
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testAddMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	g2 := f.group("g2", f.at(0), "carol")
	m1 := f.send("g1", "alice", f.at(1))
	m2 := f.send("g1", "bob", f.at(2))

	// addMember checks the event, the new member's read marker (the
	// event's seq) and the chat's LastSeq, activity and LastMessage.
	require.Equal(f.t, int64(3), f.addMember("g1", "bob", "carol", f.at(3)))
	m, err := f.store.GetMember(f.ctx, "g1", "carol")
	require.NoError(f.t, err, "GetMember of an added member")
	require.Equal(f.t, chat.Member{UserID: "carol", LastReadSeq: 3}, withoutRole(m))

	// The new member sees the chat, in its place by activity, and may
	// write in it.
	require.ElementsMatch(f.t, []string{"g1", "g2"}, f.chatIDs("carol"))
	requireChats(f.t, []chat.Chat{f.getChat("g1"), g2}, f.listChats("carol", chat.ChatQuery{Limit: 10}))
	m4 := f.send("g1", "carol", f.at(4))
	require.Equal(f.t, int64(4), m4.Seq)
	f.requireLog("g1", createdEvent(m1), createdEvent(m2), addedEvent("g1", 3, "carol"), createdEvent(m4))
}

func testAddExistingMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.sendN("g1", "alice", 2, 1)
	f.markRead("g1", "bob", 2)
	f.addMember("g1", "alice", "carol", f.at(3))
	before := f.snapshot("g1")

	for _, c := range []chat.MemberChange{
		memberChange("g1", "alice", "bob", f.at(4)),
		memberChange("g1", "bob", "bob", f.at(4)),
		memberChange("g1", "bob", "carol", f.at(4)),
	} {
		_, changed, err := f.store.AddMember(f.ctx, c)
		require.NoError(f.t, err, "AddMember %+v of a current member", c)
		require.False(f.t, changed, "AddMember %+v of a current member must report changed=false", c)
	}
	// Nothing changes: no event, and the read markers stay, the one
	// carol got when she was added included.
	f.requireUnchanged(before, "adding current members")
}

func testAddMemberToDirectChat(f *fixture) {
	f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")
	f.send("d1", "alice", f.at(1))
	before := f.snapshot("d1")

	_, _, err := f.store.AddMember(f.ctx, memberChange("d1", "alice", "carol", f.at(2)))
	require.ErrorIs(f.t, err, chat.ErrInvalid, "AddMember to a direct chat must fail with an error wrapping chat.ErrInvalid")
	f.requireUnchanged(before, "adding a member to a direct chat")
	require.Empty(f.t, f.chatIDs("carol"))
}

func testAddMemberToFullChat(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	before := f.snapshot("g1")

	c := memberChange("g1", "alice", "dave", f.at(1))
	c.MaxMembers = 3
	_, _, err := f.store.AddMember(f.ctx, c)
	require.ErrorIs(f.t, err, chat.ErrInvalid, "AddMember to a chat with MaxMembers members must fail with an error wrapping chat.ErrInvalid")
	f.requireUnchanged(before, "adding a member to a full chat")
	require.Empty(f.t, f.chatIDs("dave"))

	c.MaxMembers = 4
	ev, changed, err := f.store.AddMember(f.ctx, c)
	require.NoError(f.t, err, "AddMember of the last member MaxMembers allows")
	require.True(f.t, changed)
	require.Equal(f.t, int64(1), ev.Seq)

	before = f.snapshot("g1")
	c = memberChange("g1", "dave", "erin", f.at(2))
	c.MaxMembers = 4
	_, _, err = f.store.AddMember(f.ctx, c)
	require.ErrorIs(f.t, err, chat.ErrInvalid, "AddMember to a chat that reached MaxMembers must fail with an error wrapping chat.ErrInvalid")
	f.requireUnchanged(before, "adding a member to a full chat")
}

func testAddMemberByNonMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "dave")
	f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")
	f.removeMember("g1", "carol", "carol", f.at(1))
	before := f.snapshot("g1")
	beforeDirect := f.snapshot("d1")

	for _, c := range []chat.MemberChange{
		memberChange("missing", "alice", "erin", f.at(2)),
		memberChange("g1", "dave", "erin", f.at(2)),
		memberChange("g1", "dave", "dave", f.at(2)),
		// A member who left may not come back on their own or bring others.
		memberChange("g1", "carol", "erin", f.at(2)),
		memberChange("g1", "carol", "carol", f.at(2)),
		// Non-members learn nothing about a chat, not even that it is
		// direct.
		memberChange("d1", "dave", "erin", f.at(2)),
	} {
		_, _, err := f.store.AddMember(f.ctx, c)
		requireNotFound(f.t, err, fmt.Sprintf("AddMember %+v by a non-member", c))
	}
	f.requireUnchanged(before, "additions by non-members")
	f.requireUnchanged(beforeDirect, "additions by non-members")
	require.Empty(f.t, f.chatIDs("erin"))
	require.Equal(f.t, []string{"g2"}, f.chatIDs("dave"))
	require.Empty(f.t, f.chatIDs("carol"))
}

func testAddMemberAgainAfterRemoval(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.sendN("g1", "alice", 2, 1)
	f.markRead("g1", "bob", 2)
	require.Equal(f.t, int64(3), f.removeMember("g1", "bob", "bob", f.at(3)))
	f.send("g1", "alice", f.at(4))

	// A member who comes back starts from their new member.added event,
	// not from where they had read to before.
	require.Equal(f.t, int64(5), f.addMember("g1", "alice", "bob", f.at(5)))
	m, err := f.store.GetMember(f.ctx, "g1", "bob")
	require.NoError(f.t, err)
	require.Equal(f.t, chat.Member{UserID: "bob", LastReadSeq: 5}, withoutRole(m))
	require.Equal(f.t, []string{"g1"}, f.chatIDs("bob"))
	require.Equal(f.t, int64(6), f.send("g1", "bob", f.at(6)).Seq)
}

func testRemoveSelf(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	g2 := f.group("g2", f.at(5), "bob", "alice")
	m1 := f.send("g1", "bob", f.at(1))

	// removeMember checks the event and the chat: bob is gone, his
	// message stays and is still LastMessage.
	require.Equal(f.t, int64(2), f.removeMember("g1", "bob", "bob", f.at(2)))
	f.requireLog("g1", createdEvent(m1), removedEvent("g1", 2, "bob"))
	requireRemoved(f, "g1", "bob")
	require.Equal(f.t, []string{"g2"}, f.chatIDs("bob"))
	requireChats(f.t, []chat.Chat{g2}, f.listChats("bob", chat.ChatQuery{Limit: 10}))
	require.Equal(f.t, map[string]int64{"g2": 0}, f.unreadCounts("bob", "g1", "g2"))

	// The others carry on.
	require.Equal(f.t, int64(3), f.send("g1", "carol", f.at(3)).Seq)
}

// requireRemoved checks that userID, no longer a member of chatID, can
// neither see it nor act in it.
func requireRemoved(f *fixture, chatID, userID string) {
	f.t.Helper()
	_, err := f.store.GetMember(f.ctx, chatID, userID)
	requireNotFound(f.t, err, "GetMember of a removed member")
	_, _, err = f.store.AppendMessage(f.ctx, f.newMessage(chatID, userID, f.at(100)))
	requireNotFound(f.t, err, "AppendMessage from a removed member")
	_, _, err = f.store.MarkRead(f.ctx, chatID, userID, 1)
	requireNotFound(f.t, err, "MarkRead by a removed member")
	require.NotContains(f.t, f.chatIDs(userID), chatID, "ChatIDs of a removed member")
	require.NotContains(f.t, idsOf(f.listChats(userID, chat.ChatQuery{Limit: allOfThem})), chatID, "ListChats of a removed member")
	require.NotContains(f.t, f.unreadCounts(userID, chatID), chatID, "UnreadCounts of a removed member")
}

func testRemoveByCreator(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.removeMember("g1", "alice", "carol", f.at(1))
	requireRemoved(f, "g1", "carol")
	f.removeMember("g1", "alice", "bob", f.at(2))
	requireRemoved(f, "g1", "bob")
	f.requireLog("g1", removedEvent("g1", 1, "carol"), removedEvent("g1", 2, "bob"))
	require.Empty(f.t, f.chatIDs("carol"))
}

func testRemoveOthersForbidden(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.send("g1", "bob", f.at(1))
	before := f.snapshot("g1")

	for _, c := range []chat.MemberChange{
		{ChatID: "g1", ActorID: "bob", UserID: "carol", At: f.at(2)},
		// The creator is removable only by themselves.
		{ChatID: "g1", ActorID: "bob", UserID: "alice", At: f.at(2)},
	} {
		_, err := f.store.RemoveMember(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "RemoveMember %+v by a member other than the creator must fail with an error wrapping chat.ErrForbidden", c)
	}
	f.requireUnchanged(before, "removals by a member other than the creator")
}

func testRemoveNotFound(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.group("g2", f.at(0), "dave")
	f.removeMember("g1", "alice", "bob", f.at(1))
	before := f.snapshot("g1")

	for _, c := range []chat.MemberChange{
		{ChatID: "missing", ActorID: "alice", UserID: "alice"},
		// Actors who are not members.
		{ChatID: "g1", ActorID: "dave", UserID: "carol"},
		{ChatID: "g1", ActorID: "dave", UserID: "dave"},
		{ChatID: "g1", ActorID: "bob", UserID: "carol"},
		// Users who are not members.
		{ChatID: "g1", ActorID: "alice", UserID: "dave"},
		{ChatID: "g1", ActorID: "alice", UserID: "bob"},
		{ChatID: "g1", ActorID: "bob", UserID: "bob"},
	} {
		c.At = f.at(2)
		_, err := f.store.RemoveMember(f.ctx, c)
		requireNotFound(f.t, err, fmt.Sprintf("RemoveMember %+v", c))
	}
	f.requireUnchanged(before, "removals involving non-members")
}

func testRemoveFromDirectChat(f *fixture) {
	f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")
	f.group("g1", f.at(0), "carol")
	before := f.snapshot("d1")

	for _, c := range []chat.MemberChange{
		{ChatID: "d1", ActorID: "alice", UserID: "alice"},
		{ChatID: "d1", ActorID: "alice", UserID: "bob"},
	} {
		c.At = f.at(1)
		_, err := f.store.RemoveMember(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrInvalid, "RemoveMember %+v from a direct chat must fail with an error wrapping chat.ErrInvalid", c)
	}
	// Non-members learn nothing about a chat, not even that it is direct.
	_, err := f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "d1", ActorID: "carol", UserID: "alice", At: f.at(1)})
	requireNotFound(f.t, err, "RemoveMember from a direct chat by a non-member")
	f.requireUnchanged(before, "removals from a direct chat")
	require.Equal(f.t, []string{"d1"}, f.chatIDs("alice"))
	require.Equal(f.t, []string{"d1"}, f.chatIDs("bob"))
}

func testRemoveCreatorLeaves(f *fixture) {
	if _, ok := f.store.(chat.RoleStore); ok {
		f.t.Skip("a chat.RoleStore passes ownership on when the last owner leaves: see the Roles suite")
	}
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.removeMember("g1", "alice", "alice", f.at(1))
	requireRemoved(f, "g1", "alice")
	before := f.snapshot("g1")

	// The creator's right to remove others goes with their membership and
	// passes to no one.
	_, err := f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "bob", At: f.at(2)})
	requireNotFound(f.t, err, "RemoveMember by a creator who left")
	_, err = f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "carol", At: f.at(2)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "RemoveMember by a member other than the creator, after the creator left")
	f.requireUnchanged(before, "removals after the creator left")
}
