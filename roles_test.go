package chat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// These tests hold roles and moderation, member settings and blocks to the
// wire contract over real HTTP and WebSocket connections.

func roleSet(srv *chattest.Server, user, chatID, member string, role chat.Role) chattest.Response {
	return srv.Do(user, http.MethodPatch, "/chats/"+chatID+"/members/"+member, chat.SetRoleRequest{Role: role})
}

func roleBan(srv *chattest.Server, user, chatID, member string) chattest.Response {
	return srv.Do(user, http.MethodPost, "/chats/"+chatID+"/bans", chat.AddMemberRequest{UserID: member})
}

func roleUpdate(srv *chattest.Server, user, chatID string, body any) chattest.Response {
	return srv.Do(user, http.MethodPatch, "/chats/"+chatID, body)
}

func roleOf(t *testing.T, srv *chattest.Server, viewer, chatID, member string) chat.Role {
	t.Helper()
	return featMember(t, featGetChat(t, srv, viewer, chatID), member).Role
}

func TestFeatureRolesAndModeration(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	g := featGroup(t, srv, "alice", "bob", "carol", "dave")
	d := featDirect(t, srv, "alice", "bob")
	for user, role := range map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember, "carol": chat.RoleMember} {
		require.Equal(t, role, featMember(t, g, user).Role, "%s's role in the new group", user)
	}
	require.Empty(t, featMember(t, d, "alice").Role, "a direct chat has no roles")
	alice, _ := srv.Connect("alice", map[string]int64{g.ID: 0})
	carol, _ := srv.Connect("carol", map[string]int64{g.ID: 0})
	both := []*chattest.Conn{alice, carol}

	// Only owners change roles.
	restRequireError(t, roleSet(srv, "bob", g.ID, "carol", chat.RoleAdmin), http.StatusForbidden, "forbidden")
	restRequireError(t, roleSet(srv, "bob", g.ID, "bob", chat.RoleOwner), http.StatusForbidden, "forbidden")
	restRequireError(t, roleSet(srv, "alice", g.ID, "bob", "root"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleSet(srv, "alice", g.ID, "zed", chat.RoleAdmin), http.StatusNotFound, "not_found")
	restRequireError(t, roleSet(srv, "zed", g.ID, "bob", chat.RoleAdmin), http.StatusNotFound, "not_found")
	restRequireError(t, roleSet(srv, "alice", d.ID, "bob", chat.RoleAdmin), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleSet(srv, "alice", g.ID, "alice", chat.RoleMember), http.StatusConflict, "conflict")
	r := roleSet(srv, "alice", g.ID, "bob", chat.RoleAdmin)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var m chat.Member
	r.Decode(t, &m)
	require.Equal(t, chat.Member{UserID: "bob", Role: chat.RoleAdmin}, m)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRole, ChatID: g.ID, Seq: 1, UserID: "bob", ActorID: "alice", Role: chat.RoleAdmin}, both...)
	require.Equal(t, chat.RoleAdmin, roleOf(t, srv, "carol", g.ID, "bob"))

	// Owners and admins remove those they outrank.
	restRequireError(t, featRemove(srv, "bob", g.ID, "alice"), http.StatusForbidden, "forbidden")
	restRequireError(t, featRemove(srv, "carol", g.ID, "dave"), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusNoContent, featRemove(srv, "bob", g.ID, "dave").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 2, UserID: "dave"}, both...)

	// And delete anyone's message; the tombstone says who.
	own := mustSend(t, srv, "alice", g.ID, "alice's")
	hers := mustSend(t, srv, "carol", g.ID, "carol's")
	featExpectAll(t, chat.Event{Type: chat.EventMessageCreated, ChatID: g.ID, Seq: 3, Message: &own}, both...)
	featExpectAll(t, chat.Event{Type: chat.EventMessageCreated, ChatID: g.ID, Seq: 4, Message: &hers}, both...)
	restRequireError(t, featDelete(srv, "carol", g.ID, own.Seq), http.StatusForbidden, "forbidden")
	restRequireError(t, featEdit(srv, "bob", g.ID, hers.Seq, "edited by an admin"), http.StatusForbidden, "forbidden")
	tomb := featMustDecodeMessage(t, featDelete(srv, "bob", g.ID, hers.Seq), http.StatusOK)
	require.True(t, tomb.Deleted)
	require.Equal(t, "bob", tomb.DeletedBy)
	featExpectAll(t, chat.Event{Type: chat.EventMessageDeleted, ChatID: g.ID, Seq: 5, Message: &tomb}, both...)

	// Renaming and metadata: owners and admins, validated.
	restRequireError(t, roleUpdate(srv, "carol", g.ID, map[string]string{"title": "mine"}), http.StatusForbidden, "forbidden")
	restRequireError(t, roleUpdate(srv, "zed", g.ID, map[string]string{"title": "mine"}), http.StatusNotFound, "not_found")
	restRequireError(t, roleUpdate(srv, "alice", d.ID, map[string]string{"title": "ours"}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleUpdate(srv, "alice", g.ID, map[string]any{}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleUpdate(srv, "alice", g.ID, map[string]any{"metadata": []int{1}}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleUpdate(srv, "alice", g.ID, map[string]any{"title": strings.Repeat("x", 201)}), http.StatusBadRequest, "invalid_request")
	big := map[string]any{"metadata": map[string]string{"description": strings.Repeat("x", chat.DefaultMaxMetadataBytes)}}
	restRequireError(t, roleUpdate(srv, "alice", g.ID, big), http.StatusBadRequest, "invalid_request")
	r = roleUpdate(srv, "bob", g.ID, map[string]any{"title": "Team", "metadata": map[string]string{"avatar": "https://example.com/a.png"}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	renamed := restChatObject(t, r.Body)
	require.Equal(t, "Team", renamed.Title)
	require.JSONEq(t, `{"avatar":"https://example.com/a.png"}`, string(renamed.Metadata))
	info := &chat.ChatInfo{Title: "Team", Metadata: json.RawMessage(`{"avatar":"https://example.com/a.png"}`)}
	featExpectAll(t, chat.Event{Type: chat.EventChatUpdated, ChatID: g.ID, Seq: 6, ActorID: "bob", Info: info}, both...)

	// Bans: the member goes, and nobody can add them back until unbanned.
	restRequireError(t, roleBan(srv, "carol", g.ID, "bob"), http.StatusForbidden, "forbidden")
	restRequireError(t, roleBan(srv, "bob", g.ID, "alice"), http.StatusForbidden, "forbidden")
	restRequireError(t, roleBan(srv, "bob", g.ID, "bob"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, roleBan(srv, "zed", g.ID, "carol"), http.StatusNotFound, "not_found")
	restRequireError(t, roleBan(srv, "alice", d.ID, "bob"), http.StatusBadRequest, "invalid_request")
	require.Equal(t, http.StatusNoContent, roleBan(srv, "bob", g.ID, "carol").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 7, UserID: "carol"}, both...)
	featExpectAll(t, chat.Event{Type: chat.EventMemberBanned, ChatID: g.ID, Seq: 8, UserID: "carol", ActorID: "bob"}, alice)
	restRequireError(t, featAdd(srv, "alice", g.ID, "carol"), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusNoContent, roleBan(srv, "bob", g.ID, "carol").Status, "banning again changes nothing")
	r = srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/bans", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var bans chat.BanList
	r.Decode(t, &bans)
	require.Len(t, bans.Bans, 1)
	require.Equal(t, "carol", bans.Bans[0].UserID)
	require.Equal(t, "bob", bans.Bans[0].BannedBy)
	require.Equal(t, http.StatusCreated, featAdd(srv, "alice", g.ID, "erin").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 9, UserID: "erin"}, alice)
	restRequireError(t, srv.Do("erin", http.MethodGet, "/chats/"+g.ID+"/bans", nil), http.StatusForbidden, "forbidden")
	restRequireError(t, srv.Do("carol", http.MethodGet, "/chats/"+g.ID+"/bans", nil), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("erin", http.MethodDelete, "/chats/"+g.ID+"/bans/carol", nil), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusNoContent, srv.Do("bob", http.MethodDelete, "/chats/"+g.ID+"/bans/carol", nil).Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberUnbanned, ChatID: g.ID, Seq: 10, UserID: "carol", ActorID: "bob"}, alice)
	require.Equal(t, http.StatusCreated, featAdd(srv, "erin", g.ID, "carol").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberAdded, ChatID: g.ID, Seq: 11, UserID: "carol"}, alice)

	// The last owner leaving makes the oldest admin owner.
	require.Equal(t, http.StatusNoContent, featRemove(srv, "alice", g.ID, "alice").Status)
	featExpectAll(t, chat.Event{Type: chat.EventMemberRemoved, ChatID: g.ID, Seq: 12, UserID: "alice"}, alice)
	require.Equal(t, chat.RoleOwner, roleOf(t, srv, "erin", g.ID, "bob"))

	// Resuming replays every change, in order, with what it carries.
	_, replay := srv.Connect("erin", map[string]int64{g.ID: 0})
	require.Len(t, replay, 13)
	require.Equal(t, chat.Event{Type: chat.EventMemberRole, ChatID: g.ID, Seq: 1, UserID: "bob", ActorID: "alice", Role: chat.RoleAdmin}, replay[0])
	require.Equal(t, "bob", replay[3].Message.DeletedBy, "the replayed message.created of a deleted message carries its tombstone")
	require.Equal(t, &tomb, replay[4].Message)
	require.Equal(t, info, replay[5].Info)
	require.Equal(t, chat.EventMemberBanned, replay[7].Type)
	require.Equal(t, chat.EventMemberUnbanned, replay[9].Type)
	require.Equal(t, chat.Event{Type: chat.EventMemberRole, ChatID: g.ID, Seq: 13, UserID: "bob", ActorID: "alice", Role: chat.RoleOwner}, replay[12])
}

func settingsPatch(srv *chattest.Server, user, chatID string, body any) chattest.Response {
	return srv.Do(user, http.MethodPatch, "/chats/"+chatID+"/settings", body)
}

func listChatIDs(t *testing.T, srv *chattest.Server, user, query string) []string {
	t.Helper()
	r := srv.Do(user, http.MethodGet, "/chats"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var page chat.ChatPage
	r.Decode(t, &page)
	var ids []string
	for _, c := range page.Chats {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestFeatureMemberSettings(t *testing.T) {
	t.Parallel()
	pushes := make(chan []string, 1)
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{AfterSend: func(ctx context.Context, m chat.Message) {
		pushes <- chat.MutedMembers(ctx)
	}}})
	srv := chattest.NewServer(t, svc)
	g3 := featGroup(t, srv, "alice", "bob")
	g2 := featGroup(t, srv, "alice", "bob")
	g1 := featGroup(t, srv, "alice", "bob")
	phone, _ := srv.Connect("alice", map[string]int64{g3.ID: 0})
	laptop, _ := srv.Connect("alice", map[string]int64{g3.ID: 0})
	bob, _ := srv.Connect("bob", map[string]int64{g3.ID: 0})

	// A change reaches the member's own connections only.
	r := settingsPatch(srv, "alice", g3.ID, map[string]bool{"pinned": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var set chat.MemberSettings
	r.Decode(t, &set)
	require.Equal(t, chat.MemberSettings{Pinned: true}, set)
	featExpectAll(t, chat.Event{Type: chat.EventMemberSettings, ChatID: g3.ID, Seq: 1, UserID: "alice", Settings: &chat.MemberSettings{Pinned: true}}, phone, laptop)
	m := mustSend(t, srv, "alice", g3.ID, "after pinning")
	require.Equal(t, int64(2), m.Seq)
	// Bob gets seq 1 too, without whose settings changed or how.
	featExpectAll(t, chat.Event{Type: chat.EventMemberSettings, ChatID: g3.ID, Seq: 1}, bob)
	featExpect(t, bob, chat.EventMessageCreated, g3.ID, 2)
	<-pushes
	require.Equal(t, &set, featGetChat(t, srv, "alice", g3.ID).Settings)
	require.Nil(t, featGetChat(t, srv, "bob", g3.ID).Settings, "bob does not see alice's settings")

	// Pinned first, archived filtered, and paging walks every chat once.
	r = settingsPatch(srv, "alice", g1.ID, map[string]bool{"archived": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = settingsPatch(srv, "alice", g2.ID, map[string]bool{"pinned": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, []string{g3.ID, g2.ID, g1.ID}, listChatIDs(t, srv, "alice", ""))
	require.Equal(t, []string{g3.ID, g1.ID, g2.ID}, listChatIDs(t, srv, "bob", ""), "bob's list is by activity")
	require.Equal(t, []string{g3.ID, g2.ID}, listChatIDs(t, srv, "alice", "?archived=exclude"))
	require.Equal(t, []string{g1.ID}, listChatIDs(t, srv, "alice", "?archived=only"))
	require.Equal(t, []string{g3.ID, g2.ID, g1.ID}, listChatIDs(t, srv, "alice", "?archived=include"))
	var walked []string
	for cursor := ""; ; {
		r := srv.Do("alice", http.MethodGet, "/chats?limit=1&cursor="+cursor, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var page chat.ChatPage
		r.Decode(t, &page)
		for _, c := range page.Chats {
			walked = append(walked, c.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, []string{g3.ID, g2.ID, g1.ID}, walked)

	// Muted chats count unread messages; AfterSend learns who muted them.
	r = settingsPatch(srv, "alice", g3.ID, map[string]any{"muted": true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	mustSend(t, srv, "bob", g3.ID, "while alice is muted")
	require.Equal(t, []string{"alice"}, <-pushes)
	require.Equal(t, int64(1), featGetChat(t, srv, "alice", g3.ID).UnreadCount)
	r = settingsPatch(srv, "alice", g3.ID, map[string]any{"muted": true, "muted_until": "2000-01-01T00:00:00Z"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	mustSend(t, srv, "bob", g3.ID, "after the mute ended")
	require.Empty(t, <-pushes)

	// Refusals.
	restRequireError(t, settingsPatch(srv, "alice", g3.ID, map[string]any{}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, settingsPatch(srv, "alice", g3.ID, map[string]any{"muted_until": "2100-01-01T00:00:00Z"}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, settingsPatch(srv, "alice", g3.ID, map[string]any{"pinned": "yes"}), http.StatusBadRequest, "invalid_request")
	restRequireError(t, settingsPatch(srv, "carol", g3.ID, map[string]bool{"pinned": true}), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("alice", http.MethodGet, "/chats?archived=maybe", nil), http.StatusBadRequest, "invalid_request")
	restRequireError(t, srv.Do("alice", http.MethodGet, "/chats/"+g3.ID+"/settings", nil), http.StatusMethodNotAllowed, "method_not_allowed")

	// On resume the member's events replay to them, and to nobody else.
	_, mine := srv.Connect("alice", map[string]int64{g3.ID: 0})
	_, theirs := srv.Connect("bob", map[string]int64{g3.ID: 0})
	var mineTypes, theirSeqs []string
	for _, ev := range mine {
		mineTypes = append(mineTypes, string(ev.Type))
	}
	for i, ev := range theirs {
		require.Equal(t, int64(i+1), ev.Seq, "bob's replay is gap-free")
		if ev.Type == chat.EventMemberSettings {
			require.Equal(t, chat.Event{Type: chat.EventMemberSettings, ChatID: g3.ID, Seq: ev.Seq}, ev, "bob is replayed alice's settings")
		}
		theirSeqs = append(theirSeqs, string(ev.Type))
	}
	require.Equal(t, []string{"member.settings", "message.created", "member.settings", "message.created", "member.settings", "message.created"}, mineTypes)
	require.Equal(t, mineTypes, theirSeqs)
}

func blockPost(srv *chattest.Server, user, other string) chattest.Response {
	return srv.Do(user, http.MethodPost, "/blocks", chat.BlockRequest{UserID: other})
}

func TestFeatureBlocks(t *testing.T) {
	t.Parallel()
	srv := chattest.NewServer(t, chattest.NewService(t, chat.Config{}))
	validateAgainstOpenAPI(t, srv)
	d := featDirect(t, srv, "alice", "bob")
	g := featGroup(t, srv, "alice", "bob")
	send := func(user, chatID string) chattest.Response {
		return srv.Do(user, http.MethodPost, "/chats/"+chatID+"/messages", chat.SendMessageRequest{Text: "hi"})
	}
	direct := func(user, other string) chattest.Response {
		return srv.Do(user, http.MethodPost, "/chats", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{other}})
	}

	require.Equal(t, http.StatusNoContent, blockPost(srv, "bob", "alice").Status)
	require.Equal(t, http.StatusNoContent, blockPost(srv, "bob", "alice").Status, "blocking twice")
	r := send("alice", d.ID)
	restRequireError(t, r, http.StatusForbidden, "forbidden")
	require.Contains(t, string(r.Body), "this user has blocked you")
	r = send("bob", d.ID)
	restRequireError(t, r, http.StatusForbidden, "forbidden")
	require.Contains(t, string(r.Body), "you have blocked this user")
	restRequireError(t, send("carol", d.ID), http.StatusNotFound, "not_found")
	restRequireError(t, direct("alice", "bob"), http.StatusForbidden, "forbidden")
	restRequireError(t, direct("bob", "alice"), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusCreated, send("alice", g.ID).Status, "groups are not affected")
	require.Equal(t, http.StatusCreated, direct("alice", "carol").Status, "other pairs are not affected")

	r = srv.Do("bob", http.MethodGet, "/blocks", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var list chat.BlockList
	r.Decode(t, &list)
	require.Len(t, list.Blocks, 1)
	require.Equal(t, "alice", list.Blocks[0].UserID)
	r = srv.Do("alice", http.MethodGet, "/blocks", nil)
	r.Decode(t, &list)
	require.Empty(t, list.Blocks, "blocks are per user")

	restRequireError(t, blockPost(srv, "bob", "bob"), http.StatusBadRequest, "invalid_request")
	restRequireError(t, blockPost(srv, "bob", ""), http.StatusBadRequest, "invalid_request")
	restRequireError(t, srv.Do("alice", http.MethodDelete, "/blocks/bob", nil), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("bob", http.MethodPut, "/blocks", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	restRequireError(t, srv.Do("bob", http.MethodGet, "/blocks/alice/x", nil), http.StatusNotFound, "not_found")
	require.Equal(t, http.StatusNoContent, srv.Do("bob", http.MethodDelete, "/blocks/alice", nil).Status)
	require.Equal(t, http.StatusCreated, send("alice", d.ID).Status)
	require.Equal(t, http.StatusOK, direct("bob", "alice").Status)
}

// plainStore hides the optional abilities of the Store it holds.
type plainStore struct{ chat.Store }

func TestFeatureWithoutAbilitiesAnswers501(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{Store: plainStore{memory.NewStore()}})
	srv := chattest.NewServer(t, svc)
	validateAgainstOpenAPI(t, srv)
	g := featGroup(t, srv, "alice", "bob", "carol")

	for _, r := range []chattest.Response{
		roleSet(srv, "alice", g.ID, "bob", chat.RoleAdmin),
		roleBan(srv, "alice", g.ID, "bob"),
		srv.Do("alice", http.MethodGet, "/chats/"+g.ID+"/bans", nil),
		srv.Do("alice", http.MethodDelete, "/chats/"+g.ID+"/bans/bob", nil),
		roleUpdate(srv, "alice", g.ID, map[string]string{"title": "x"}),
		settingsPatch(srv, "alice", g.ID, map[string]bool{"pinned": true}),
		blockPost(srv, "alice", "bob"),
		srv.Do("alice", http.MethodGet, "/blocks", nil),
		srv.Do("alice", http.MethodDelete, "/blocks/bob", nil),
	} {
		restRequireError(t, r, http.StatusNotImplemented, "not_implemented")
	}
	// Without roles the creator's rule holds, as before.
	restRequireError(t, featRemove(srv, "bob", g.ID, "carol"), http.StatusForbidden, "forbidden")
	require.Equal(t, http.StatusNoContent, featRemove(srv, "alice", g.ID, "carol").Status)
	require.Empty(t, listChatIDs(t, srv, "alice", "?archived=only"), "without settings no chat is archived")
	require.Equal(t, []string{g.ID}, listChatIDs(t, srv, "alice", "?archived=exclude"))
}

// countingBlocks counts the Store's DirectBlocking calls.
type countingBlocks struct {
	*memory.Store
	calls atomic.Int64
}

func (c *countingBlocks) DirectBlocking(ctx context.Context, chatID, userID string) (bool, bool, bool, error) {
	c.calls.Add(1)
	return c.Store.DirectBlocking(ctx, chatID, userID)
}

// Sends into a group ask the Store about blocks once per node; sends into
// a direct chat every time.
func TestBlockCheckAsksOncePerGroup(t *testing.T) {
	t.Parallel()
	store := &countingBlocks{Store: memory.NewStore()}
	svc := chattest.NewService(t, chat.Config{Store: store})
	ctx := t.Context()
	g, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	d, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	for range 3 {
		_, _, err := svc.SendMessage(ctx, "alice", g.ID, chat.SendMessageRequest{Text: "hi"})
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), store.calls.Load())
	for range 3 {
		_, _, err := svc.SendMessage(ctx, "alice", d.ID, chat.SendMessageRequest{Text: "hi"})
		require.NoError(t, err)
	}
	require.Equal(t, int64(4), store.calls.Load())
}
