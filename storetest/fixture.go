package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// fixture is one subtest's store and the helpers that build valid chats and
// messages for it.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store chat.Store
	start time.Time
	texts int
}

func newFixture(t *testing.T, s chat.Store) *fixture {
	return &fixture{t: t, ctx: t.Context(), store: s, start: now()}
}

// now returns the current time the way the Service hands times to a Store.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// at returns a time i seconds after the subtest started. Tests order chats
// and messages by choosing these rather than by reading the clock, so that
// they can build ties on purpose.
func (f *fixture) at(i int) time.Time {
	return f.start.Add(time.Duration(i) * time.Second)
}

func newGroup(id string, createdAt time.Time, members ...string) chat.Chat {
	c := chat.Chat{
		ID:             id,
		Kind:           chat.KindGroup,
		Title:          "Group " + id,
		CreatedBy:      members[0],
		CreatedAt:      createdAt,
		LastActivityAt: createdAt,
	}
	for _, m := range members {
		c.Members = append(c.Members, chat.Member{UserID: m})
	}
	return c
}

func newDirect(id string, createdAt time.Time, from, to string) chat.Chat {
	return chat.Chat{
		ID:             id,
		Kind:           chat.KindDirect,
		Members:        []chat.Member{{UserID: from}, {UserID: to}},
		CreatedBy:      from,
		CreatedAt:      createdAt,
		LastActivityAt: createdAt,
	}
}

// asCreated returns what a Store holds for c right after creating it.
func asCreated(c chat.Chat) chat.Chat {
	c.Members = sortedMembers(c.Members)
	c.LastSeq = 0
	c.LastActivityAt = c.CreatedAt
	return c
}

// afterSend returns chat c as it is once m has been appended to it.
func afterSend(c chat.Chat, m chat.Message) chat.Chat {
	c.LastSeq = m.Seq
	c.LastActivityAt = m.CreatedAt
	return c
}

func sortedMembers(ms []chat.Member) []chat.Member {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b chat.Member) int { return cmp.Compare(a.UserID, b.UserID) })
	return ms
}

// createChat creates c, which must be new, and returns it as stored.
func (f *fixture) createChat(c chat.Chat, directKey string) chat.Chat {
	f.t.Helper()
	got, created, err := f.store.CreateChat(f.ctx, c, directKey)
	require.NoError(f.t, err, "CreateChat %s", c.ID)
	require.True(f.t, created, "CreateChat %s: created", c.ID)
	requireChat(f.t, asCreated(c), got)
	return asCreated(c)
}

// group creates a group chat whose creator is the first member.
func (f *fixture) group(id string, createdAt time.Time, members ...string) chat.Chat {
	f.t.Helper()
	return f.createChat(newGroup(id, createdAt, members...), "")
}

// newMessage returns a message with a text unique within the subtest.
func (f *fixture) newMessage(chatID, sender string, createdAt time.Time) chat.Message {
	f.texts++
	return chat.Message{
		ChatID:    chatID,
		Sender:    sender,
		Text:      fmt.Sprintf("message %d", f.texts),
		CreatedAt: createdAt,
	}
}

// appendMessage appends m, which must be new, and returns it as stored.
func (f *fixture) appendMessage(m chat.Message) chat.Message {
	f.t.Helper()
	got, created, err := f.store.AppendMessage(f.ctx, m)
	require.NoError(f.t, err, "AppendMessage %q", m.Text)
	require.True(f.t, created, "AppendMessage %q: created", m.Text)
	require.Positive(f.t, got.Seq, "AppendMessage %q: seq", m.Text)
	m.Seq = got.Seq
	requireMessage(f.t, m, got)
	return got
}

// send appends a new message from sender at createdAt.
func (f *fixture) send(chatID, sender string, createdAt time.Time) chat.Message {
	f.t.Helper()
	return f.appendMessage(f.newMessage(chatID, sender, createdAt))
}

// sendN sends n messages from sender, one per second from f.at(from).
func (f *fixture) sendN(chatID, sender string, n, from int) []chat.Message {
	f.t.Helper()
	ms := make([]chat.Message, n)
	for i := range ms {
		ms[i] = f.send(chatID, sender, f.at(from+i))
	}
	return ms
}

// getChat returns the chat, checking that its members come sorted.
func (f *fixture) getChat(id string) chat.Chat {
	f.t.Helper()
	c, err := f.store.GetChat(f.ctx, id)
	require.NoError(f.t, err, "GetChat %s", id)
	require.Equal(f.t, sortedMembers(c.Members), c.Members, "GetChat %s: members must be sorted by user id", id)
	return c
}

func (f *fixture) lastSeqs(ids ...string) map[string]int64 {
	f.t.Helper()
	seqs, err := f.store.LastSeqs(f.ctx, ids)
	require.NoError(f.t, err, "LastSeqs %v", ids)
	return seqs
}

