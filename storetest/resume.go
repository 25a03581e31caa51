package storetest

import (
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// testChatIDsOf checks that ChatIDsOf answers for many users what ChatIDs
// answers for each: members only, a removed member no longer, a user in
// no chat with nothing.
func testChatIDsOf(f *fixture) {
	batcher, ok := f.store.(chat.ChatIDsBatcher)
	if !ok {
		f.t.Skip("the Store is no chat.ChatIDsBatcher")
	}
	f.chatsOfFourUsers()

	got, err := batcher.ChatIDsOf(f.ctx, []string{"alice", "bob", "carol", "dave", "nobody"})
	require.NoError(f.t, err)
	want := map[string][]string{"alice": {"g1", "d1"}, "bob": {"g1", "g2", "g3"}, "carol": {"d1"}}
	for user, ids := range want {
		assert.ElementsMatch(f.t, ids, got[user], "chats of %s", user)
		assert.ElementsMatch(f.t, f.chatIDs(user), got[user], "ChatIDsOf and ChatIDs of %s", user)
	}
	assert.Empty(f.t, got["dave"], "a member no longer")
	assert.Empty(f.t, got["nobody"])
	for user := range got {
		assert.Contains(f.t, []string{"alice", "bob", "carol", "dave", "nobody"}, user, "only users asked for")
	}

	got, err = batcher.ChatIDsOf(f.ctx, nil)
	require.NoError(f.t, err)
	assert.Empty(f.t, got)
}

// chatsOfFourUsers puts alice in g1 and d1, bob in g1, g2 and g3, carol in
// d1, and dave in no chat: he left g3.
func (f *fixture) chatsOfFourUsers() {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(1), "bob")
	f.createChat(newDirect("d1", f.at(2), "carol", "alice"), "alice:carol")
	f.group("g3", f.at(3), "bob", "dave")
	_, err := f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "g3", ActorID: "dave", UserID: "dave", At: f.at(4)})
	require.NoError(f.t, err)
}
