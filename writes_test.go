package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// TestRESTCreateChatClientIDIsIdempotent checks, over real HTTP, that a
// retried group creation with the same client_id returns the first chat
// with 200 instead of creating a duplicate.
func TestRESTCreateChatClientIDIsIdempotent(t *testing.T) {
	t.Parallel()
	store := memory.NewStore()
	svc := chattest.NewService(t, chat.Config{Store: store})
	srv := chattest.NewServer(t, svc)
	create := func(user string, body map[string]any) chattest.Response {
		return srv.Do(user, http.MethodPost, "/chats", body)
	}

	first := create("alice", map[string]any{"kind": "group", "title": "Team", "members": []string{"bob"}, "client_id": "k1"})
	require.Equal(t, http.StatusCreated, first.Status, "body: %s", first.Body)
	c := restChatObject(t, first.Body)

	// The retry may differ: the first chat wins, as for a message's retry.
	retry := create("alice", map[string]any{"kind": "group", "title": "Team!", "members": []string{"bob", "carol"}, "client_id": "k1"})
	require.Equal(t, http.StatusOK, retry.Status, "body: %s", retry.Body)
	again := restChatObject(t, retry.Body)
	assert.Equal(t, c.ID, again.ID)
	assert.Equal(t, "Team", again.Title)
	assert.Equal(t, []string{"alice", "bob"}, restUserIDs(again))

	// Another client_id, or another creator with the same one, is another chat.
	other := create("alice", map[string]any{"kind": "group", "members": []string{"bob"}, "client_id": "k2"})
	require.Equal(t, http.StatusCreated, other.Status, "body: %s", other.Body)
	bobs := create("bob", map[string]any{"kind": "group", "members": []string{"alice"}, "client_id": "k1"})
	require.Equal(t, http.StatusCreated, bobs.Status, "body: %s", bobs.Body)
	// Without one, every request creates.
	for range 2 {
		r := create("alice", map[string]any{"kind": "group", "members": []string{"bob"}})
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	}
	ids, err := store.ChatIDs(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, ids, 5, "k1, k2, bob's k1 and two without client_id")

	// A direct chat takes a client_id and stays one per pair.
	d := create("alice", map[string]any{"kind": "direct", "members": []string{"dave"}, "client_id": "d1"})
	require.Equal(t, http.StatusCreated, d.Status, "body: %s", d.Body)
	d2 := create("alice", map[string]any{"kind": "direct", "members": []string{"dave"}, "client_id": "d2"})
	require.Equal(t, http.StatusOK, d2.Status, "body: %s", d2.Body)
	assert.Equal(t, restChatObject(t, d.Body).ID, restChatObject(t, d2.Body).ID)

	// A client_id follows the id rules.
	restRequireError(t, create("alice", map[string]any{"kind": "group", "client_id": strings.Repeat("x", chat.DefaultMaxIDBytes+1)}),
		http.StatusBadRequest, "invalid_request")
	restRequireError(t, create("alice", map[string]any{"kind": "group", "client_id": "a\x01b"}),
		http.StatusBadRequest, "invalid_request")

	// A creator who has left the group cannot see it again through a
	// retry.
	r := srv.Do("alice", http.MethodDelete, "/chats/"+c.ID+"/members/alice", nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	left := create("alice", map[string]any{"kind": "group", "members": []string{"bob"}, "client_id": "k1"})
	restRequireError(t, left, http.StatusConflict, "conflict")
	assert.NotContains(t, string(left.Body), c.ID)
}

// degradingStore is a Store whose UnreadCounts fails, and whose GetChat
// fails once AddMember has been called, as when a database goes away right
// after a write.
type degradingStore struct {
	chat.Store
	added atomic.Bool
}

var errEnrichment = errors.New("database went away after the write")

func (s *degradingStore) UnreadCounts(context.Context, string, []string) (map[string]int64, error) {
	return nil, errEnrichment
}

func (s *degradingStore) AddMember(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	ev, added, err := s.Store.AddMember(ctx, c)
	s.added.Store(true)
	return ev, added, err
}

func (s *degradingStore) GetChat(ctx context.Context, chatID string) (chat.Chat, error) {
	if s.added.Load() {
		return chat.Chat{}, errEnrichment
	}
	return s.Store.GetChat(ctx, chatID)
}

// TestRESTStoredWritesAnswerDespiteEnrichmentFailures checks that chat
// creation and member addition, once stored, answer with the stored chat
// although what follows the write fails: an error would make the client
// retry, and a retried group creation would create a duplicate.
func TestRESTStoredWritesAnswerDespiteEnrichmentFailures(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	mem := memory.NewStore()
	store := &degradingStore{Store: mem}
	svc := chattest.NewService(t, chat.Config{Store: store, Logger: slog.New(logs)})
	srv := chattest.NewServer(t, svc)
	ctx := context.Background()

	r := srv.Do("alice", http.MethodPost, "/chats", restGroup("bob"))
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	c := restChatObject(t, r.Body)
	assert.Equal(t, []string{"alice", "bob"}, restUserIDs(c))
	ids, err := mem.ChatIDs(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []string{c.ID}, ids)
	assert.Contains(t, logs.at(slog.LevelError), "chat: create chat stored; answering without unread count or display names")

	restSend(t, srv, "bob", c.ID, map[string]any{"text": "before carol"})
	r = srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/members", map[string]any{"user_id": "carol"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	added := restChatObject(t, r.Body)
	assert.Equal(t, []string{"alice", "bob", "carol"}, restUserIDs(added))
	assert.Equal(t, int64(2), added.LastSeq, "the chat at the seq of member.added")
	assert.Equal(t, int64(2), featMember(t, added, "carol").LastReadSeq)
	assert.Contains(t, logs.at(slog.LevelError), "chat: add member stored; answering with the chat as read before it")

	stored, err := mem.GetChat(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, stored.Members, added.Members, "the answer is what was stored")
}

// TestRESTAddMemberShowsCallersUnreadCount checks that the chat returned
// by POST /chats/{id}/members carries the caller's unread count, as
// docs/protocol.md says, not 0.
func TestRESTAddMemberShowsCallersUnreadCount(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	restSend(t, srv, "bob", c.ID, map[string]any{"text": "one"})
	restSend(t, srv, "bob", c.ID, map[string]any{"text": "two"})

	r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/members", map[string]any{"user_id": "carol"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	assert.Equal(t, int64(2), restChatObject(t, r.Body).UnreadCount, "alice has two unread messages from bob")

	r = srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/members", map[string]any{"user_id": "carol"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, int64(2), restChatObject(t, r.Body).UnreadCount)
}
