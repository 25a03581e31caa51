package redisbroker_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/presencetest"
	"github.com/embedchat/chat/redisbroker"
)

func TestPresence(t *testing.T) {
	client := sharedRedis(t)
	presencetest.Run(t, func(t *testing.T) chat.PresenceBroker {
		return newBroker(t, client, redisbroker.Config{Prefix: presencePrefix(t)})
	})
}

func TestPresenceCluster(t *testing.T) {
	client := sharedCluster(t).Client()
	presencetest.Run(t, func(t *testing.T) chat.PresenceBroker {
		return newBroker(t, client, redisbroker.Config{Prefix: presencePrefix(t)})
	})
}

// presencePrefix is a key prefix of t's own run: presence keys outlive a
// test (for up to an hour, the suite's long lease), so a test run again
// with -count must not find the previous run's.
func presencePrefix(t testing.TB) string {
	return fmt.Sprintf("%s%08x:", prefix(t), rand.Uint32())
}

// A restarted Redis has lost its scripts and every entry: the next calls
// load the scripts again, and a node's renewal brings its users back,
// reported as coming online.
func TestPresenceRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	client := srv.Client()
	b := newBroker(t, client, redisbroker.Config{Prefix: prefix(t)})
	ctx := t.Context()
	came, err := b.SetOnline(ctx, "n1", []string{"alice"}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, came)

	require.NoError(t, srv.Restart())
	require.Eventually(t, func() bool { return client.Ping(ctx).Err() == nil }, 10*time.Second, 20*time.Millisecond)

	ps, err := b.Presence(ctx, []string{"alice"})
	require.NoError(t, err)
	require.False(t, ps[0].Online, "the restart lost the entry")
	came, err = b.SetOnline(ctx, "n1", []string{"alice"}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, came, "the renewal records alice again")
	ps, err = b.Presence(ctx, []string{"alice"})
	require.NoError(t, err)
	require.True(t, ps[0].Online)
	went, err := b.SetOffline(ctx, "n1", []string{"alice"})
	require.NoError(t, err)
	require.Len(t, went, 1)
	require.Equal(t, "alice", went[0].UserID)
}