func (f *fixture) chatIDs(userID string) []string {
	f.t.Helper()
	ids, err := f.store.ChatIDs(f.ctx, userID)
	require.NoError(f.t, err, "ChatIDs %s", userID)
	return ids
}

func (f *fixture) listChats(userID string, q chat.ChatQuery) []chat.Chat {
	f.t.Helper()
	cs, err := f.store.ListChats(f.ctx, userID, q)
	require.NoError(f.t, err, "ListChats %s %+v", userID, q)
	return cs
}

func (f *fixture) listMessages(chatID string, q chat.MessageQuery) []chat.Message {
	f.t.Helper()
	ms, err := f.store.ListMessages(f.ctx, chatID, q)
	require.NoError(f.t, err, "ListMessages %s %+v", chatID, q)
	return ms
}

func (f *fixture) listEvents(chatID string, afterSeq int64, limit int) []chat.Event {
	f.t.Helper()
	es, err := f.store.ListEvents(f.ctx, chatID, afterSeq, limit)
	require.NoError(f.t, err, "ListEvents %s after %d limit %d", chatID, afterSeq, limit)
	return es
}

func requireNotFound(t *testing.T, err error, call string) {
	t.Helper()
	require.ErrorIs(t, err, chat.ErrNotFound, "%s must fail with an error wrapping chat.ErrNotFound", call)
}

// requireChat fails unless got holds chat want. Members are compared as a
// set: only GetChat promises an order, and getChat checks it.
func requireChat(t *testing.T, want, got chat.Chat) {
	t.Helper()
	require.Equal(t, want.ID, got.ID, "chat ID")
	require.Equal(t, want.Kind, got.Kind, "Kind of chat %s", want.ID)
	require.Equal(t, want.Title, got.Title, "Title of chat %s", want.ID)
	require.Equal(t, want.CreatedBy, got.CreatedBy, "CreatedBy of chat %s", want.ID)
	require.ElementsMatch(t, want.Members, got.Members, "Members of chat %s", want.ID)
	require.Equal(t, want.LastSeq, got.LastSeq, "LastSeq of chat %s", want.ID)
	requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt of chat "+want.ID)
	requireTime(t, want.LastActivityAt, got.LastActivityAt, "LastActivityAt of chat "+want.ID)
}

func requireChats(t *testing.T, want, got []chat.Chat) {
	t.Helper()
	require.Equal(t, idsOf(want), idsOf(got), "chat ids")
	for i := range want {
		requireChat(t, want[i], got[i])
	}
}

// requireMessage fails unless got holds message want.
func requireMessage(t *testing.T, want, got chat.Message) {
	t.Helper()
	require.Equal(t, want.ChatID, got.ChatID, "ChatID of message %q", want.Text)
	require.Equal(t, want.Seq, got.Seq, "Seq of message %q", want.Text)
	require.Equal(t, want.Sender, got.Sender, "Sender of message %q", want.Text)
	require.Equal(t, want.Text, got.Text, "Text of message %d", want.Seq)
	require.Equal(t, want.ClientID, got.ClientID, "ClientID of message %q", want.Text)
	requireMetadata(t, want.Metadata, got.Metadata, fmt.Sprintf("Metadata of message %q", want.Text))
	requireTime(t, want.CreatedAt, got.CreatedAt, fmt.Sprintf("CreatedAt of message %q", want.Text))
}

func requireMessages(t *testing.T, want, got []chat.Message) {
	t.Helper()
	require.Equal(t, seqsOf(want), seqsOf(got), "message seqs")
	for i := range want {
		requireMessage(t, want[i], got[i])
	}
}

// requireMetadata compares metadata as JSON: a backend may reformat it, but
// not change its meaning, and absent metadata stays absent.
func requireMetadata(t *testing.T, want, got json.RawMessage, what string) {
	t.Helper()
	if isNull(want) {
		require.True(t, isNull(got), "%s: got %s, want nil", what, got)
		return
	}
	require.JSONEq(t, string(want), string(got), what)
}

func isNull(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// requireTime checks that got is the instant want and is in UTC, as the
// contract promises, so that it encodes with a "Z" suffix.
func requireTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: got %s, want %s", what, got, want)
	require.True(t, got.Location() == time.UTC, "%s: got location %q, want UTC", what, got.Location())
}

func seqsOf(ms []chat.Message) []int64 {
	seqs := make([]int64, len(ms))
	for i, m := range ms {
		seqs[i] = m.Seq
	}
	return seqs
}

// seqRange returns first, first+1, ..., last; nothing when last < first.
func seqRange(first, last int64) []int64 {
	seqs := make([]int64, 0, max(last-first+1, 0))
	for s := first; s <= last; s++ {
		seqs = append(seqs, s)
	}
	return seqs
}

func idsOf(cs []chat.Chat) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}
