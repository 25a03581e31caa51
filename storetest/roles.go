package storetest

import (
	"encoding/json"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// rolesTests check the clauses of chat.RoleStore; Run skips them for a
// Store without it.
var rolesTests = []subtest{
	{"CreatorIsOwner", testRolesInitial},
	{"OnlyOwnersChangeRoles", testSetRole},
	{"LastOwnerCannotStepDown", testSetRoleLastOwner},
	{"RemovalByRank", testRemoveByRank},
	{"OwnershipPassesToOldestAdmin", testSuccessionAdmin},
	{"OwnershipPassesToOldestMember", testSuccessionMember},
	{"BanRemovesAndBlocksReAdding", testBan},
	{"BanNeedsRank", testBanForbidden},
	{"ModeratorsDeleteOthersMessages", testModeratorDelete},
	{"UpdateChat", testUpdateChat},
	{"DirectChatHasNoRoles", testRolesDirect},
}

func (f *fixture) roleStore() chat.RoleStore {
	f.t.Helper()
	rs, ok := f.store.(chat.RoleStore)
	if !ok {
		f.t.Skip("the Store is no chat.RoleStore")
	}
	return rs
}

func (f *fixture) role(chatID, userID string) chat.Role {
	f.t.Helper()
	m, err := f.store.GetMember(f.ctx, chatID, userID)
	require.NoError(f.t, err, "GetMember %s %s", chatID, userID)
	return m.Role
}

// setRole sets a role that changes and checks the event and the chat.
func (f *fixture) setRole(rs chat.RoleStore, chatID, actor, user string, role chat.Role, i int) int64 {
	f.t.Helper()
	before := f.getChat(chatID)
	ev, changed, err := rs.SetRole(f.ctx, chat.RoleChange{ChatID: chatID, ActorID: actor, UserID: user, Role: role, At: f.at(i)})
	require.NoError(f.t, err, "SetRole of %s to %s by %s", user, role, actor)
	require.True(f.t, changed, "SetRole of %s to %s: changed", user, role)
	require.Equal(f.t, chat.Event{Type: chat.EventMemberRole, ChatID: chatID, Seq: before.LastSeq + 1, UserID: user, ActorID: actor, Role: role}, ev)
	after := f.getChat(chatID)
	require.Equal(f.t, before.LastSeq+1, after.LastSeq, "LastSeq after SetRole")
	requireTime(f.t, f.at(i), after.LastActivityAt, "LastActivityAt after SetRole")
	require.Equal(f.t, role, f.role(chatID, user))
	return ev.Seq
}

func testRolesInitial(f *fixture) {
	f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	require.Equal(f.t, chat.RoleOwner, f.role("g1", "alice"))
	require.Equal(f.t, chat.RoleMember, f.role("g1", "bob"))
	f.addMember("g1", "bob", "dave", f.at(1))
	require.Equal(f.t, chat.RoleMember, f.role("g1", "dave"))
	for _, m := range f.getChat("g1").Members {
		require.NotEmpty(f.t, m.Role, "GetChat carries the role of %s", m.UserID)
	}
}

func testSetRole(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol", "dave")
	seq := f.setRole(rs, "g1", "alice", "bob", chat.RoleAdmin, 1)

	// The same role again changes nothing.
	before := f.snapshot("g1")
	_, changed, err := rs.SetRole(f.ctx, chat.RoleChange{ChatID: "g1", ActorID: "alice", UserID: "bob", Role: chat.RoleAdmin, At: f.at(2)})
	require.NoError(f.t, err)
	require.False(f.t, changed, "SetRole to the role the member has")

	// Admins and members change no one's role, nor raise their own.
	for _, c := range []chat.RoleChange{
		{ChatID: "g1", ActorID: "bob", UserID: "carol", Role: chat.RoleAdmin},
		{ChatID: "g1", ActorID: "bob", UserID: "bob", Role: chat.RoleOwner},
		{ChatID: "g1", ActorID: "carol", UserID: "dave", Role: chat.RoleAdmin},
		{ChatID: "g1", ActorID: "carol", UserID: "carol", Role: chat.RoleAdmin},
		{ChatID: "g1", ActorID: "bob", UserID: "alice", Role: chat.RoleMember},
	} {
		c.At = f.at(2)
		_, _, err := rs.SetRole(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "SetRole %+v", c)
	}
	// Not members: the actor, then the target.
	_, _, err = rs.SetRole(f.ctx, chat.RoleChange{ChatID: "g1", ActorID: "eve", UserID: "bob", Role: chat.RoleMember, At: f.at(2)})
	requireNotFound(f.t, err, "SetRole by a non-member")
	_, _, err = rs.SetRole(f.ctx, chat.RoleChange{ChatID: "g1", ActorID: "alice", UserID: "eve", Role: chat.RoleAdmin, At: f.at(2)})
	requireNotFound(f.t, err, "SetRole of a non-member")
	_, _, err = rs.SetRole(f.ctx, chat.RoleChange{ChatID: "missing", ActorID: "alice", UserID: "bob", Role: chat.RoleAdmin, At: f.at(2)})
	requireNotFound(f.t, err, "SetRole in a missing chat")
	f.requireUnchanged(before, "refused role changes")

	// An admin may step down; an owner may make another owner.
	f.setRole(rs, "g1", "bob", "bob", chat.RoleMember, 3)
	f.setRole(rs, "g1", "alice", "carol", chat.RoleOwner, 4)
	f.setRole(rs, "g1", "carol", "alice", chat.RoleAdmin, 5)
	evs := f.listEvents("g1", seq-1, 10)
	require.Len(f.t, evs, 4, "every role change is an event in the log")
	require.Equal(f.t, chat.Event{Type: chat.EventMemberRole, ChatID: "g1", Seq: seq, UserID: "bob", ActorID: "alice", Role: chat.RoleAdmin}, evs[0])
}

func testSetRoleLastOwner(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob")
	before := f.snapshot("g1")
	_, _, err := rs.SetRole(f.ctx, chat.RoleChange{ChatID: "g1", ActorID: "alice", UserID: "alice", Role: chat.RoleAdmin, At: f.at(1)})
	require.ErrorIs(f.t, err, chat.ErrConflict, "the last owner stepping down")
	f.requireUnchanged(before, "the last owner's refused step down")
	f.setRole(rs, "g1", "alice", "bob", chat.RoleOwner, 2)
	f.setRole(rs, "g1", "alice", "alice", chat.RoleMember, 3)
}

func testRemoveByRank(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol", "dave", "erin")
	f.setRole(rs, "g1", "alice", "bob", chat.RoleAdmin, 1)
	f.setRole(rs, "g1", "alice", "carol", chat.RoleAdmin, 2)
	before := f.snapshot("g1")
	for _, c := range []chat.MemberChange{
		{ChatID: "g1", ActorID: "bob", UserID: "carol"}, // admin, admin
		{ChatID: "g1", ActorID: "bob", UserID: "alice"}, // admin, owner
		{ChatID: "g1", ActorID: "dave", UserID: "erin"}, // member, member
		{ChatID: "g1", ActorID: "dave", UserID: "bob"},  // member, admin
	} {
		c.At = f.at(3)
		_, err := rs.RemoveMemberAs(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "RemoveMemberAs %+v", c)
		_, err = f.store.RemoveMember(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "RemoveMember %+v", c)
	}
	_, err := rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "zed", At: f.at(3)})
	requireNotFound(f.t, err, "RemoveMemberAs of a non-member")
	f.requireUnchanged(before, "refused removals")

	evs, err := rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "dave", At: f.at(4)})
	require.NoError(f.t, err, "an admin removes a member")
	require.Equal(f.t, []chat.Event{{Type: chat.EventMemberRemoved, ChatID: "g1", Seq: before.chat.LastSeq + 1, UserID: "dave"}}, evs)
	evs, err = rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "carol", At: f.at(5)})
	require.NoError(f.t, err, "an owner removes an admin")
	require.Len(f.t, evs, 1)
	f.removeMember("g1", "erin", "erin", f.at(6))
	requireRemoved(f, "g1", "dave")
	requireRemoved(f, "g1", "carol")
}

