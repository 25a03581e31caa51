package chat_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// ambiguousStore stores writes and then, like a database connection that
// broke or a request cancelled during the commit, may report an error.
type ambiguousStore struct {
	chat.Store
	// fail makes the next write report ErrUnavailable after storing.
	fail atomic.Bool
	// commit, when set, stops AppendMessage before it stores; the write
	// then reports its context's error, as lib/pq does for a query whose
	// context ended while it ran.
	commit *pause
}

func (s *ambiguousStore) AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	if s.commit != nil {
		s.commit.wait(context.Background())
	}
	stored, created, err := s.Store.AppendMessage(ctx, m)
	if err != nil {
		return stored, created, err
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, false, err
	}
	if s.fail.Swap(false) {
		return chat.Message{}, false, fmt.Errorf("connection reset: %w", chat.ErrUnavailable)
	}
	return stored, created, nil
}

func (s *ambiguousStore) EditMessage(ctx context.Context, e chat.MessageEdit) (chat.Event, bool, error) {
	ev, changed, err := s.Store.EditMessage(ctx, e)
	if err == nil && s.fail.Swap(false) {
		return chat.Event{}, false, fmt.Errorf("connection reset: %w", chat.ErrUnavailable)
	}
	return ev, changed, err
}

// deliveryPair is a writer node and a reader node sharing a Store, and
// bob's subscription on the reader node to a group of alice, bob and carol.
func deliveryPair(t *testing.T, store chat.Store) (writer *chat.Service, group chat.Chat, bob *chat.Subscription) {
	t.Helper()
	broker := memory.NewBroker()
	writer = chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	reader := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	group, _, err := writer.CreateChat(context.Background(), "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	require.NoError(t, err)
	bob, _ = subscribe(t, reader, "bob", map[string]int64{group.ID: 0})
	return writer, group, bob
}

// storedBeforeTyping reads bob's next events of the chat until a typing
// event of alice, which the test publishes after the write: the stored
// events before it must have arrived by then, without any later write.
func storedBeforeTyping(t *testing.T, writer *chat.Service, sub *chat.Subscription, chatID string) []chat.Event {
	t.Helper()
	return storedBeforeTypingOf(t, writer, "alice", sub, chatID)
}

// storedBeforeTypingOf is storedBeforeTyping with typer typing, as a
// user's typing events are spaced by Config.TypingInterval.
func storedBeforeTypingOf(t *testing.T, writer *chat.Service, typer string, sub *chat.Subscription, chatID string) []chat.Event {
	t.Helper()
	require.NoError(t, writer.Typing(context.Background(), typer, chatID))
	var got []chat.Event
	for {
		ev := nextIn(t, sub, chatID)
		if ev.Type == chat.EventTyping {
			return got
		}
		got = append(got, ev)
	}
}

// A write the Store made but reported as failed (the outcome unknown to
// the Service) still reaches every node's readers, without waiting for
// the chat's next event.
func TestWriteWithUnknownOutcomeIsDelivered(t *testing.T) {
	store := &ambiguousStore{Store: memory.NewStore()}
	writer, group, bob := deliveryPair(t, store)
	ctx := context.Background()

	store.fail.Store(true)
	_, _, err := writer.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "stored anyway"})
	require.ErrorIs(t, err, chat.ErrUnavailable)
	got := storedBeforeTyping(t, writer, bob, group.ID)
	require.Len(t, got, 1)
	require.Equal(t, chat.EventMessageCreated, got[0].Type)
	require.Equal(t, "stored anyway", got[0].Message.Text)

	store.fail.Store(true)
	_, err = writer.EditMessage(ctx, "alice", group.ID, got[0].Seq, "edited anyway")
	require.ErrorIs(t, err, chat.ErrUnavailable)
	got = storedBeforeTypingOf(t, writer, "carol", bob, group.ID)
	require.Len(t, got, 1)
	require.Equal(t, chat.EventMessageUpdated, got[0].Type)
}

// A client that goes away while its message is being committed does not
// turn the commit into an error: the message is stored and announced.
func TestSendOutlivesItsCaller(t *testing.T) {
	store := &ambiguousStore{Store: memory.NewStore(), commit: newPause()}
	openOnCleanup(t, store.commit)
	writer, group, bob := deliveryPair(t, store)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := writer.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "committing"})
		errc <- err
	}()
	store.commit.awaitReached(t, "AppendMessage")
	cancel()
	store.commit.open()
	require.NoError(t, <-errc)
	got := storedBeforeTyping(t, writer, bob, group.ID)
	require.Len(t, got, 1)
	require.Equal(t, "committing", got[0].Message.Text)
}

