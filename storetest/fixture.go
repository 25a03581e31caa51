package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// asCreated returns what a Store holds for c right after creating it:
// initial members have read nothing, and there is no message yet.
func asCreated(c chat.Chat) chat.Chat {
	c.Members = sortedMembers(c.Members)
	for i := range c.Members {
		c.Members[i].LastReadSeq = 0
	}
	c.LastSeq = 0
	c.LastActivityAt = c.CreatedAt
	c.LastMessage = nil
	return c
}

// afterSend returns chat c as it is once m has been appended to it.
func afterSend(c chat.Chat, m chat.Message) chat.Chat {
	c.LastSeq = m.Seq
	c.LastActivityAt = m.CreatedAt
	c.LastMessage = &m
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
	require.ElementsMatch(t, withoutRoles(want.Members), withoutRoles(got.Members), "Members of chat %s", want.ID)
	require.Equal(t, want.LastSeq, got.LastSeq, "LastSeq of chat %s", want.ID)
	requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt of chat "+want.ID)
	requireTime(t, want.LastActivityAt, got.LastActivityAt, "LastActivityAt of chat "+want.ID)
	if want.LastMessage == nil {
		require.Nil(t, got.LastMessage, "LastMessage of chat %s, which has no message", want.ID)
		return
	}
	require.NotNil(t, got.LastMessage, "LastMessage of chat %s", want.ID)
	requireMessage(t, *want.LastMessage, *got.LastMessage)
}

func requireChats(t *testing.T, want, got []chat.Chat) {
	t.Helper()
	require.Equal(t, idsOf(want), idsOf(got), "chat ids")
	for i := range want {
		requireChat(t, want[i], got[i])
	}
}