func testSuccessionAdmin(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.addMember("g1", "bob", "dave", f.at(1))
	f.addMember("g1", "bob", "adam", f.at(2))
	f.setRole(rs, "g1", "alice", "adam", chat.RoleAdmin, 3)
	f.setRole(rs, "g1", "alice", "dave", chat.RoleAdmin, 4)
	last := f.getChat("g1").LastSeq

	// dave joined before adam: the oldest admin, whatever the ids.
	evs, err := rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "alice", At: f.at(5)})
	require.NoError(f.t, err, "the last owner leaves")
	require.Equal(f.t, []chat.Event{
		{Type: chat.EventMemberRemoved, ChatID: "g1", Seq: last + 1, UserID: "alice"},
		{Type: chat.EventMemberRole, ChatID: "g1", Seq: last + 2, UserID: "dave", ActorID: "alice", Role: chat.RoleOwner},
	}, evs)
	require.Equal(f.t, chat.RoleOwner, f.role("g1", "dave"))
	require.Equal(f.t, last+2, f.getChat("g1").LastSeq)
	requireEventLog(f.t, evs, f.listEvents("g1", last, 10))
}

func testSuccessionMember(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "carol", "bob")
	f.addMember("g1", "bob", "aaron", f.at(1))
	// Initial members come first, by user id: bob, not carol nor aaron.
	evs, err := rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "alice", At: f.at(2)})
	require.NoError(f.t, err)
	require.Len(f.t, evs, 2)
	require.Equal(f.t, "bob", evs[1].UserID)
	require.Equal(f.t, chat.RoleOwner, f.role("g1", "bob"))

	// A co-owner remaining: nothing passes on.
	f.setRole(rs, "g1", "bob", "carol", chat.RoleOwner, 3)
	evs, err = rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "bob", At: f.at(4)})
	require.NoError(f.t, err)
	require.Len(f.t, evs, 1)

	// The last member leaving: no one to pass to.
	f.group("g2", f.at(5), "zoe")
	evs, err = rs.RemoveMemberAs(f.ctx, chat.MemberChange{ChatID: "g2", ActorID: "zoe", UserID: "zoe", At: f.at(6)})
	require.NoError(f.t, err)
	require.Len(f.t, evs, 1)
}

