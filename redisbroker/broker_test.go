package redisbroker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/brokertest"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/internal/testenv"
	"github.com/embedchat/chat/redisbroker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopClusterAfter{m})
}

// stopClusterAfter runs the tests, then stops the cluster they shared, so
// that goleak checks for goroutines with every process gone.
type stopClusterAfter struct{ m *testing.M }

func (r stopClusterAfter) Run() int {
	code := r.m.Run()
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	// When a dial fails often enough, go-redis probes the node from a
	// goroutine (pool.(*ConnPool).tryDial) that sleeps a second between
	// attempts and sees that its pool was closed only after the sleep.
	// Tests that kill nodes leave such a probe behind for up to a second,
	// longer than goleak waits, so give goroutines that long to end
	// before goleak looks. A goroutine that is really leaked is still
	// there afterwards.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		if goleak.Find() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return code
}

// shared is the Redis Cluster of this test binary, started by the first
// test that needs it: starting one takes a few seconds.
var shared struct {
	once    sync.Once
	cluster *redistest.Cluster
	err     error
}

func sharedCluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	shared.once.Do(func() {
		shared.cluster, shared.err = redistest.NewCluster(3)
	})
	if errors.Is(shared.err, redistest.ErrNotInstalled) {
		testenv.Unavailable(t, "%v", shared.err)
	}
	require.NoError(t, shared.err)
	return shared.cluster
}

// runID keeps the channels of concurrent runs of these tests apart on the
// shared Redis.
var runID = rand.Uint32()

// prefix returns a channel prefix of t's own.
func prefix(t testing.TB) string {
	return fmt.Sprintf("test-%08x:%s:", runID, t.Name())
}

// sharedRedis returns a client of the shared Redis from testenv.
func sharedRedis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	require.NoError(t, err)
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func newBroker(t testing.TB, client redis.UniversalClient, cfg redisbroker.Config) *redisbroker.Broker {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t)
	}
	if cfg.Logger == nil {
		// What the Broker saw is in the output of a failed test.
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	b, err := redisbroker.New(client, cfg)
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	t.Run("Standalone", func(t *testing.T) {
		client := sharedRedis(t)
		brokertest.Run(t, func(t *testing.T) chat.Broker {
			return newBroker(t, client, redisbroker.Config{})
		})
	})
	t.Run("Cluster", func(t *testing.T) {
		client := sharedCluster(t).Client()
		brokertest.Run(t, func(t *testing.T) chat.Broker {
			return newBroker(t, client, redisbroker.Config{})
		})
	})
}

func TestNewValidatesConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })

	for name, tc := range map[string]struct {
		client redis.UniversalClient
		cfg    redisbroker.Config
	}{
		"nil client":                 {nil, redisbroker.Config{}},
		"ring":                       {ring, redisbroker.Config{}},
		"negative BufferSize":        {client, redisbroker.Config{BufferSize: -1}},
		"negative MaxReconnectDelay": {client, redisbroker.Config{MaxReconnectDelay: -time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := redisbroker.New(tc.client, tc.cfg)
			assert.Error(t, err)
		})
	}

	b, err := redisbroker.New(client, redisbroker.Config{HealthCheckInterval: -1})
	require.NoError(t, err, "a negative HealthCheckInterval disables the check")
	_, err = b.NewSubscriber(nil)
	assert.Error(t, err, "nil handler")
}

func TestPublishError(t *testing.T) {
	// Nothing listens on port 1.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	b := newBroker(t, client, redisbroker.Config{})

	err := b.Publish(t.Context(), "topic", []byte("x"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redisbroker: publish: ")
}

func TestSubscribeWhileUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	b := newBroker(t, client, redisbroker.Config{})
	sub, err := b.NewSubscriber(new(brokertest.Recorder))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = sub.Subscribe(ctx, "topic")
	require.Error(t, err)
	assert.ErrorIs(t, err, chat.ErrUnavailable)
	assert.NoError(t, ctx.Err(), "Subscribe must fail when the server is unreachable, not wait for ctx")

	require.NoError(t, sub.Close())
	assert.ErrorIs(t, sub.Subscribe(ctx, "topic"), chat.ErrClosed)
	assert.ErrorIs(t, sub.Unsubscribe(ctx, "topic"), chat.ErrClosed)
	assert.NoError(t, sub.Close(), "second Close")
}
