package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// blocksTests check the clauses of chat.BlockStore; Run skips them for a
// Store without it.
var blocksTests = []subtest{
	{"BlockListUnblock", testBlocks},
	{"DirectBlocking", testDirectBlocking},
}

func (f *fixture) blockStore() chat.BlockStore {
	f.t.Helper()
	bs, ok := f.store.(chat.BlockStore)
	if !ok {
		f.t.Skip("the Store is no chat.BlockStore")
	}
	return bs
}

func (f *fixture) blocking(bs chat.BlockStore, a, b string) [2]bool {
	f.t.Helper()
	ab, ba, err := bs.Blocking(f.ctx, a, b)
	require.NoError(f.t, err, "Blocking %s %s", a, b)
	return [2]bool{ab, ba}
}

func testBlocks(f *fixture) {
	bs := f.blockStore()
	added, err := bs.Block(f.ctx, "alice", "mallory", f.at(1))
	require.NoError(f.t, err)
	require.True(f.t, added)
	added, err = bs.Block(f.ctx, "alice", "mallory", f.at(2))
	require.NoError(f.t, err)
	require.False(f.t, added, "blocking twice")
	_, err = bs.Block(f.ctx, "alice", "bob", f.at(3))
	require.NoError(f.t, err)

	blocks, err := bs.ListBlocks(f.ctx, "alice")
	require.NoError(f.t, err)
	require.Len(f.t, blocks, 2)
	require.Equal(f.t, []string{"bob", "mallory"}, []string{blocks[0].UserID, blocks[1].UserID})
	requireTime(f.t, f.at(1), blocks[1].At, "the first block's time stays")
	blocks, err = bs.ListBlocks(f.ctx, "mallory")
	require.NoError(f.t, err)
	require.Empty(f.t, blocks, "blocks are per user")

	require.Equal(f.t, [2]bool{true, false}, f.blocking(bs, "alice", "mallory"))
	require.Equal(f.t, [2]bool{false, true}, f.blocking(bs, "mallory", "alice"))
	require.Equal(f.t, [2]bool{false, false}, f.blocking(bs, "bob", "mallory"))

	removed, err := bs.Unblock(f.ctx, "alice", "mallory")
	require.NoError(f.t, err)
	require.True(f.t, removed)
	removed, err = bs.Unblock(f.ctx, "alice", "mallory")
	require.NoError(f.t, err)
	require.False(f.t, removed, "unblocking twice")
	require.Equal(f.t, [2]bool{false, false}, f.blocking(bs, "alice", "mallory"))
}

func testDirectBlocking(f *fixture) {
	bs := f.blockStore()
	f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")
	f.group("g1", f.at(0), "alice", "bob")
	_, err := bs.Block(f.ctx, "bob", "alice", f.at(1))
	require.NoError(f.t, err)

	for _, c := range []struct {
		chatID, user             string
		group, blocks, blockedBy bool
	}{
		{"d1", "alice", false, false, true},
		{"d1", "bob", false, true, false},
		{"d1", "carol", false, false, false}, // not a member
		{"g1", "alice", true, false, false},  // a group
		{"g1", "carol", true, false, false},
		{"missing", "alice", false, false, false},
	} {
		group, blocks, blockedBy, err := bs.DirectBlocking(f.ctx, c.chatID, c.user)
		require.NoError(f.t, err)
		require.Equal(f.t, [3]bool{c.group, c.blocks, c.blockedBy}, [3]bool{group, blocks, blockedBy}, "DirectBlocking %s %s", c.chatID, c.user)
	}
}