func testBan(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	last := f.getChat("g1").LastSeq

	evs, changed, err := rs.Ban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "bob", At: f.at(1)})
	require.NoError(f.t, err, "an owner bans a member")
	require.True(f.t, changed)
	require.Equal(f.t, []chat.Event{
		{Type: chat.EventMemberRemoved, ChatID: "g1", Seq: last + 1, UserID: "bob"},
		{Type: chat.EventMemberBanned, ChatID: "g1", Seq: last + 2, UserID: "bob", ActorID: "alice"},
	}, evs)
	requireRemoved(f, "g1", "bob")
	requireEventLog(f.t, evs, f.listEvents("g1", last, 10))

	// A ban of someone who is not a member is one event.
	evs, changed, err = rs.Ban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "mallory", At: f.at(2)})
	require.NoError(f.t, err)
	require.True(f.t, changed)
	require.Equal(f.t, []chat.Event{{Type: chat.EventMemberBanned, ChatID: "g1", Seq: last + 3, UserID: "mallory", ActorID: "alice"}}, evs)

	before := f.snapshot("g1")
	for _, u := range []string{"bob", "mallory"} {
		_, _, err = f.store.AddMember(f.ctx, memberChange("g1", "carol", u, f.at(3)))
		require.ErrorIs(f.t, err, chat.ErrForbidden, "AddMember of banned %s", u)
		_, changed, err = rs.Ban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: u, At: f.at(3)})
		require.NoError(f.t, err, "banning %s again", u)
		require.False(f.t, changed, "banning %s again", u)
	}
	f.requireUnchanged(before, "adding and banning banned users")

	bans, err := rs.ListBans(f.ctx, "g1", "alice")
	require.NoError(f.t, err)
	require.Len(f.t, bans, 2)
	require.Equal(f.t, []string{"bob", "mallory"}, []string{bans[0].UserID, bans[1].UserID})
	require.Equal(f.t, "alice", bans[0].BannedBy)
	requireTime(f.t, f.at(1), bans[0].At, "time of bob's ban")
	_, err = rs.ListBans(f.ctx, "g1", "bob")
	requireNotFound(f.t, err, "ListBans by a non-member")

	ev, changed, err := rs.Unban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "bob", At: f.at(4)})
	require.NoError(f.t, err)
	require.True(f.t, changed)
	require.Equal(f.t, chat.Event{Type: chat.EventMemberUnbanned, ChatID: "g1", Seq: last + 4, UserID: "bob", ActorID: "alice"}, ev)
	_, changed, err = rs.Unban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "bob", At: f.at(5)})
	require.NoError(f.t, err)
	require.False(f.t, changed, "lifting a ban that is gone")
	f.addMember("g1", "carol", "bob", f.at(6))
	bans, err = rs.ListBans(f.ctx, "g1", "alice")
	require.NoError(f.t, err)
	require.Len(f.t, bans, 1)
}

