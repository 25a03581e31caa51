// Package searchtest provides a conformance suite for chat.MessageSearcher
// implementations: Stores that can search messages.
//
// Every such Store in this module runs it unmodified, and so can a
// third-party one:
//
//	func TestSearch(t *testing.T) {
//		searchtest.Run(t, func(t *testing.T) chat.Store {
//			return mystore.New(openTestDB(t))
//		})
//	}
package searchtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// Run checks that the stores returned by newStore keep every clause of the
// chat.MessageSearcher contract, each in its own subtest. The stores must
// implement chat.MessageSearcher, with their default settings.
//
// newStore is called once per subtest, with that subtest's t, and must
// return an empty store that shares no data with any other store it has
// returned; it registers whatever cleanup the store needs with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) chat.Store) {
	for _, test := range suite {
		t.Run(test.name, func(t *testing.T) {
			s := newStore(t)
			searcher, ok := s.(chat.MessageSearcher)
			require.True(t, ok, "%T does not implement chat.MessageSearcher", s)
			test.run(&fixture{t: t, ctx: t.Context(), store: s, searcher: searcher, start: now()})
		})
	}
}

var suite = []struct {
	name string
	run  func(f *fixture)
}{
	{"MatchesWordPrefixesIgnoringCase", testMatchesWordPrefixes},
	{"EveryTermMustMatch", testEveryTermMustMatch},
	{"ReturnsMessagesAsStored", testReturnsMessagesAsStored},
	{"NewestFirstAcrossChats", testNewestFirst},
	{"PagingWalksEveryHitOnce", testPaging},
	{"OnlyTheUsersChats", testOnlyTheUsersChats},
	{"OneChat", testOneChat},
	{"MembershipAtQueryTime", testMembershipAtQueryTime},
	{"DeletedAreNeverFound", testDeletedNeverFound},
	{"EditedByCurrentTextOnly", testEditedByCurrentText},
	{"CancelledContextFails", testCancelled},
}

type fixture struct {
	t        *testing.T
	ctx      context.Context
	store    chat.Store
	searcher chat.MessageSearcher
	start    time.Time
}

// now returns the current time the way the Service hands times to a Store.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// at returns a time i seconds after the subtest started.
func (f *fixture) at(i int) time.Time { return f.start.Add(time.Duration(i) * time.Second) }

// group creates a group whose creator is the first member.
func (f *fixture) group(id string, members ...string) {
	f.t.Helper()
	c := chat.Chat{ID: id, Kind: chat.KindGroup, Title: id, CreatedBy: members[0], CreatedAt: f.start, LastActivityAt: f.start}
	for _, m := range members {
		c.Members = append(c.Members, chat.Member{UserID: m})
	}
	_, created, err := f.store.CreateChat(f.ctx, c, "")
	require.NoError(f.t, err, "CreateChat %s", id)
	require.True(f.t, created, "CreateChat %s", id)
}

// send stores a message with text from sender at f.at(i).
func (f *fixture) send(chatID, sender, text string, i int) chat.Message {
	f.t.Helper()
	m, created, err := f.store.AppendMessage(f.ctx, chat.Message{ChatID: chatID, Sender: sender, Text: text, CreatedAt: f.at(i)})
	require.NoError(f.t, err, "AppendMessage %q", text)
	require.True(f.t, created, "AppendMessage %q", text)
	return m
}

func (f *fixture) search(userID string, q chat.MessageSearch) []chat.Message {
	f.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	ms, err := f.searcher.SearchMessages(f.ctx, userID, q)
	require.NoError(f.t, err, "SearchMessages %s %+v", userID, q)
	return ms
}

// texts searches terms for userID and returns the texts found, in order.
func (f *fixture) texts(userID string, terms ...string) []string {
	f.t.Helper()
	out := []string{}
	for _, m := range f.search(userID, chat.MessageSearch{Terms: terms}) {
		out = append(out, m.Text)
	}
	return out
}

func ids(ms []chat.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s/%d", m.ChatID, m.Seq)
	}
	return out
}

