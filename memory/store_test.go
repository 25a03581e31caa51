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
	require.Equal(t, []chat.Member{{UserID: "alice", Role: chat.RoleOwner}, {UserID: "bob", Role: chat.RoleMember}}, got.Members)
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

// TestStoreCopiesChanges checks the same for what edits, read markers and
// member changes hand out, whose messages carry EditedAt pointers and whose
// chats carry LastMessage pointers.
func TestStoreCopiesChanges(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	at := time.Now().UTC().Truncate(time.Microsecond)
	_, _, err := s.CreateChat(ctx, chat.Chat{
		ID: "g1", Kind: chat.KindGroup, Title: "g1", Members: []chat.Member{{UserID: "alice"}, {UserID: "bob"}},
		CreatedBy: "alice", CreatedAt: at, LastActivityAt: at,
	}, "")
	require.NoError(t, err)
	_, _, err = s.AppendMessage(ctx, chat.Message{ChatID: "g1", Sender: "alice", Text: "hi", Metadata: json.RawMessage(`{"a":1}`), CreatedAt: at})
	require.NoError(t, err)
	editedAt := at.Add(time.Second)
	ev, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "g1", Seq: 1, UserID: "alice", Text: "edited", At: editedAt})
	require.NoError(t, err)
	_, _, err = s.MarkRead(ctx, "g1", "bob", 2)
	require.NoError(t, err)
	_, _, err = s.AddMember(ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "carol", At: editedAt, MaxMembers: 10})
	require.NoError(t, err)
	want, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	wantEvents, err := s.ListEvents(ctx, "g1", 0, 10)
	require.NoError(t, err)
	wantMessages, err := s.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)

	// Scribble on everything handed out.
	later := editedAt.Add(time.Hour)
	*ev.Message.EditedAt = later
	ev.Message.Metadata[2] = 'X'
	got, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	*got.LastMessage.EditedAt = later
	got.LastMessage.Metadata[2] = 'X'
	got.Members[1].LastReadSeq = 100
	list, err := s.ListChats(ctx, "bob", chat.ChatQuery{Limit: 10})
	require.NoError(t, err)
	*list[0].LastMessage.EditedAt = later
	list[0].LastMessage.Text = "changed"
	msgs, err := s.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	*msgs[0].EditedAt = later
	events, err := s.ListEvents(ctx, "g1", 0, 10)
	require.NoError(t, err)
	*events[0].Message.EditedAt = later
	*events[1].Message.EditedAt = later
	member, err := s.GetMember(ctx, "g1", "carol")
	require.NoError(t, err)
	member.LastReadSeq = 100

	got, err = s.GetChat(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.True(t, editedAt.Equal(*got.LastMessage.EditedAt))
	events, err = s.ListEvents(ctx, "g1", 0, 10)
	require.NoError(t, err)
	require.Equal(t, wantEvents, events)
	msgs, err = s.ListMessages(ctx, "g1", chat.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, wantMessages, msgs)
	member, err = s.GetMember(ctx, "g1", "carol")
	require.NoError(t, err)
	require.Equal(t, chat.Member{UserID: "carol", LastReadSeq: 3, Role: chat.RoleMember}, member)
}

// TestStoreChangesReturnUTC checks that times passed in another zone come
// back in UTC, as the contract promises, whatever the caller sent.
func TestStoreChangesReturnUTC(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	at := time.Now().Truncate(time.Microsecond).In(time.FixedZone("UTC+5", 5*3600))
	_, _, err := s.CreateChat(ctx, chat.Chat{
		ID: "g1", Kind: chat.KindGroup, Members: []chat.Member{{UserID: "alice"}}, CreatedBy: "alice", CreatedAt: at,
	}, "")
	require.NoError(t, err)
	_, _, err = s.AppendMessage(ctx, chat.Message{ChatID: "g1", Sender: "alice", Text: "hi", CreatedAt: at})
	require.NoError(t, err)
	ev, _, err := s.EditMessage(ctx, chat.MessageEdit{ChatID: "g1", Seq: 1, UserID: "alice", Text: "edited", At: at})
	require.NoError(t, err)
	require.Equal(t, time.UTC, ev.Message.EditedAt.Location())
	_, _, err = s.AddMember(ctx, chat.MemberChange{ChatID: "g1", ActorID: "alice", UserID: "bob", At: at, MaxMembers: 10})
	require.NoError(t, err)
	c, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, time.UTC, c.LastActivityAt.Location())
	require.Equal(t, time.UTC, c.LastMessage.EditedAt.Location())
	require.True(t, at.Equal(*c.LastMessage.EditedAt))
}
