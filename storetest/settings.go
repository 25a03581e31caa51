package storetest

import (
	"slices"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// settingsTests check the clauses of chat.SettingsStore; Run skips them
// for a Store without it.
var settingsTests = []subtest{
	{"PrivateEventThatKeepsActivity", testSetSettings},
	{"PinnedFirstAndArchivedFilter", testSettingsListChats},
	{"MutedMembers", testMutedMembers},
	{"LeavingDropsSettings", testSettingsLeave},
}

func (f *fixture) settingsStore() chat.SettingsStore {
	f.t.Helper()
	ss, ok := f.store.(chat.SettingsStore)
	if !ok {
		f.t.Skip("the Store is no chat.SettingsStore")
	}
	return ss
}

func (f *fixture) setSettings(ss chat.SettingsStore, c chat.SettingsChange) chat.Event {
	f.t.Helper()
	ev, changed, err := ss.SetSettings(f.ctx, c)
	require.NoError(f.t, err, "SetSettings %+v", c)
	require.True(f.t, changed, "SetSettings %+v: changed", c)
	return ev
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func testSetSettings(f *fixture) {
	ss := f.settingsStore()
	f.group("g1", f.at(0), "alice", "bob")
	f.send("g1", "bob", f.at(1))
	before := f.getChat("g1")

	ev := f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "alice", Pinned: yes(), At: f.at(2)})
	want := chat.Event{Type: chat.EventMemberSettings, ChatID: "g1", Seq: before.LastSeq + 1, UserID: "alice", Settings: &chat.MemberSettings{Pinned: true}}
	require.Equal(f.t, want, ev)
	after := f.getChat("g1")
	require.Equal(f.t, before.LastSeq+1, after.LastSeq, "a settings event takes the chat's next seq")
	requireTime(f.t, before.LastActivityAt, after.LastActivityAt, "LastActivityAt after SetSettings: unchanged")
	requireEventLog(f.t, []chat.Event{want}, f.listEvents("g1", before.LastSeq, 10))
	require.Equal(f.t, *want.Settings, *f.listEvents("g1", before.LastSeq, 10)[0].Settings, "the replayed event's settings")

	// Fields left nil stay; muted_until goes with muted.
	until := f.at(100)
	ev = f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "alice", Muted: yes(), MutedUntil: &until, Archived: yes(), At: f.at(3)})
	require.True(f.t, ev.Settings.Pinned)
	require.True(f.t, ev.Settings.Archived)
	require.True(f.t, ev.Settings.Muted)
	requireTime(f.t, until, *ev.Settings.MutedUntil, "MutedUntil")
	got, err := ss.Settings(f.ctx, "alice", []string{"g1", "missing"})
	require.NoError(f.t, err)
	require.Equal(f.t, []string{"g1"}, keys(got))
	require.True(f.t, got["g1"].Pinned)
	got, err = ss.Settings(f.ctx, "bob", []string{"g1"})
	require.NoError(f.t, err)
	require.Empty(f.t, got, "bob's settings are not alice's")

	snap := f.snapshot("g1")
	_, changed, err := ss.SetSettings(f.ctx, chat.SettingsChange{ChatID: "g1", UserID: "alice", Pinned: yes(), At: f.at(4)})
	require.NoError(f.t, err)
	require.False(f.t, changed, "settings as they are")
	_, _, err = ss.SetSettings(f.ctx, chat.SettingsChange{ChatID: "g1", UserID: "carol", Pinned: yes(), At: f.at(4)})
	requireNotFound(f.t, err, "SetSettings of a non-member")
	_, _, err = ss.SetSettings(f.ctx, chat.SettingsChange{ChatID: "missing", UserID: "alice", Pinned: yes(), At: f.at(4)})
	requireNotFound(f.t, err, "SetSettings in a missing chat")
	f.requireUnchanged(snap, "unchanged and refused settings")

	ev = f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "alice", Muted: no(), At: f.at(5)})
	require.False(f.t, ev.Settings.Muted)
	require.Nil(f.t, ev.Settings.MutedUntil, "unmuting clears MutedUntil")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testSettingsListChats(f *fixture) {
	ss := f.settingsStore()
	// c1 is the most recent, c6 the oldest.
	for i, id := range []string{"c6", "c5", "c4", "c3", "c2", "c1"} {
		f.group(id, f.at(i), "alice", "bob")
	}
	f.setSettings(ss, chat.SettingsChange{ChatID: "c4", UserID: "alice", Pinned: yes(), At: f.at(10)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "c6", UserID: "alice", Pinned: yes(), At: f.at(10)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "c2", UserID: "alice", Archived: yes(), At: f.at(10)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "c6", UserID: "alice", Archived: yes(), At: f.at(10)})

	all := []string{"c4", "c6", "c1", "c2", "c3", "c5"}
	require.Equal(f.t, all, idsOf(f.listChats("alice", chat.ChatQuery{Limit: 10})), "pinned first")
	require.Equal(f.t, []string{"c1", "c2", "c3", "c4", "c5", "c6"}, idsOf(f.listChats("bob", chat.ChatQuery{Limit: 10})), "bob pinned nothing")
	require.Equal(f.t, []string{"c4", "c1", "c3", "c5"}, idsOf(f.listChats("alice", chat.ChatQuery{Limit: 10, Archived: chat.ArchivedExclude})))
	require.Equal(f.t, []string{"c6", "c2"}, idsOf(f.listChats("alice", chat.ChatQuery{Limit: 10, Archived: chat.ArchivedOnly})))

	// Paging by twos walks every chat once, across the pinned ones.
	pinned := map[string]bool{"c4": true, "c6": true}
	var walked []string
	q := chat.ChatQuery{Limit: 2}
	for range 10 {
		page := f.listChats("alice", q)
		walked = append(walked, idsOf(page)...)
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.After = &chat.ChatPosition{LastActivityAt: last.LastActivityAt, ChatID: last.ID, Pinned: pinned[last.ID]}
	}
	require.Equal(f.t, all, walked, "pages of two")
}