// A retry of a send that was stored but never announced (its node went
// down in between) announces it, and runs AfterSend only once.
func TestSendRetryAnnouncesTheStoredMessage(t *testing.T) {
	store := memory.NewStore()
	var afterSends atomic.Int32
	broker := memory.NewBroker()
	hooks := chat.Hooks{AfterSend: func(context.Context, chat.Message) { afterSends.Add(1) }}
	writer := chattest.NewService(t, chat.Config{Store: store, Broker: broker, Hooks: hooks})
	reader := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	ctx := context.Background()
	group, _, err := writer.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	bob, _ := subscribe(t, reader, "bob", map[string]int64{group.ID: 0})

	// The first attempt, on a node that stopped before announcing.
	m, err := writer.NewMessage("alice", group.ID, chat.SendMessageRequest{Text: "retried", ClientID: "c1"})
	require.NoError(t, err)
	_, created, err := store.AppendMessage(ctx, m)
	require.NoError(t, err)
	require.True(t, created)

	again, created, err := writer.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "retried", ClientID: "c1"})
	require.NoError(t, err)
	require.False(t, created)
	got := storedBeforeTyping(t, writer, bob, group.ID)
	require.Len(t, got, 1)
	require.Equal(t, again.Seq, got[0].Seq)
	require.NoError(t, writer.Shutdown(ctx))
	require.Zero(t, afterSends.Load(), "AfterSend ran for a retry")
}

// A replay goes on past a removal the user was added back after: every
// event after the position is theirs, up to their last removal, here made
// while the replay is starting.
func TestReplayGoesOnAfterAnOldRemoval(t *testing.T) {
	ctx := context.Background()
	hooked := &hookedStore{Store: memory.NewStore()}
	svc := chattest.NewService(t, chat.Config{Store: hooked})
	group, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	send := func(text string) {
		_, _, err := svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: text})
		require.NoError(t, err)
	}
	send("before")
	require.NoError(t, svc.RemoveMember(ctx, "alice", group.ID, "bob"))
	send("while out")
	_, _, err = svc.AddMember(ctx, "alice", group.ID, "bob")
	require.NoError(t, err)
	send("back")

	// The first LastSeqs naming the group is the stream's baseline, the
	// second the replay's end.
	replayStarts := newPause()
	var lastSeqs atomic.Int32
	hooked.beforeLastSeqs = func(ctx context.Context, ids []string) {
		if slices.Contains(ids, group.ID) && lastSeqs.Add(1) == 2 {
			replayStarts.wait(ctx)
		}
	}
	openOnCleanup(t, replayStarts)
	bob, err := svc.Subscribe(ctx, "bob", map[string]int64{group.ID: 0})
	require.NoError(t, err)
	t.Cleanup(func() { bob.Close() })
	replayStarts.awaitReached(t, "bob's resume reads where the group ends")
	require.NoError(t, svc.RemoveMember(ctx, "alice", group.ID, "bob"))
	send("out again")
	replayStarts.open()

	var got []string
	for _, ev := range untilResumed(t, bob) {
		require.Equal(t, group.ID, ev.ChatID)
		switch ev.Type {
		case chat.EventMessageCreated:
			got = append(got, ev.Message.Text)
		case chat.EventMemberAdded, chat.EventMemberRemoved:
			got = append(got, string(ev.Type)+" "+ev.UserID)
		}
	}
	require.Equal(t, []string{"before", "member.removed bob", "while out", "member.added bob", "back", "member.removed bob"}, got)
}

// gatedChatIDs stops the n-th ChatIDs call for user before it reads.
type gatedChatIDs struct {
	chat.Store
	user  string
	n     int32
	calls atomic.Int32
	gate  *pause
}

func (s *gatedChatIDs) ChatIDs(ctx context.Context, userID string) ([]string, error) {
	if userID == s.user && s.calls.Add(1) == s.n {
		s.gate.wait(ctx)
	}
	return s.Store.ChatIDs(ctx, userID)
}

