package memory_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store { return memory.NewStore() })
}

// TestStoreCopies checks that nothing a caller passes in or gets back
// shares memory with what the store holds.
func TestStoreCopies(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	at := time.Now().UTC().Truncate(time.Microsecond)
	members := []chat.Member{{UserID: "bob"}, {UserID: "alice"}}
	created, _, err := s.CreateChat(ctx, chat.Chat{
		ID: "g1", Kind: chat.KindGroup, Title: "g1", Members: members,
		CreatedBy: "alice", CreatedAt: at, LastActivityAt: at,
	}, "")
	require.NoError(t, err)
	metadata := json.RawMessage(`{"a":1}`)
	msg := chat.Message{ChatID: "g1", Sender: "alice", Text: "hi", ClientID: "k1", Metadata: metadata, CreatedAt: at}
	sent, _, err := s.AppendMessage(ctx, msg)
	require.NoError(t, err)
	want, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	const wantMetadata = `{"a":1}`

	// Scribble on everything the caller has touched.
	members[0].UserID = "mallory"
	created.Members[0].UserID = "mallory"
	metadata[2] = 'X'
	sent.Metadata[2] = 'X'
	got, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	got.Members[0].UserID = "mallory"
	list, err := s.ListChats(ctx, "alice", chat.ChatQuery{Limit: 10})
	require.NoError(t, err)
	list[0].Members[1].UserID = "mallory"
	msgs, err := s.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	msgs[0].Metadata[2] = 'X'
	events, err := s.ListEvents(ctx, "g1", 0, 10)
	require.NoError(t, err)
	events[0].Message.Metadata[2] = 'X'
	msg.Metadata = json.RawMessage(wantMetadata)
	retried, created2, err := s.AppendMessage(ctx, msg)
	require.NoError(t, err)
	require.False(t, created2)
	retried.Metadata[2] = 'X'

	got, err = s.GetChat(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []chat.Member{{UserID: "alice"}, {UserID: "bob"}}, got.Members)
	list, err = s.ListChats(ctx, "alice", chat.ChatQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []chat.Chat{want}, list)
	msgs, err = s.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.JSONEq(t, wantMetadata, string(msgs[0].Metadata))
	events, err = s.ListEvents(ctx, "g1", 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.JSONEq(t, wantMetadata, string(events[0].Message.Metadata))
	retried, _, err = s.AppendMessage(ctx, msg)
	require.NoError(t, err)
	require.JSONEq(t, wantMetadata, string(retried.Metadata))
}

// TestStoreDuplicateChatID checks that a second chat with an id in use is
// refused rather than replacing the first: ids come from the Service, so a
// clash is a bug to surface, not a chat to overwrite.
func TestStoreDuplicateChatID(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	at := time.Now().UTC().Truncate(time.Microsecond)
	first := chat.Chat{
		ID: "g1", Kind: chat.KindGroup, Title: "first", Members: []chat.Member{{UserID: "alice"}},
		CreatedBy: "alice", CreatedAt: at, LastActivityAt: at,
	}
	_, _, err := s.CreateChat(ctx, first, "")
	require.NoError(t, err)
	second := first
	second.Title = "second"
	second.Members = []chat.Member{{UserID: "bob"}}
	_, _, err = s.CreateChat(ctx, second, "")
	require.Error(t, err)

	got, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, "first", got.Title)
	ids, err := s.ChatIDs(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, ids)
}