func testMatchesWordPrefixes(f *fixture) {
	f.group("g1", "alice", "bob")
	for i, text := range []string{
		"Hello World",
		"help wanted",
		"a shell script",
		"HELLO again",
		"say hi, hello!",
		"École ouverte",
		"nothing to see",
	} {
		f.send("g1", "bob", text, i)
	}
	assert.Equal(f.t, []string{"say hi, hello!", "HELLO again", "help wanted", "Hello World"}, f.texts("alice", "hel"),
		"a term finds the words it begins, in any case, and not words it is inside of")
	assert.Equal(f.t, []string{"say hi, hello!", "HELLO again", "Hello World"}, f.texts("alice", "hello"))
	assert.Equal(f.t, []string{"Hello World"}, f.texts("alice", "world"))
	assert.Equal(f.t, []string{"École ouverte"}, f.texts("alice", "éco"), "letters beyond ASCII are matched ignoring case")
	assert.Equal(f.t, []string{"a shell script"}, f.texts("alice", "script"))
	assert.Empty(f.t, f.texts("alice", "ell"), "a term matches at the start of a word only")
	assert.Empty(f.t, f.texts("alice", "moon"))
}

func testEveryTermMustMatch(f *fixture) {
	f.group("g1", "alice", "bob")
	f.send("g1", "bob", "red apples and green pears", 1)
	f.send("g1", "bob", "green apples", 2)
	f.send("g1", "bob", "red wine", 3)
	assert.Equal(f.t, []string{"green apples", "red apples and green pears"}, f.texts("alice", "apple", "green"))
	assert.Equal(f.t, []string{"red apples and green pears"}, f.texts("alice", "pea", "red", "app"))
	assert.Empty(f.t, f.texts("alice", "red", "moon"))
}

func testReturnsMessagesAsStored(f *fixture) {
	f.group("g1", "alice", "bob")
	sent, _, err := f.store.AppendMessage(f.ctx, chat.Message{
		ChatID: "g1", Sender: "bob", Text: "find me", ClientID: "c1",
		Metadata: json.RawMessage(`{"k": [1, 2]}`), CreatedAt: f.at(1),
	})
	require.NoError(f.t, err)
	got := f.search("alice", chat.MessageSearch{Terms: []string{"find"}})
	require.Len(f.t, got, 1)
	assert.Equal(f.t, sent, got[0], "a hit is the message as the Store returns it elsewhere")
	assert.JSONEq(f.t, `{"k": [1, 2]}`, string(got[0].Metadata))
}

func testNewestFirst(f *fixture) {
	f.group("a", "alice", "bob")
	f.group("b", "alice", "bob")
	// Ties on the time are broken by chat id, then seq, both descending.
	a1 := f.send("a", "bob", "topic one", 1)
	b1 := f.send("b", "bob", "topic two", 1)
	b2 := f.send("b", "bob", "topic three", 1)
	a2 := f.send("a", "bob", "topic four", 5)
	b3 := f.send("b", "bob", "topic five", 3)
	f.send("a", "bob", "other", 9)
	got := f.search("alice", chat.MessageSearch{Terms: []string{"topic"}})
	assert.Equal(f.t, ids([]chat.Message{a2, b3, b2, b1, a1}), ids(got))
}

func testPaging(f *fixture) {
	f.group("a", "alice", "bob")
	f.group("b", "alice", "bob")
	f.group("c", "alice", "bob")
	for i := range 12 {
		chatID := []string{"a", "b", "c"}[i%3]
		// Four messages share each second, in different chats and
		// within one, so that pages end inside ties.
		f.send(chatID, "bob", fmt.Sprintf("page %d", i), i/4)
		f.send(chatID, "bob", fmt.Sprintf("skip %d", i), i/4)
	}
	want := ids(f.search("alice", chat.MessageSearch{Terms: []string{"page"}}))
	require.Len(f.t, want, 12)
	for _, limit := range []int{1, 5, 12} {
		var got []string
		var after *chat.SearchPosition
		for range 20 {
			page := f.search("alice", chat.MessageSearch{Terms: []string{"page"}, Limit: limit, After: after})
			require.LessOrEqual(f.t, len(page), limit)
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			last := page[len(page)-1]
			after = &chat.SearchPosition{CreatedAt: last.CreatedAt, ChatID: last.ChatID, Seq: last.Seq}
		}
		assert.Equal(f.t, want, got, "pages of %d", limit)
	}
}

