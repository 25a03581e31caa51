package integration_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// On PostgreSQL and Redis, role changes, bans, chat updates and member
// settings made on node A reach connections on node B live, settings only
// the member's own, and replay on resume; blocks refuse direct sends on
// either node.
func TestMultiNodeRolesSettingsAndBlocks(t *testing.T) {
	nodes := startNodes(t, 2, postgresStores(t), redisClients(t, ""), randomName("it:")+":")
	a, b := nodes[0], nodes[1]
	group := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol", "dave"}})
	direct := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	bob, _ := b.srv.Connect("bob", map[string]int64{group.ID: 0, direct.ID: 0})
	carol, _ := b.srv.Connect("carol", map[string]int64{group.ID: 0})

	do := func(n node, user, method, path string, body any, status int) {
		t.Helper()
		resp := n.srv.Do(user, method, path, body)
		require.Equal(t, status, resp.Status, "%s %s: %s", method, path, resp.Body)
	}
	do(a, "alice", http.MethodPatch, "/chats/"+group.ID+"/members/bob", chat.SetRoleRequest{Role: chat.RoleAdmin}, http.StatusOK)
	do(a, "bob", http.MethodPatch, "/chats/"+group.ID, map[string]string{"title": "Renamed"}, http.StatusOK)
	do(a, "bob", http.MethodPost, "/chats/"+group.ID+"/bans", chat.AddMemberRequest{UserID: "dave"}, http.StatusNoContent)
	do(a, "carol", http.MethodPatch, "/chats/"+group.ID+"/settings", map[string]bool{"pinned": true}, http.StatusOK)
	send(t, a, "alice", group.ID, "after all that")

	want := []chat.Event{
		{Type: chat.EventMemberRole, ChatID: group.ID, Seq: 1, UserID: "bob", ActorID: "alice", Role: chat.RoleAdmin},
		{Type: chat.EventChatUpdated, ChatID: group.ID, Seq: 2, ActorID: "bob", Info: &chat.ChatInfo{Title: "Renamed", Metadata: json.RawMessage("null")}}, // as JSON decodes it
		{Type: chat.EventMemberRemoved, ChatID: group.ID, Seq: 3, UserID: "dave"},
		{Type: chat.EventMemberBanned, ChatID: group.ID, Seq: 4, UserID: "dave", ActorID: "bob"},
	}
	settings := chat.Event{Type: chat.EventMemberSettings, ChatID: group.ID, Seq: 5, UserID: "carol", Settings: &chat.MemberSettings{Pinned: true}}
	for _, w := range want {
		require.Equal(t, w, bob.Next())
		require.Equal(t, w, carol.Next())
	}
	require.Equal(t, settings, carol.Next(), "carol's own settings reach her")
	require.Equal(t, chat.Event{Type: chat.EventMemberSettings, ChatID: group.ID, Seq: 5}, bob.Next(), "bob gets the seq, not carol's settings")
	require.Equal(t, int64(6), bob.Next().Seq)
	require.Equal(t, int64(6), carol.Next().Seq)

	_, replay := b.srv.Connect("carol", map[string]int64{group.ID: 0})
	require.Len(t, replay, 6)
	require.Equal(t, want, replay[:4])
	require.Equal(t, settings, replay[4])
	_, replay = b.srv.Connect("bob", map[string]int64{group.ID: 0})
	require.Len(t, replay, 6)
	require.Equal(t, want, replay[:4])
	require.Equal(t, chat.Event{Type: chat.EventMemberSettings, ChatID: group.ID, Seq: 5}, replay[4], "bob's replay has the seq, not carol's settings")

	do(a, "bob", http.MethodPost, "/blocks", chat.BlockRequest{UserID: "alice"}, http.StatusNoContent)
	do(b, "alice", http.MethodPost, "/chats/"+direct.ID+"/messages", chat.SendMessageRequest{Text: "hi"}, http.StatusForbidden)
	do(a, "alice", http.MethodPost, "/chats/"+group.ID+"/members", chat.AddMemberRequest{UserID: "dave"}, http.StatusForbidden)
	do(b, "alice", http.MethodDelete, "/chats/"+group.ID+"/members/alice", nil, http.StatusNoContent)
	ev := bob.Next()
	require.Equal(t, chat.EventMemberRemoved, ev.Type)
	require.Equal(t, chat.Event{Type: chat.EventMemberRole, ChatID: group.ID, Seq: 8, UserID: "bob", ActorID: "alice", Role: chat.RoleOwner}, bob.Next(),
		"the oldest admin becomes owner when the last owner leaves")
}