// requireMessage fails unless got holds message want, in the state want
// describes: edited, deleted or neither.
func requireMessage(t *testing.T, want, got chat.Message) {
	t.Helper()
	require.Equal(t, want.ChatID, got.ChatID, "ChatID of message %d %q", want.Seq, want.Text)
	require.Equal(t, want.Seq, got.Seq, "Seq of message %q", want.Text)
	require.Equal(t, want.Sender, got.Sender, "Sender of message %d %q", want.Seq, want.Text)
	require.Equal(t, want.Text, got.Text, "Text of message %d", want.Seq)
	require.Equal(t, want.ClientID, got.ClientID, "ClientID of message %d %q", want.Seq, want.Text)
	requireMetadata(t, want.Metadata, got.Metadata, fmt.Sprintf("Metadata of message %d %q", want.Seq, want.Text))
	requireTime(t, want.CreatedAt, got.CreatedAt, fmt.Sprintf("CreatedAt of message %d %q", want.Seq, want.Text))
	require.Equal(t, want.Deleted, got.Deleted, "Deleted of message %d %q", want.Seq, want.Text)
	requireAttachments(t, want.Attachments, got.Attachments, fmt.Sprintf("Attachments of message %d %q", want.Seq, want.Text))
	if want.EditedAt == nil {
		require.Nil(t, got.EditedAt, "EditedAt of message %d %q, which was never edited", want.Seq, want.Text)
	} else {
		require.NotNil(t, got.EditedAt, "EditedAt of edited message %d %q", want.Seq, want.Text)
		requireTime(t, *want.EditedAt, *got.EditedAt, fmt.Sprintf("EditedAt of message %d %q", want.Seq, want.Text))
	}
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

// edited returns m as EditMessage leaves it after an edit to text at at.
func edited(m chat.Message, text string, at time.Time) chat.Message {
	m.Text = text
	m.EditedAt = &at
	return m
}

// tombstone returns m as EditMessage leaves it after a delete: its text
// and metadata are gone, and nothing else changes, EditedAt included,
// since a delete is not an edit.
func tombstone(m chat.Message) chat.Message {
	m.Text = ""
	m.Metadata = nil
	m.Deleted = true
	m.Attachments = nil
	return m
}

// edit edits m as its sender, checks what EditMessage returns and the chat
// it leaves, and returns m as edited.
func (f *fixture) edit(m chat.Message, text string, at time.Time) chat.Message {
	f.t.Helper()
	want := edited(m, text, at)
	f.changeMessage(chat.MessageEdit{ChatID: m.ChatID, Seq: m.Seq, UserID: m.Sender, Text: text, At: at}, chat.EventMessageUpdated, want)
	return want
}

// deleteMessage deletes m as its sender, checks what EditMessage returns
// and the chat it leaves, and returns m's tombstone.
func (f *fixture) deleteMessage(m chat.Message, at time.Time) chat.Message {
	f.t.Helper()
	want := tombstone(m)
	f.changeMessage(chat.MessageEdit{ChatID: m.ChatID, Seq: m.Seq, UserID: m.Sender, Delete: true, At: at}, chat.EventMessageDeleted, want)
	return want
}

// changeMessage runs e, which must change message want.Seq into want as
// the chat's next event, of type typ.
func (f *fixture) changeMessage(e chat.MessageEdit, typ chat.EventType, want chat.Message) {
	f.t.Helper()
	before := f.getChat(e.ChatID)
	ev, changed, err := f.store.EditMessage(f.ctx, e)
	require.NoError(f.t, err, "EditMessage %+v", e)
	require.True(f.t, changed, "EditMessage %+v: changed", e)
	seq := before.LastSeq + 1
	requireEvent(f.t, messageEvent(typ, seq, want), ev)

	after := before
	after.LastSeq = seq
	after.LastActivityAt = e.At
	if before.LastMessage != nil && before.LastMessage.Seq == want.Seq {
		after.LastMessage = &want
	}
	requireChat(f.t, after, f.getChat(e.ChatID))
	require.Equal(f.t, map[string]int64{e.ChatID: seq}, f.lastSeqs(e.ChatID), "LastSeqs after EditMessage %+v", e)
}

// memberChange is a MemberChange with room for every member the tests add.
func memberChange(chatID, actor, user string, at time.Time) chat.MemberChange {
	return chat.MemberChange{ChatID: chatID, ActorID: actor, UserID: user, At: at, MaxMembers: chat.DefaultMaxMembers}
}

// addMember has actor add user to chatID at at, checks what AddMember
// returns and the chat it leaves, and returns the event's seq.
func (f *fixture) addMember(chatID, actor, user string, at time.Time) int64 {
	f.t.Helper()
	before := f.getChat(chatID)
	c := memberChange(chatID, actor, user, at)
	ev, changed, err := f.store.AddMember(f.ctx, c)
	require.NoError(f.t, err, "AddMember %+v", c)
	require.True(f.t, changed, "AddMember %+v: changed", c)
	seq := before.LastSeq + 1
	requireEvent(f.t, memberEvent(chat.EventMemberAdded, chatID, seq, user), ev)

	after := before
	after.Members = append(slices.Clone(before.Members), chat.Member{UserID: user, LastReadSeq: seq})
	after.LastSeq = seq
	after.LastActivityAt = at
	requireChat(f.t, after, f.getChat(chatID))
	return seq
}

// removeMember has actor remove user from chatID at at, checks what
// RemoveMember returns and the chat it leaves, and returns the event's seq.
func (f *fixture) removeMember(chatID, actor, user string, at time.Time) int64 {
	f.t.Helper()
	before := f.getChat(chatID)
	c := chat.MemberChange{ChatID: chatID, ActorID: actor, UserID: user, At: at}
	ev, err := f.store.RemoveMember(f.ctx, c)
	require.NoError(f.t, err, "RemoveMember %+v", c)
	seq := before.LastSeq + 1
	requireEvent(f.t, memberEvent(chat.EventMemberRemoved, chatID, seq, user), ev)

	after := before
	after.Members = slices.DeleteFunc(slices.Clone(before.Members), func(m chat.Member) bool { return m.UserID == user })
	after.LastSeq = seq
	after.LastActivityAt = at
	if _, ok := f.store.(chat.RoleStore); ok {
		// A RoleStore passes ownership on when the last owner leaves.
		if evs := f.listEvents(chatID, seq, 1); len(evs) == 1 && evs[0].Type == chat.EventMemberRole {
			after.LastSeq = evs[0].Seq
		}
	}
	requireChat(f.t, after, f.getChat(chatID))
	return seq
}

func (f *fixture) markRead(chatID, userID string, seq int64) (int64, bool) {
	f.t.Helper()
	read, moved, err := f.store.MarkRead(f.ctx, chatID, userID, seq)
	require.NoError(f.t, err, "MarkRead %s %s %d", chatID, userID, seq)
	return read, moved
}

func (f *fixture) unreadCounts(userID string, chatIDs ...string) map[string]int64 {
	f.t.Helper()
	counts, err := f.store.UnreadCounts(f.ctx, userID, chatIDs)
	require.NoError(f.t, err, "UnreadCounts %s %v", userID, chatIDs)
	return counts
}

// withMarker returns c with userID's read marker at seq.
func withMarker(c chat.Chat, userID string, seq int64) chat.Chat {
	c.Members = slices.Clone(c.Members)
	for i := range c.Members {
		if c.Members[i].UserID == userID {
			c.Members[i].LastReadSeq = seq
		}
	}
	return c
}

// snapshot is what a chat looked like at one point: the chat, its log and
// its messages.
type snapshot struct {
	chat     chat.Chat
	events   []chat.Event
	messages []chat.Message
}

const allOfThem = 1000 // a limit above the length of any chat the tests build

func (f *fixture) snapshot(chatID string) snapshot {
	f.t.Helper()
	return snapshot{
		chat:     f.getChat(chatID),
		events:   f.listEvents(chatID, 0, allOfThem),
		messages: f.listMessages(chatID, chat.MessageQuery{Limit: allOfThem, Forward: true}),
	}
}

// requireUnchanged fails unless the chat is as it was in s.
func (f *fixture) requireUnchanged(s snapshot, after string) {
	f.t.Helper()
	got := f.snapshot(s.chat.ID)
	require.Equal(f.t, s.chat.Members, got.chat.Members, "members of chat %s after %s", s.chat.ID, after)
	requireChat(f.t, s.chat, got.chat)
	requireEventLog(f.t, s.events, got.events)
	requireMessages(f.t, s.messages, got.messages)
}

// requireLog fails unless want is the whole log of chatID.
func (f *fixture) requireLog(chatID string, want ...chat.Event) {
	f.t.Helper()
	requireEventLog(f.t, want, f.listEvents(chatID, 0, len(want)+10))
}

// requireGapFree checks that the log of chatID holds exactly the events
// 1 through its LastSeq, and returns that LastSeq.
func (f *fixture) requireGapFree(chatID string) int64 {
	f.t.Helper()
	last := f.lastSeqs(chatID)[chatID]
	events := f.listEvents(chatID, 0, int(last)+10)
	seqs := make([]int64, len(events))
	for i, e := range events {
		seqs[i] = e.Seq
	}
	require.Equal(f.t, seqRange(1, last), seqs, "seqs of the events of chat %s, whose LastSeq is %d", chatID, last)
	return last
}

// watchLog starts a reader that checks, until stop is called, that
// whatever LastSeqs reports for chatID is readable by ListEvents together
// with every event below it, gap-free from 1. Tests call it while other
// goroutines write; stop fails the test if the reader saw otherwise.
func (f *fixture) watchLog(chatID string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			default:
			}
			seqs, err := f.store.LastSeqs(f.ctx, []string{chatID})
			if !assert.NoError(f.t, err, "LastSeqs during writes") {
				return
			}
			events, err := f.store.ListEvents(f.ctx, chatID, 0, int(seqs[chatID])+allOfThem)
			if !assert.NoError(f.t, err, "ListEvents during writes") {
				return
			}
			if !assert.GreaterOrEqual(f.t, int64(len(events)), seqs[chatID], "events readable after LastSeqs reported them") {
				return
			}
			for i, e := range events {
				if !assert.Equal(f.t, int64(i+1), e.Seq, "seq of event %d of a read during writes", i) {
					return
				}
			}
		}
	}()
	var once sync.Once
	halt := func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
	// A failing test may not get to call stop; the reader must not outlive it.
	f.t.Cleanup(halt)
	return func() {
		f.t.Helper()
		halt()
		require.False(f.t, f.t.Failed(), "the reader of chat %s failed during writes", chatID)
	}
}

