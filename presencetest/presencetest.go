// Package presencetest is a conformance suite for implementations of
// chat.PresenceBroker, the optional presence ability of a chat.Broker.
//
// An implementation's tests call Run with a function that returns a
// PresenceBroker for one subtest, isolated from the others (for example
// by a key prefix) and cleaned up through t.Cleanup:
//
//	func TestPresence(t *testing.T) {
//		presencetest.Run(t, func(t *testing.T) chat.PresenceBroker {
//			b, _ := mybroker.New(client, mybroker.Config{Prefix: t.Name() + ":"})
//			return b
//		})
//	}
//
// Node ids stand for the Services of a cluster; the suite plays all of
// them, through the same PresenceBroker. A node that stops renewing is
// played by not calling SetOnline again, which is what a node killed with
// SIGKILL does. Leases are short (shortTTL) and every wait for one to
// expire polls with a generous timeout, so the suite never depends on a
// sleep being long enough. Clocks are compared with a tolerance of
// clockSlack, for a backend (such as Redis) that keeps its own time.
package presencetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

const (
	// shortTTL is the lease of a node the suite lets expire.
	shortTTL = 300 * time.Millisecond
	// longTTL is the lease of a node that must not expire during a test.
	longTTL = time.Hour
	// waitTimeout bounds every wait for an expiry.
	waitTimeout = 10 * time.Second
	// clockSlack is how far the backend's clock may be from the suite's.
	clockSlack = 2 * time.Second
)

// Run checks that the PresenceBrokers returned by newBroker keep the
// chat.PresenceBroker contract. It calls newBroker once per subtest, with
// the subtest's t, and runs the subtests one after another.
func Run(t *testing.T, newBroker func(t *testing.T) chat.PresenceBroker) {
	tests := []struct {
		name string
		run  func(*testing.T, chat.PresenceBroker)
	}{
		{"OnlineThenOffline", testOnlineThenOffline},
		{"NeverSeen", testNeverSeen},
		{"SeveralNodes", testSeveralNodes},
		{"OfflineWithoutEntry", testOfflineWithoutEntry},
		{"ConcurrentTransitionsReportedOnce", testConcurrentTransitions},
		{"RenewalExtends", testRenewalExtends},
		{"ExpiryWithoutRenewal", testExpiryWithoutRenewal},
		{"ExpireOnlyExpiredNodes", testExpireOnlyExpiredNodes},
		{"ExpireReportedOnce", testExpireReportedOnce},
		{"OnlineElsewhereBeforeExpire", testOnlineElsewhereBeforeExpire},
		{"BackAfterExpiry", testBackAfterExpiry},
		{"OfflineAfterExpiry", testOfflineAfterExpiry},
		{"AwkwardIDs", testAwkwardIDs},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newBroker(t))
		})
	}
}

func newNode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "node-" + hex.EncodeToString(b[:])
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func online(t *testing.T, b chat.PresenceBroker, node string, ttl time.Duration, users ...string) []string {
	t.Helper()
	came, err := b.SetOnline(ctxFor(t), node, users, ttl)
	require.NoError(t, err)
	return sorted(came)
}

func offline(t *testing.T, b chat.PresenceBroker, node string, users ...string) []string {
	t.Helper()
	from := time.Now()
	went, err := b.SetOffline(ctxFor(t), node, users)
	require.NoError(t, err)
	ids := make([]string, len(went))
	for i, p := range went {
		ids[i] = p.UserID
		assert.False(t, p.Online)
		nearNow(t, p.LastSeenAt, from, time.Now())
		assert.Equal(t, p.LastSeenAt, read(t, b, p.UserID)[0].LastSeenAt, "the time reported is the time recorded")
	}
	return sorted(ids)
}

func read(t *testing.T, b chat.PresenceBroker, users ...string) []chat.Presence {
	t.Helper()
	ps, err := b.Presence(ctxFor(t), users)
	require.NoError(t, err)
	require.Len(t, ps, len(users))
	for i, p := range ps {
		require.Equal(t, users[i], p.UserID, "answers in the order asked")
	}
	return ps
}

func isOnline(t *testing.T, b chat.PresenceBroker, user string) bool {
	t.Helper()
	return read(t, b, user)[0].Online
}

