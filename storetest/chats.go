package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func testCreateChatStoresFields(f *fixture) {
	// Members out of order, a non-ASCII title and a time with microseconds
	// catch backends that sort, encode or round differently.
	createdAt := f.start.Truncate(time.Second).Add(123456 * time.Microsecond)
	g := newGroup("g1", createdAt, "carol", "alice", "bob")
	g.Title = "Ünïcode group ✨"
	f.createChat(g, "")
	requireChat(f.t, asCreated(g), f.getChat("g1"))

	d := newDirect("d1", f.at(1), "dave", "alice")
	f.createChat(d, "alice:dave")
	requireChat(f.t, asCreated(d), f.getChat("d1"))
	requireChat(f.t, asCreated(g), f.getChat("g1"))
}

func testCreateChatDirectKeyReturnsExisting(f *fixture) {
	first := f.createChat(newDirect("d1", f.at(0), "alice", "bob"), "alice:bob")

	again, created, err := f.store.CreateChat(f.ctx, newDirect("d2", f.at(1), "bob", "alice"), "alice:bob")
	require.NoError(f.t, err)
	require.False(f.t, created, "CreateChat with an existing direct key must not create")
	requireChat(f.t, first, again)
	_, err = f.store.GetChat(f.ctx, "d2")
	requireNotFound(f.t, err, "GetChat of a chat deduplicated by its direct key")
	require.ElementsMatch(f.t, []string{"d1"}, f.chatIDs("alice"))
	require.ElementsMatch(f.t, []string{"d1"}, f.chatIDs("bob"))

	// The existing chat is returned as it is now, not as it was created.
	m := f.send("d1", "bob", f.at(2))
	again, created, err = f.store.CreateChat(f.ctx, newDirect("d3", f.at(3), "alice", "bob"), "alice:bob")
	require.NoError(f.t, err)
	require.False(f.t, created)
	requireChat(f.t, afterSend(first, m), again)

	// Another key is another chat, even with an overlapping member.
	f.createChat(newDirect("d4", f.at(4), "alice", "carol"), "alice:carol")
	require.ElementsMatch(f.t, []string{"d1", "d4"}, f.chatIDs("alice"))
}

func testCreateChatConcurrentDirectKey(f *fixture) {
	const n = 16
	type result struct {
		chat    chat.Chat
		created bool
		err     error
	}
	results := make([]result, n)
	inputs := make([]chat.Chat, n)
	var wg sync.WaitGroup
	for i := range n {
		inputs[i] = newDirect(fmt.Sprintf("d%02d", i), f.at(i), "alice", "bob")
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, created, err := f.store.CreateChat(f.ctx, inputs[i], "alice:bob")
			results[i] = result{c, created, err}
		}()
	}
	wg.Wait()

	winner := -1
	for i, r := range results {
		require.NoError(f.t, r.err, "CreateChat %s", inputs[i].ID)
		if r.created {
			require.Equal(f.t, -1, winner, "CreateChat reported created=true for both %s and %s", results[max(winner, 0)].chat.ID, r.chat.ID)
			winner = i
		}
	}
	require.NotEqual(f.t, -1, winner, "no concurrent CreateChat reported created=true")
	want := asCreated(inputs[winner])
	for _, r := range results {
		requireChat(f.t, want, r.chat)
	}
	for i, in := range inputs {
		if i == winner {
			continue
		}
		_, err := f.store.GetChat(f.ctx, in.ID)
		requireNotFound(f.t, err, "GetChat of a chat that lost the race for its direct key")
	}
	require.Equal(f.t, []string{want.ID}, f.chatIDs("alice"))
}