func createdEvent(m chat.Message) chat.Event {
	return messageEvent(chat.EventMessageCreated, m.Seq, m)
}

func updatedEvent(seq int64, m chat.Message) chat.Event {
	return messageEvent(chat.EventMessageUpdated, seq, m)
}

func deletedEvent(seq int64, m chat.Message) chat.Event {
	return messageEvent(chat.EventMessageDeleted, seq, m)
}

func messageEvent(typ chat.EventType, seq int64, m chat.Message) chat.Event {
	return chat.Event{Type: typ, ChatID: m.ChatID, Seq: seq, Message: &m}
}

func addedEvent(chatID string, seq int64, userID string) chat.Event {
	return memberEvent(chat.EventMemberAdded, chatID, seq, userID)
}

func removedEvent(chatID string, seq int64, userID string) chat.Event {
	return memberEvent(chat.EventMemberRemoved, chatID, seq, userID)
}

func memberEvent(typ chat.EventType, chatID string, seq int64, userID string) chat.Event {
	return chat.Event{Type: typ, ChatID: chatID, Seq: seq, UserID: userID}
}

// requireEvent fails unless got is event want. Message events must carry
// the message as it is now, with its own seq; member events their user.
func requireEvent(t *testing.T, want, got chat.Event) {
	t.Helper()
	require.Equal(t, want.Type, got.Type, "Type of event %d", want.Seq)
	require.Equal(t, want.ChatID, got.ChatID, "ChatID of event %d", want.Seq)
	require.Equal(t, want.Seq, got.Seq, "Seq of %s event", want.Type)
	if want.Message != nil {
		require.NotNil(t, got.Message, "Message of %s event %d", want.Type, want.Seq)
		requireMessage(t, *want.Message, *got.Message)
	}
	if want.UserID != "" {
		require.Equal(t, want.UserID, got.UserID, "UserID of %s event %d", want.Type, want.Seq)
	}
}

func requireEventLog(t *testing.T, want, got []chat.Event) {
	t.Helper()
	require.Equal(t, eventSeqs(want), eventSeqs(got), "event seqs")
	for i := range want {
		requireEvent(t, want[i], got[i])
	}
}

func eventSeqs(es []chat.Event) []int64 {
	seqs := make([]int64, len(es))
	for i, e := range es {
		seqs[i] = e.Seq
	}
	return seqs
}

// withoutRole returns m without its Role: the clauses of chat.Store hold
// whether the Store keeps roles (chat.RoleStore) or not; the Roles suite
// checks them.
func withoutRole(m chat.Member) chat.Member {
	m.Role = ""
	return m
}

func withoutRoles(ms []chat.Member) []chat.Member {
	out := make([]chat.Member, len(ms))
	for i, m := range ms {
		out[i] = withoutRole(m)
	}
	return out
}