func testBanForbidden(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol", "dave")
	f.setRole(rs, "g1", "alice", "bob", chat.RoleAdmin, 1)
	f.setRole(rs, "g1", "alice", "carol", chat.RoleAdmin, 2)
	before := f.snapshot("g1")
	for _, c := range []chat.MemberChange{
		{ChatID: "g1", ActorID: "dave", UserID: "eve"},  // a member
		{ChatID: "g1", ActorID: "dave", UserID: "bob"},  // a member, an admin
		{ChatID: "g1", ActorID: "bob", UserID: "carol"}, // an admin, an admin
		{ChatID: "g1", ActorID: "bob", UserID: "alice"}, // an admin, the owner
	} {
		c.At = f.at(3)
		_, _, err := rs.Ban(f.ctx, c)
		require.ErrorIs(f.t, err, chat.ErrForbidden, "Ban %+v", c)
	}
	_, _, err := rs.Ban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "alice", At: f.at(3)})
	require.ErrorIs(f.t, err, chat.ErrInvalid, "banning oneself")
	_, _, err = rs.Ban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "eve", UserID: "dave", At: f.at(3)})
	requireNotFound(f.t, err, "Ban by a non-member")
	_, _, err = rs.Unban(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "dave", UserID: "eve", At: f.at(3)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "Unban by a member")
	f.requireUnchanged(before, "refused bans")
}

func testModeratorDelete(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.setRole(rs, "g1", "alice", "bob", chat.RoleAdmin, 1)
	m1 := f.send("g1", "carol", f.at(2))
	m2 := f.send("g1", "alice", f.at(3))
	m3 := f.send("g1", "carol", f.at(4))

	// Members may not delete others' messages; admins may not edit them.
	_, _, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m2.Seq, UserID: "carol", Delete: true, At: f.at(5)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "a member deleting another's message")
	_, _, err = f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m1.Seq, UserID: "bob", Text: "edited", At: f.at(5)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "an admin editing another's message")

	for _, c := range []struct {
		m     chat.Message
		actor string
	}{{m1, "bob"}, {m2, "bob"}, {m3, "alice"}} {
		ev, changed, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: c.m.Seq, UserID: c.actor, Delete: true, At: f.at(6)})
		require.NoError(f.t, err, "%s deleting message %d", c.actor, c.m.Seq)
		require.True(f.t, changed)
		require.True(f.t, ev.Message.Deleted)
		require.Equal(f.t, c.actor, ev.Message.DeletedBy, "the tombstone records who deleted it")
	}
	msgs := f.listMessages("g1", chat.MessageQuery{Limit: 10, Forward: true})
	require.Equal(f.t, []string{"bob", "bob", "alice"}, []string{msgs[0].DeletedBy, msgs[1].DeletedBy, msgs[2].DeletedBy})

	// The sender deleting their own message leaves DeletedBy empty.
	m4 := f.send("g1", "carol", f.at(7))
	ev, _, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m4.Seq, UserID: "carol", Delete: true, At: f.at(8)})
	require.NoError(f.t, err)
	require.Empty(f.t, ev.Message.DeletedBy)
}