// testCreateChatGroupKeyReturnsExisting holds a key to the same promise
// for groups, whose keys the Service derives from a client_id: the kind of
// chat does not change what a key means, and keys with a NUL in them are
// kept whole.
func testCreateChatGroupKeyReturnsExisting(f *fixture) {
	const key = "group\x00alice\x00retry-1"
	first := f.createChat(newGroup("g1", f.at(0), "alice", "bob"), key)

	retry := newGroup("g2", f.at(1), "alice", "carol")
	retry.Title = "another title"
	again, created, err := f.store.CreateChat(f.ctx, retry, key)
	require.NoError(f.t, err)
	require.False(f.t, created, "CreateChat with an existing group key must not create")
	requireChat(f.t, first, again)
	_, err = f.store.GetChat(f.ctx, "g2")
	requireNotFound(f.t, err, "GetChat of a group deduplicated by its key")
	require.Empty(f.t, f.chatIDs("carol"))

	// Keys that differ after the NUL are different keys.
	f.createChat(newGroup("g3", f.at(2), "alice", "bob"), "group\x00alice\x00retry-2")
	f.createChat(newGroup("g4", f.at(3), "alice", "bob"), "group\x00alice")
	require.ElementsMatch(f.t, []string{"g1", "g3", "g4"}, f.chatIDs("alice"))
}

func testCreateChatEmptyDirectKey(f *fixture) {
	a := f.group("g1", f.at(0), "alice", "bob")
	b := newGroup("g2", f.at(0), "alice", "bob")
	b.Title = a.Title
	f.createChat(b, "")
	require.ElementsMatch(f.t, []string{"g1", "g2"}, f.chatIDs("alice"))
	requireChat(f.t, a, f.getChat("g1"))
	requireChat(f.t, asCreated(b), f.getChat("g2"))
}

func testGetChatMissing(f *fixture) {
	f.group("g1", f.at(0), "alice")
	_, err := f.store.GetChat(f.ctx, "g2")
	requireNotFound(f.t, err, "GetChat of a missing chat")
}

func testGetMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	for _, user := range []string{"alice", "bob"} {
		m, err := f.store.GetMember(f.ctx, "g1", user)
		require.NoError(f.t, err, "GetMember g1 %s", user)
		require.Equal(f.t, chat.Member{UserID: user}, withoutRole(m))
	}
}

func testGetMemberMissingChat(f *fixture) {
	f.group("g1", f.at(0), "alice")
	_, err := f.store.GetMember(f.ctx, "g2", "alice")
	requireNotFound(f.t, err, "GetMember of a missing chat")
}

func testGetMemberNonMember(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(0), "carol")
	_, err := f.store.GetMember(f.ctx, "g1", "carol")
	requireNotFound(f.t, err, "GetMember of a user who is not a member")
}

func testListChatsOnlyMembers(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "dave")
	g2 := f.group("g2", f.at(1), "bob", "alice")
	f.group("g3", f.at(2), "bob", "dave")

	requireChats(f.t, []chat.Chat{g2, g1}, f.listChats("alice", chat.ChatQuery{Limit: 10}))
	require.Empty(f.t, f.listChats("carol", chat.ChatQuery{Limit: 10}))
}

func testListChatsOrder(f *fixture) {
	// Equal CreatedAt values make ties that only the id can break.
	c1 := f.group("c01", f.at(1), "alice")
	c2 := f.group("c02", f.at(1), "alice", "bob")
	c3 := f.group("c03", f.at(2), "alice")
	c4 := f.group("c04", f.at(0), "alice")
	c5 := f.group("c05", f.at(2), "alice", "bob")
	c6 := f.group("c06", f.at(1), "alice")

	requireChats(f.t, []chat.Chat{c5, c3, c6, c2, c1, c4}, f.listChats("alice", chat.ChatQuery{Limit: 10}))
	requireChats(f.t, []chat.Chat{c5, c3, c6}, f.listChats("alice", chat.ChatQuery{Limit: 3}))
	requireChats(f.t, []chat.Chat{c5, c2}, f.listChats("bob", chat.ChatQuery{Limit: 10}))
}

func testListChatsSendMovesToFront(f *fixture) {
	c1 := f.group("c1", f.at(0), "alice", "bob")
	c2 := f.group("c2", f.at(1), "alice", "bob")
	c3 := f.group("c3", f.at(2), "alice", "bob")
	requireChats(f.t, []chat.Chat{c3, c2, c1}, f.listChats("alice", chat.ChatQuery{Limit: 10}))

	m := f.send("c1", "bob", f.at(3))
	c1 = afterSend(c1, m)
	requireChats(f.t, []chat.Chat{c1, c3, c2}, f.listChats("alice", chat.ChatQuery{Limit: 10}))
	requireChats(f.t, []chat.Chat{c1, c3, c2}, f.listChats("bob", chat.ChatQuery{Limit: 10}))

	m = f.send("c2", "alice", f.at(4))
	c2 = afterSend(c2, m)
	requireChats(f.t, []chat.Chat{c2, c1}, f.listChats("alice", chat.ChatQuery{Limit: 2}))
}