func sorted(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// expire calls ExpireNodes until user is reported, and returns the report.
func expire(t *testing.T, b chat.PresenceBroker, user string) chat.Presence {
	t.Helper()
	var got chat.Presence
	require.Eventually(t, func() bool {
		gone, err := b.ExpireNodes(ctxFor(t))
		require.NoError(t, err)
		for _, p := range gone {
			assert.NotEqual(t, user, "", "reported users have ids")
			if p.UserID == user {
				got = p
				return true
			}
		}
		return false
	}, waitTimeout, 10*time.Millisecond, "ExpireNodes never reported %q", user)
	return got
}

// nearNow checks that at is within clockSlack of [from, to].
func nearNow(t *testing.T, at *time.Time, from, to time.Time) {
	t.Helper()
	require.NotNil(t, at, "last_seen_at is known")
	assert.False(t, at.Before(from.Add(-clockSlack)), "last seen %v, before %v", at, from)
	assert.False(t, at.After(to.Add(clockSlack)), "last seen %v, after %v", at, to)
}

func testOnlineThenOffline(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	before := time.Now()
	require.Equal(t, []string{"alice", "bob"}, online(t, b, n, longTTL, "alice", "bob"))
	ps := read(t, b, "alice", "bob")
	assert.True(t, ps[0].Online)
	assert.True(t, ps[1].Online)
	nearNow(t, ps[0].LastSeenAt, before, time.Now())

	assert.Empty(t, online(t, b, n, longTTL, "alice"), "already online: no transition")
	assert.Empty(t, online(t, b, n, longTTL), "no users: only the lease")

	left := time.Now()
	assert.Equal(t, []string{"alice"}, offline(t, b, n, "alice"))
	ps = read(t, b, "alice", "bob")
	assert.False(t, ps[0].Online)
	nearNow(t, ps[0].LastSeenAt, left, time.Now())
	assert.True(t, ps[1].Online, "bob is still connected")
	assert.Empty(t, offline(t, b, n, "alice"), "offline twice: one transition")
}

func testNeverSeen(t *testing.T, b chat.PresenceBroker) {
	ps := read(t, b, "nobody", "nobody-else")
	for _, p := range ps {
		assert.False(t, p.Online)
		assert.Nil(t, p.LastSeenAt)
	}
	assert.Empty(t, read(t, b))
}

func testSeveralNodes(t *testing.T, b chat.PresenceBroker) {
	n1, n2 := newNode(), newNode()
	assert.Equal(t, []string{"alice"}, online(t, b, n1, longTTL, "alice"))
	assert.Empty(t, online(t, b, n2, longTTL, "alice"), "online on another node already")
	assert.Empty(t, offline(t, b, n1, "alice"), "still connected to n2")
	assert.True(t, isOnline(t, b, "alice"))
	assert.Equal(t, []string{"alice"}, offline(t, b, n2, "alice"))
	assert.False(t, isOnline(t, b, "alice"))
}

func testOfflineWithoutEntry(t *testing.T, b chat.PresenceBroker) {
	n1, n2 := newNode(), newNode()
	assert.Empty(t, offline(t, b, n1, "ghost"))
	online(t, b, n1, longTTL, "alice")
	assert.Empty(t, offline(t, b, n2, "alice"), "n2 has no entry of alice")
	assert.True(t, isOnline(t, b, "alice"))
}

func testConcurrentTransitions(t *testing.T, b chat.PresenceBroker) {
	const nodes = 8
	ids := make([]string, nodes)
	for i := range ids {
		ids[i] = newNode()
	}
	var mu sync.Mutex
	var came, went int
	var wg sync.WaitGroup
	for _, n := range ids {
		wg.Go(func() {
			c, err := b.SetOnline(context.Background(), n, []string{"alice"}, longTTL)
			assert.NoError(t, err)
			mu.Lock()
			came += len(c)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, 1, came, "one node brings alice online")
	for _, n := range ids {
		wg.Go(func() {
			w, err := b.SetOffline(context.Background(), n, []string{"alice"})
			assert.NoError(t, err)
			mu.Lock()
			went += len(w)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, 1, went, "one node takes alice offline")
	assert.False(t, isOnline(t, b, "alice"))
}

func testRenewalExtends(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	start := time.Now()
	online(t, b, n, shortTTL, "alice")
	online(t, b, n, longTTL, "alice")
	// Past the first lease, the renewal holds.
	time.Sleep(time.Until(start.Add(shortTTL + 100*time.Millisecond)))
	assert.True(t, isOnline(t, b, "alice"))
	gone, err := b.ExpireNodes(ctxFor(t))
	require.NoError(t, err)
	assert.Empty(t, gone, "the node renewed its lease")
}

func testExpiryWithoutRenewal(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	online(t, b, n, shortTTL, "alice", "bob")
	lastRenewal := time.Now()
	require.Eventually(t, func() bool { return !isOnline(t, b, "alice") }, waitTimeout, 10*time.Millisecond,
		"an entry not renewed expires without ExpireNodes")
	reported := map[string]chat.Presence{}
	require.Eventually(t, func() bool {
		gone, err := b.ExpireNodes(ctxFor(t))
		require.NoError(t, err)
		for _, p := range gone {
			reported[p.UserID] = p
		}
		return len(reported) == 2
	}, waitTimeout, 10*time.Millisecond)
	for _, id := range []string{"alice", "bob"} {
		p := reported[id]
		assert.False(t, p.Online)
		nearNow(t, p.LastSeenAt, lastRenewal.Add(-time.Second), lastRenewal)
	}
	ps := read(t, b, "alice")
	assert.False(t, ps[0].Online)
	assert.NotNil(t, ps[0].LastSeenAt, "an expired user keeps their last seen time")
}

func testExpireOnlyExpiredNodes(t *testing.T, b chat.PresenceBroker) {
	dying, living := newNode(), newNode()
	online(t, b, living, longTTL, "bob", "carol")
	online(t, b, dying, shortTTL, "alice", "carol")
	got := expire(t, b, "alice")
	assert.False(t, got.Online)
	gone, err := b.ExpireNodes(ctxFor(t))
	require.NoError(t, err)
	assert.Empty(t, gone, "carol is still on the living node, bob was never on the dying one")
	ps := read(t, b, "alice", "bob", "carol")
	assert.False(t, ps[0].Online)
	assert.True(t, ps[1].Online)
	assert.True(t, ps[2].Online)
}

func testExpireReportedOnce(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	online(t, b, n, shortTTL, "alice")
	require.Eventually(t, func() bool { return !isOnline(t, b, "alice") }, waitTimeout, 10*time.Millisecond)
	var mu sync.Mutex
	reports := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				gone, err := b.ExpireNodes(context.Background())
				assert.NoError(t, err)
				mu.Lock()
				reports += len(gone)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, reports, "callers expiring at once report alice once")
}

func testOnlineElsewhereBeforeExpire(t *testing.T, b chat.PresenceBroker) {
	dying, other := newNode(), newNode()
	online(t, b, dying, shortTTL, "alice")
	require.Eventually(t, func() bool { return !isOnline(t, b, "alice") }, waitTimeout, 10*time.Millisecond)
	assert.Equal(t, []string{"alice"}, online(t, b, other, longTTL, "alice"),
		"an expired entry does not count as online")
	require.Eventually(t, func() bool {
		gone, err := b.ExpireNodes(ctxFor(t))
		require.NoError(t, err)
		for _, p := range gone {
			assert.NotEqual(t, "alice", p.UserID, "alice is online on the other node")
		}
		// The dying node is expired once its lease has run out, which
		// ExpireNodes shows by having nothing left to report.
		return !slices.ContainsFunc(gone, func(p chat.Presence) bool { return p.UserID == "alice" })
	}, waitTimeout, 10*time.Millisecond)
	assert.True(t, isOnline(t, b, "alice"))
}

func testBackAfterExpiry(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	online(t, b, n, shortTTL, "alice")
	expire(t, b, "alice")
	assert.Equal(t, []string{"alice"}, online(t, b, n, longTTL, "alice"), "a node that was expired comes back")
	assert.True(t, isOnline(t, b, "alice"))
}

func testOfflineAfterExpiry(t *testing.T, b chat.PresenceBroker) {
	n := newNode()
	online(t, b, n, shortTTL, "alice")
	require.Eventually(t, func() bool { return !isOnline(t, b, "alice") }, waitTimeout, 10*time.Millisecond)
	// A paused node, expired but not yet reaped, closes alice's
	// connection: its SetOffline reports the transition, and the reaper
	// does not report it again.
	assert.Equal(t, []string{"alice"}, offline(t, b, n, "alice"))
	time.Sleep(10 * time.Millisecond)
	gone, err := b.ExpireNodes(ctxFor(t))
	require.NoError(t, err)
	assert.Empty(t, gone)
}

func testAwkwardIDs(t *testing.T, b chat.PresenceBroker) {
	ids := []string{"{tag}", "a}b{c", "*", "sp ace", "ünï", "node-x", "seen", ":"}
	n := newNode()
	assert.Equal(t, sorted(ids), online(t, b, n, longTTL, ids...))
	for _, p := range read(t, b, ids...) {
		assert.True(t, p.Online, p.UserID)
	}
	assert.Equal(t, sorted(ids[:3]), offline(t, b, n, ids[:3]...))
	for i, p := range read(t, b, ids...) {
		assert.Equal(t, i >= 3, p.Online, p.UserID)
	}
}

func testCancelledContext(t *testing.T, b chat.PresenceBroker) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := newNode()
	_, err := b.SetOnline(ctx, n, []string{"alice"}, longTTL)
	assert.Error(t, err)
	_, err = b.SetOffline(ctx, n, []string{"alice"})
	assert.Error(t, err)
	_, err = b.ExpireNodes(ctx)
	assert.Error(t, err)
	_, err = b.Presence(ctx, []string{"alice"})
	assert.Error(t, err)
}