func testUpdateChat(f *fixture) {
	rs := f.roleStore()
	f.group("g1", f.at(0), "alice", "bob", "carol")
	f.setRole(rs, "g1", "alice", "bob", chat.RoleAdmin, 1)
	last := f.getChat("g1").LastSeq

	title := "Renamed"
	ev, changed, err := rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "bob", Title: &title, At: f.at(2)})
	require.NoError(f.t, err, "an admin renames the group")
	require.True(f.t, changed)
	require.Equal(f.t, chat.Event{Type: chat.EventChatUpdated, ChatID: "g1", Seq: last + 1, ActorID: "bob", Info: &chat.ChatInfo{Title: "Renamed"}}, ev)
	c := f.getChat("g1")
	require.Equal(f.t, "Renamed", c.Title)
	require.Nil(f.t, c.Metadata)
	requireTime(f.t, f.at(2), c.LastActivityAt, "LastActivityAt after a rename")

	md := json.RawMessage(`{"avatar":"https://example.com/a.png"}`)
	ev, changed, err = rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "alice", Metadata: &md, At: f.at(3)})
	require.NoError(f.t, err)
	require.True(f.t, changed)
	require.Equal(f.t, "Renamed", ev.Info.Title)
	require.JSONEq(f.t, string(md), string(ev.Info.Metadata))
	require.JSONEq(f.t, string(md), string(f.getChat("g1").Metadata))
	listed := f.listChats("carol", chat.ChatQuery{Limit: 10})
	require.Len(f.t, listed, 1)
	require.JSONEq(f.t, string(md), string(listed[0].Metadata), "ListChats carries the metadata")

	// Replayed, each event carries the chat as that change left it.
	evs := f.listEvents("g1", last, 10)
	require.Len(f.t, evs, 2)
	require.Equal(f.t, "Renamed", evs[0].Info.Title)
	require.Nil(f.t, evs[0].Info.Metadata)
	require.JSONEq(f.t, string(md), string(evs[1].Info.Metadata))

	before := f.snapshot("g1")
	_, changed, err = rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "alice", Title: &title, Metadata: &md, At: f.at(4)})
	require.NoError(f.t, err)
	require.False(f.t, changed, "an update to what the chat has")
	_, _, err = rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "carol", Title: &title, At: f.at(4)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "a member renaming the group")
	_, _, err = rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "eve", Title: &title, At: f.at(4)})
	requireNotFound(f.t, err, "UpdateChat by a non-member")
	f.requireUnchanged(before, "refused and empty updates")

	var none json.RawMessage
	ev, changed, err = rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "g1", ActorID: "alice", Metadata: &none, At: f.at(5)})
	require.NoError(f.t, err)
	require.True(f.t, changed, "clearing the metadata")
	require.Nil(f.t, ev.Info.Metadata)
	require.Nil(f.t, f.getChat("g1").Metadata)
}

func testRolesDirect(f *fixture) {
	rs := f.roleStore()
	f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")
	require.Equal(f.t, chat.Role(""), f.role("d1", "alice"), "members of a direct chat have no role")
	m := f.send("d1", "bob", f.at(1))
	before := f.snapshot("d1")
	title := "x"
	_, _, err := rs.UpdateChat(f.ctx, chat.ChatUpdate{ChatID: "d1", ActorID: "alice", Title: &title, At: f.at(2)})
	require.ErrorIs(f.t, err, chat.ErrInvalid, "UpdateChat of a direct chat")
	_, _, err = rs.SetRole(f.ctx, chat.RoleChange{ChatID: "d1", ActorID: "alice", UserID: "alice", Role: chat.RoleOwner, At: f.at(2)})
	require.ErrorIs(f.t, err, chat.ErrInvalid, "SetRole in a direct chat")
	_, _, err = rs.Ban(f.ctx, chat.MemberChange{ChatID: "d1", ActorID: "alice", UserID: "bob", At: f.at(2)})
	require.ErrorIs(f.t, err, chat.ErrInvalid, "Ban in a direct chat")
	_, _, err = f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "d1", Seq: m.Seq, UserID: "alice", Delete: true, At: f.at(2)})
	require.ErrorIs(f.t, err, chat.ErrForbidden, "deleting the other's message in a direct chat")
	f.requireUnchanged(before, "refused changes to a direct chat")
}