// A member removed while their connection resumes, after it joined the
// chat's stream and before it checked their chats again, gets every event
// from their position up to the removal, the removal included.
func TestRemovedDuringResumeGetsEventsUpToTheRemoval(t *testing.T) {
	ctx := context.Background()
	gated := &gatedChatIDs{Store: memory.NewStore(), user: "bob", n: 2, gate: newPause()}
	openOnCleanup(t, gated.gate)
	svc := chattest.NewService(t, chat.Config{Store: gated})
	group, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
	require.NoError(t, err)
	// carol keeps the group's stream running, ahead of bob's position.
	carol, _ := subscribe(t, svc, "carol", nil)
	seen, _, err := svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "seen"})
	require.NoError(t, err)
	_, _, err = svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "missed"})
	require.NoError(t, err)
	nextIn(t, carol, group.ID)
	nextIn(t, carol, group.ID)

	gated.calls.Store(0) // the resume reads bob's chats, follows them, reads again
	bob, err := svc.Subscribe(ctx, "bob", map[string]int64{group.ID: seen.Seq})
	require.NoError(t, err)
	t.Cleanup(func() { bob.Close() })
	gated.gate.awaitReached(t, "bob's resume checks his chats again")
	require.NoError(t, svc.RemoveMember(ctx, "alice", group.ID, "bob"))
	// Once carol has the next event, the stream gave bob the removal.
	_, _, err = svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)
	for nextIn(t, carol, group.ID).Type != chat.EventMessageCreated {
	}
	gated.gate.open()

	rctx, cancel := context.WithTimeout(ctx, chattest.Timeout)
	defer cancel()
	var got []string
	for {
		ev, err := bob.Next(rctx)
		require.NoError(t, err)
		if ev.ChatID != group.ID {
			continue
		}
		if ev.Type == chat.EventMessageCreated {
			got = append(got, ev.Message.Text)
		}
		if ev.Type == chat.EventMemberRemoved {
			break
		}
	}
	require.Equal(t, []string{"missed"}, got)
}

// slowAnnounceStore stops the first GetChat after an AddMember: the
// read AddMember makes before announcing the new member's chat.created.
type slowAnnounceStore struct {
	chat.Store
	added    atomic.Bool
	announce *pause
}

func (s *slowAnnounceStore) AddMember(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	ev, added, err := s.Store.AddMember(ctx, c)
	s.added.Store(err == nil)
	return ev, added, err
}

func (s *slowAnnounceStore) GetChat(ctx context.Context, chatID string) (chat.Chat, error) {
	if s.added.Swap(false) {
		s.announce.wait(ctx)
	}
	return s.Store.GetChat(ctx, chatID)
}

// A user added to a group while their connection resumes, so that the
// resume already finds them in it, gets chat.created and then the chat
// from seq 1, as for any chat they are added to.
func TestAddedDuringResumeGetsTheChatFromTheStart(t *testing.T) {
	ctx := context.Background()
	store := &slowAnnounceStore{Store: memory.NewStore(), announce: newPause()}
	openOnCleanup(t, store.announce)
	svc := chattest.NewService(t, chat.Config{Store: store})
	group, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"carol"}})
	require.NoError(t, err)
	_, _, err = svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "before bob"})
	require.NoError(t, err)

	added := make(chan error, 1)
	go func() {
		_, _, err := svc.AddMember(ctx, "alice", group.ID, "bob")
		added <- err
	}()
	store.announce.awaitReached(t, "AddMember reads the chat to announce it")
	bob, _ := subscribe(t, svc, "bob", nil)
	store.announce.open()
	require.NoError(t, <-added)
	nextOf(t, bob, group.ID, chat.EventChatCreated)
	last, _, err := svc.SendMessage(ctx, "alice", group.ID, chat.SendMessageRequest{Text: "after"})
	require.NoError(t, err)

	requireFromSeqOne(t, bob, group.ID, last.Seq)
}

// requireFromSeqOne reads sub's events of chatID up to seq last and
// requires them to be every seq from 1, with no resync among them.
func requireFromSeqOne(t *testing.T, sub *chat.Subscription, chatID string, last int64) {
	t.Helper()
	var seqs []int64
	for seq := int64(0); seq < last; {
		ev := nextIn(t, sub, chatID)
		require.NotEqual(t, chat.EventResync, ev.Type)
		seq = ev.Seq
		seqs = append(seqs, seq)
	}
	want := make([]int64, last)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, seqs)
}
