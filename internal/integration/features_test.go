package integration_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// On PostgreSQL and Redis, a member removed on node A stops receiving the
// chat at once on node B, right after member.removed, while other chats
// keep flowing; and a reconnecting member's resume replays edits, deletes
// and membership changes in seq order.
func TestMultiNodeMembershipAndEdits(t *testing.T) {
	nodes := startNodes(t, 2, postgresStores(t), redisClients(t, ""), randomName("it:")+":")
	a, b := nodes[0], nodes[1]
	group := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	other := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	send(t, a, "alice", group.ID, "one")

	bob, _ := b.srv.Connect("bob", map[string]int64{group.ID: 1, other.ID: 0})
	carol, _ := b.srv.Connect("carol", map[string]int64{group.ID: 1})

	resp := a.srv.Do("alice", http.MethodDelete, "/chats/"+group.ID+"/members/bob", nil)
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
	ev := nextPastLateAnnouncements(t, bob, group.ID, other.ID)
	require.Equal(t, chat.EventMemberRemoved, ev.Type)
	require.Equal(t, "bob", ev.UserID)
	require.Equal(t, int64(2), ev.Seq)

	send(t, a, "alice", group.ID, "after bob left")
	require.Equal(t, int64(3), carol.NextOfType(chat.EventMessageCreated).Seq, "carol still gets the chat")
	send(t, a, "alice", other.ID, "barrier")
	ev = nextPastLateAnnouncements(t, bob, other.ID)
	require.Equal(t, other.ID, ev.ChatID, "nothing of the group reached bob before the barrier")
	require.Equal(t, int64(1), ev.Seq)

	// carol drops off; meanwhile the chat is edited, a message deleted and
	// membership changes.
	carol.Close()
	resp = a.srv.Do("alice", http.MethodPatch, "/chats/"+group.ID+"/messages/1", chat.SendMessageRequest{Text: "one, edited"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	resp = a.srv.Do("alice", http.MethodDelete, "/chats/"+group.ID+"/messages/3", nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	resp = a.srv.Do("alice", http.MethodPost, "/chats/"+group.ID+"/members", map[string]string{"user_id": "dave"})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	_, replay := b.srv.Connect("carol", map[string]int64{group.ID: 3})
	var types []chat.EventType
	var seqs []int64
	for _, ev := range replay {
		types = append(types, ev.Type)
		seqs = append(seqs, ev.Seq)
	}
	require.Equal(t, []chat.EventType{chat.EventMessageUpdated, chat.EventMessageDeleted, chat.EventMemberAdded}, types)
	require.Equal(t, []int64{4, 5, 6}, seqs)
}