func testMutedMembers(f *fixture) {
	ss := f.settingsStore()
	f.group("g1", f.at(0), "alice", "bob", "carol", "dave")
	later, earlier := f.at(100), f.at(-100)
	f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "alice", Muted: yes(), At: f.at(1)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "bob", Muted: yes(), MutedUntil: &later, At: f.at(1)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "carol", Muted: yes(), MutedUntil: &earlier, At: f.at(1)})
	f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "dave", Pinned: yes(), At: f.at(1)})
	muted, err := ss.MutedMembers(f.ctx, "g1", f.at(2))
	require.NoError(f.t, err)
	require.ElementsMatch(f.t, []string{"alice", "bob"}, muted)
	muted, err = ss.MutedMembers(f.ctx, "g1", later.Add(time.Second))
	require.NoError(f.t, err)
	require.ElementsMatch(f.t, []string{"alice"}, muted, "after bob's mute ended")
	muted, err = ss.MutedMembers(f.ctx, "missing", f.at(2))
	require.NoError(f.t, err)
	require.Empty(f.t, muted)
}

func testSettingsLeave(f *fixture) {
	ss := f.settingsStore()
	f.group("g1", f.at(0), "alice", "bob")
	f.setSettings(ss, chat.SettingsChange{ChatID: "g1", UserID: "bob", Muted: yes(), Pinned: yes(), At: f.at(1)})
	f.removeMember("g1", "bob", "bob", f.at(2))
	f.addMember("g1", "alice", "bob", f.at(3))
	got, err := ss.Settings(f.ctx, "bob", []string{"g1"})
	require.NoError(f.t, err)
	require.Empty(f.t, got, "a member who left and came back starts without settings")
	muted, err := ss.MutedMembers(f.ctx, "g1", f.at(4))
	require.NoError(f.t, err)
	require.Empty(f.t, muted)
}
