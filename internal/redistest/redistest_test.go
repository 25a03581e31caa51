package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServer(t *testing.T) {
	srv := redistest.StartServer(t)
	c := srv.Client()
	ctx := t.Context()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	assert.Equal(t, "v", c.Get(ctx, "k").Val())

	srv.Kill()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	assert.Error(t, c.Ping(short).Err(), "a killed server answers nothing")

	require.NoError(t, srv.Restart())
	require.NoError(t, c.Ping(ctx).Err(), "the restarted server listens on the same address")
	assert.Zero(t, c.Exists(ctx, "k").Val(), "nothing persists across a restart")
}

func TestServerExtraArgs(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory", "12345678")
	got, err := srv.Client().ConfigGet(t.Context(), "maxmemory").Result()
	require.NoError(t, err)
	assert.Equal(t, "12345678", got["maxmemory"])
}

func TestCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	require.Len(t, cluster.Addrs(), 3)
	c := cluster.Client()
	ctx := t.Context()

	// Keys spread over every master.
	for i := range 100 {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("key-%d", i), i, 0).Err())
	}
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := node.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		assert.Positive(t, n, "master %s holds no key", node.Options().Addr)
		return nil
	}))
}

func TestNewClusterNeedsThreeMasters(t *testing.T) {
	_, err := redistest.NewCluster(2)
	assert.Error(t, err)
}