func testListChatsPaging(f *fixture) {
	var want []chat.Chat
	for i, second := range []int{3, 1, 1, 4, 1, 5, 2, 2, 0, 5, 3} {
		want = append(want, f.group(fmt.Sprintf("c%02d", i), f.at(second), "alice"))
	}
	f.send("c08", "alice", f.at(6))
	want[8] = f.getChat("c08")
	sortChats(want)

	for _, limit := range []int{1, 2, 3, 4, len(want), len(want) + 1} {
		var got []chat.Chat
		q := chat.ChatQuery{Limit: limit}
		for range len(want) + 1 {
			page := f.listChats("alice", q)
			require.LessOrEqual(f.t, len(page), limit, "page size with limit %d", limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			last := page[len(page)-1]
			q.After = &chat.ChatPosition{LastActivityAt: last.LastActivityAt, ChatID: last.ID}
		}
		requireChats(f.t, want, got)
	}

	// A position need not be a chat's: one between two seconds starts the
	// page at the chats of the earlier second.
	page := f.listChats("alice", chat.ChatQuery{
		Limit: len(want),
		After: &chat.ChatPosition{LastActivityAt: f.at(2).Add(time.Millisecond), ChatID: "c00"},
	})
	var older []chat.Chat
	for _, c := range want {
		if !c.LastActivityAt.After(f.at(2)) {
			older = append(older, c)
		}
	}
	requireChats(f.t, older, page)
}

// sortChats puts cs in chat list order: LastActivityAt descending, then ID
// descending.
func sortChats(cs []chat.Chat) {
	slices.SortFunc(cs, func(a, b chat.Chat) int {
		if c := b.LastActivityAt.Compare(a.LastActivityAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

func testChatIDs(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.group("g2", f.at(1), "bob")
	f.createChat(newDirect("d1", f.at(2), "carol", "alice"), "alice:carol")
	f.send("g1", "bob", f.at(3))

	require.ElementsMatch(f.t, []string{"g1", "d1"}, f.chatIDs("alice"))
	require.ElementsMatch(f.t, []string{"g1", "g2"}, f.chatIDs("bob"))
	require.Empty(f.t, f.chatIDs("nobody"))
}

func testCountChats(f *fixture) {
	counter, ok := f.store.(chat.ChatCounter)
	if !ok {
		f.t.Skip("the Store is no chat.ChatCounter")
	}
	f.chatsOfFourUsers()

	got, err := counter.CountChats(f.ctx, []string{"alice", "bob", "carol", "dave", "nobody"})
	require.NoError(f.t, err)
	for user, want := range map[string]int{"alice": 2, "bob": 3, "carol": 1, "dave": 0, "nobody": 0} {
		assert.Equal(f.t, want, got[user], "chats of %s", user)
	}
	got, err = counter.CountChats(f.ctx, nil)
	require.NoError(f.t, err)
	assert.Empty(f.t, got)
}

func testLastSeqs(f *fixture) {
	f.group("g1", f.at(0), "alice")
	f.group("g2", f.at(0), "alice")
	f.group("g3", f.at(0), "alice")
	f.sendN("g1", "alice", 3, 1)
	f.send("g3", "alice", f.at(5))

	require.Equal(f.t, map[string]int64{"g1": 3, "g2": 0, "g3": 1}, f.lastSeqs("g1", "missing", "g2", "g3"))
	require.Equal(f.t, map[string]int64{"g2": 0}, f.lastSeqs("g2"))
	require.Empty(f.t, f.lastSeqs("missing"))
	require.Empty(f.t, f.lastSeqs())
	seqs, err := f.store.LastSeqs(f.ctx, []string{})
	require.NoError(f.t, err)
	require.Empty(f.t, seqs)
}

// testCreateChatStartsMembersUnread checks that members start with nothing
// read and the chat without a LastMessage, whatever the input says.
func testCreateChatStartsMembersUnread(f *fixture) {
	g := newGroup("g1", f.at(0), "alice", "bob")
	g.Members[1].LastReadSeq = 7
	g.LastMessage = &chat.Message{ChatID: "g1", Seq: 7, Sender: "alice", Text: "not sent", CreatedAt: f.at(0)}
	f.createChat(g, "")
	requireChat(f.t, asCreated(g), f.getChat("g1"))
	m, err := f.store.GetMember(f.ctx, "g1", "bob")
	require.NoError(f.t, err)
	require.Equal(f.t, chat.Member{UserID: "bob"}, withoutRole(m))
}

func testLastMessageNilWithoutMessages(f *fixture) {
	g1 := f.group("g1", f.at(0), "alice", "bob")
	d1 := f.createChat(newDirect("d1", f.at(1), "alice", "bob"), "alice:bob")
	requireChats(f.t, []chat.Chat{d1, g1}, f.listChats("alice", chat.ChatQuery{Limit: 10}))

	// Events that are not messages leave it nil.
	f.addMember("g1", "alice", "carol", f.at(2))
	f.removeMember("g1", "bob", "bob", f.at(3))
	require.Nil(f.t, f.getChat("g1").LastMessage)
	for _, c := range f.listChats("alice", chat.ChatQuery{Limit: 10}) {
		require.Nil(f.t, c.LastMessage, "LastMessage of chat %s, which has no message", c.ID)
	}
	again, created, err := f.store.CreateChat(f.ctx, newDirect("d2", f.at(4), "bob", "alice"), "alice:bob")
	require.NoError(f.t, err)
	require.False(f.t, created)
	requireChat(f.t, d1, again)
}

func testLastMessageIsNewestMessage(f *fixture) {
	f.group("g1", f.at(0), "alice", "bob")
	f.send("g1", "alice", f.at(1))
	m2 := f.send("g1", "bob", f.at(2))
	// The newest event being no message does not change LastMessage, and
	// neither does a change to an older message.
	f.addMember("g1", "alice", "carol", f.at(3))
	requireLastMessage(f, "g1", m2)

	// The helpers that change messages check LastMessage against the chat
	// before; these checks hold it to what it must be.
	m2 = f.edit(m2, "edited", f.at(4))
	requireLastMessage(f, "g1", m2)
	m2 = f.deleteMessage(m2, f.at(5))
	requireLastMessage(f, "g1", m2)
	m6 := f.send("g1", "carol", f.at(6))
	requireLastMessage(f, "g1", m6)

	// CreateChat shows it for an existing direct chat.
	d1 := f.createChat(newDirect("d1", f.at(7), "alice", "bob"), "alice:bob")
	m1 := f.edit(f.send("d1", "alice", f.at(8)), "edited", f.at(9))
	d1 = afterSend(d1, m1)
	d1.LastSeq, d1.LastActivityAt = 2, f.at(9)
	again, created, err := f.store.CreateChat(f.ctx, newDirect("d2", f.at(10), "bob", "alice"), "alice:bob")
	require.NoError(f.t, err)
	require.False(f.t, created)
	requireChat(f.t, d1, again)
}

// requireLastMessage checks that GetChat and every member's ListChats show
// want as the LastMessage of chatID.
func requireLastMessage(f *fixture, chatID string, want chat.Message) {
	f.t.Helper()
	c := f.getChat(chatID)
	require.NotNil(f.t, c.LastMessage, "LastMessage of chat %s", chatID)
	requireMessage(f.t, want, *c.LastMessage)
	for _, m := range c.Members {
		list := f.listChats(m.UserID, chat.ChatQuery{Limit: allOfThem})
		i := slices.IndexFunc(list, func(c chat.Chat) bool { return c.ID == chatID })
		require.GreaterOrEqual(f.t, i, 0, "ListChats of %s lacks chat %s", m.UserID, chatID)
		requireChat(f.t, c, list[i])
	}
}