func testOnlyTheUsersChats(f *fixture) {
	f.group("mine", "alice", "bob")
	f.group("theirs", "bob", "carol")
	f.send("mine", "bob", "secret plan A", 1)
	f.send("theirs", "bob", "secret plan B", 2)
	assert.Equal(f.t, []string{"secret plan A"}, f.texts("alice", "secret"))
	assert.Equal(f.t, []string{"secret plan B"}, f.texts("carol", "secret"))
	assert.Equal(f.t, []string{"secret plan B", "secret plan A"}, f.texts("bob", "secret"))
	assert.Empty(f.t, f.texts("nobody", "secret"))
}

func testOneChat(f *fixture) {
	f.group("a", "alice", "bob")
	f.group("b", "alice", "bob")
	f.group("c", "bob", "carol")
	f.send("a", "bob", "lunch at noon", 1)
	f.send("b", "bob", "lunch at one", 2)
	f.send("c", "bob", "lunch at two", 3)
	got := f.search("alice", chat.MessageSearch{Terms: []string{"lunch"}, ChatID: "a"})
	assert.Equal(f.t, []string{"a/1"}, ids(got))
	assert.Empty(f.t, f.search("alice", chat.MessageSearch{Terms: []string{"lunch"}, ChatID: "c"}), "a chat the user is not in")
	assert.Empty(f.t, f.search("alice", chat.MessageSearch{Terms: []string{"lunch"}, ChatID: "nope"}), "a chat that does not exist")
}

func testMembershipAtQueryTime(f *fixture) {
	f.group("g1", "bob", "alice")
	f.send("g1", "bob", "before removal", 1)
	require.Equal(f.t, []string{"before removal"}, f.texts("alice", "removal"))

	_, err := f.store.RemoveMember(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "alice", At: f.at(2)})
	require.NoError(f.t, err)
	f.send("g1", "bob", "after removal", 3)
	assert.Empty(f.t, f.texts("alice", "removal"), "a removed member finds nothing of the chat, old or new")
	assert.Empty(f.t, f.search("alice", chat.MessageSearch{Terms: []string{"removal"}, ChatID: "g1"}))
	assert.Equal(f.t, []string{"after removal", "before removal"}, f.texts("bob", "removal"))

	_, _, err = f.store.AddMember(f.ctx, chat.MemberChange{ChatID: "g1", ActorID: "bob", UserID: "alice", At: f.at(4), MaxMembers: 10})
	require.NoError(f.t, err)
	assert.Equal(f.t, []string{"after removal", "before removal"}, f.texts("alice", "removal"),
		"a member added back finds the chat's messages as its history shows them")
}

func testDeletedNeverFound(f *fixture) {
	f.group("g1", "alice", "bob")
	m := f.send("g1", "bob", "regrettable words", 1)
	f.send("g1", "bob", "kind words", 2)
	_, _, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m.Seq, UserID: "bob", Delete: true, At: f.at(3)})
	require.NoError(f.t, err)
	assert.Equal(f.t, []string{"kind words"}, f.texts("alice", "words"))
	assert.Empty(f.t, f.texts("alice", "regrettable"))
}

func testEditedByCurrentText(f *fixture) {
	f.group("g1", "alice", "bob")
	m := f.send("g1", "bob", "apple pie", 1)
	ev, _, err := f.store.EditMessage(f.ctx, chat.MessageEdit{ChatID: "g1", Seq: m.Seq, UserID: "bob", Text: "banana split", At: f.at(2)})
	require.NoError(f.t, err)
	assert.Empty(f.t, f.texts("alice", "apple"), "the text before the edit is not found")
	got := f.search("alice", chat.MessageSearch{Terms: []string{"banana"}})
	require.Len(f.t, got, 1)
	assert.Equal(f.t, *ev.Message, got[0], "the hit is the message as edited")
}

func testCancelled(f *fixture) {
	f.group("g1", "alice", "bob")
	f.send("g1", "bob", "hello", 1)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.searcher.SearchMessages(ctx, "alice", chat.MessageSearch{Terms: []string{"hello"}, Limit: 10})
	require.Error(f.t, err, "SearchMessages with a cancelled context")
}
