package postgres

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// A run of 16 or more consecutive sends in a batch is written by one
// statement (migration 008_write_batch_v2) rather than by append_message
// calls one after the other; it must give every item the result, and the
// database the rows, that the calls would. The batch below goes to one Store as one
// write_batch and to another, in a schema of its own, as single calls in
// the same order; results and tables must be equal.
func TestGroupCommitRunOfSendsMatchesCallsOneByOne(t *testing.T) {
	db := openTestDB(t, 2)
	batched, single := newTestStore(t, db), newTestStore(t, db)
	ctx := t.Context()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tick := func(i int) time.Time { return at.Add(time.Duration(i) * time.Millisecond) }
	for _, s := range []*Store{batched, single} {
		for _, c := range []chat.Chat{
			testGroup("a", at, "alice", "bob", "carol"),
			testGroup("b", at, "bob", "alice"),
			testGroup("c", at, "carol"),
		} {
			_, _, err := s.CreateChat(ctx, c, "")
			require.NoError(t, err)
		}
		// History: a stored client id, and sender ordinals to continue.
		for i, m := range []chat.Message{
			{ChatID: "a", Sender: "alice", Text: "stored", ClientID: "k1"},
			{ChatID: "a", Sender: "bob", Text: "older"},
			{ChatID: "b", Sender: "bob", Text: "older in b"},
		} {
			m.CreatedAt = tick(i)
			_, _, err := s.AppendMessage(ctx, m)
			require.NoError(t, err)
		}
	}
	meta := json.RawMessage(`{"b": 2, "a": [1]}`)
	send := func(chatID, sender, text, clientID string) *writeItem {
		return &writeItem{kind: writeAppend, chatID: chatID, userID: sender, other: clientID, text: text}
	}
	items := []*writeItem{
		// A run: sends into three chats, with every refusal among them.
		send("a", "bob", "one", ""),
		send("b", "alice", "two", "k1"), // k1 is alice's in a, not in b
		send("a", "mallory", "not a member", ""),
		send("nochat", "alice", "no chat", ""),
		send("a", "alice", "retry of stored", "k1"),
		send("a", "carol", "with a client id", "k2"),
		{kind: writeAppend, chatID: "c", userID: "carol", text: "with metadata", metadata: meta},
		send("a", "carol", "retry within the run", "k2"),
		send("a", "bob", "three", "k2"), // k2 is carol's, not bob's
		send("b", "bob", "four", ""),
		send("a", "bob", "five", ""),
		send("c", "carol", "in c", "k4"),
		send("c", "carol", "retry in c", "k4"),
		send("b", "alice", "in b", ""),
		send("a", "alice", "in a", "k5"),
		send("b", "bob", "in b too", "k5"),
		send("a", "carol", "last of the run", ""),
		// A read marker ends the run (17 sends: one statement); an edit,
		// then a run too short for one, sent by single calls.
		{kind: writeRead, chatID: "a", userID: "alice", seq: 5},
		{kind: writeEdit, chatID: "a", userID: "carol", seq: 6, text: "edited"},
		send("a", "carol", "retry after an edit", "k2"),
		send("a", "alice", "six", ""),
		// A removal between two short runs: the later send is refused.
		{kind: writeRemove, chatID: "b", userID: "alice", other: "alice"},
		send("b", "alice", "after leaving", ""),
		send("b", "bob", "seven", ""),
		// A send alone between two other kinds goes through append_message.
		{kind: writeDelete, chatID: "a", userID: "bob", seq: 2},
		send("c", "carol", "alone", "k3"),
		{kind: writeRead, chatID: "c", userID: "carol", seq: 100},
	}
	for i, it := range items {
		it.at = tick(10 + i)
	}

	got, err := batched.writeMany(ctx, items)
	require.NoError(t, err)
	want := make([]writeRow, len(items))
	for i, it := range items {
		want[i], err = single.writeOne(ctx, it)
		require.NoError(t, err)
		want[i].Item = i + 1 // writeOne's functions have no item column.
	}
	for i := range items {
		require.Equal(t, want[i], got[i], "item %d (%s %q)", i+1, items[i].kind, items[i].text)
	}

	tables := func(s *Store) [3][]string {
		var out [3][]string
		for i, q := range []string{
			`SELECT row(m.*)::text FROM {schema}.messages m ORDER BY chat_id, seq`,
			`SELECT row(c.id, c.last_seq, c.message_count, c.last_activity_at)::text FROM {schema}.chats c ORDER BY id`,
			`SELECT row(e.*)::text FROM {schema}.events e ORDER BY chat_id, seq`,
		} {
			require.NoError(t, s.db.SelectContext(ctx, &out[i], s.q.fill(q)))
		}
		return out
	}
	require.Equal(t, tables(single), tables(batched))
	requireOrdinals(t, batched)
}
