// Package integration_test runs several chat nodes on one PostgreSQL and
// one Redis (standalone or Cluster), each node with its own connection
// pool, Redis client, Service and HTTP server, and checks delivery over
// real WebSocket connections, including while Redis fails.
package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/internal/testenv"
	"github.com/embedchat/chat/postgres"
	"github.com/embedchat/chat/redisbroker"
)

var sharedCluster *redistest.Cluster

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCluster != nil {
		sharedCluster.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// cluster returns the 3-master Redis Cluster shared by this package's
// tests, starting it on first use.
func cluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	if sharedCluster == nil {
		c, err := redistest.NewCluster(3)
		if err != nil {
			testenv.Unavailable(t, "starting a Redis Cluster: %v", err)
		}
		sharedCluster = c
	}
	return sharedCluster
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// postgresStores returns a function that opens a new pool and Store on a
// schema private to the test, as each server of a deployment would.
func postgresStores(t testing.TB) func() chat.Store {
	t.Helper()
	open := postgresPools(t)
	return func() chat.Store {
		_, s := open()
		return s
	}
}

// postgresPools is postgresStores that also returns each Store's pool, for
// tests that run the host's own transactions.
func postgresPools(t testing.TB) func() (*sqlx.DB, *postgres.Store) {
	t.Helper()
	url := testenv.PostgresURL(t)
	cfg := postgres.Config{Schema: randomName("it_")}
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", url)
	require.NoError(t, err)
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		testenv.Unavailable(t, "PostgreSQL at %s: %v", url, err)
	}
	require.NoError(t, postgres.Migrate(ctx, admin, cfg))
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+cfg.Schema+` CASCADE`)
		require.NoError(t, err)
		admin.Close()
	})
	return func() (*sqlx.DB, *postgres.Store) {
		db, err := sqlx.Open("postgres", url)
		require.NoError(t, err)
		// As docs/postgres.md asks: idle = open, or the pool closes
		// connections under load and opens new ones.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		t.Cleanup(func() { db.Close() })
		s, err := postgres.New(db, cfg)
		require.NoError(t, err)
		// Cleanups run last first: the Store's queued writes finish
		// before its pool closes.
		t.Cleanup(func() { s.Close() })
		return db, s
	}
}

// redisClients returns a function making clients of the shared standalone
// Redis, or of addr when it is not empty.
func redisClients(t testing.TB, addr string) func() redis.UniversalClient {
	t.Helper()
	var opt *redis.Options
	if addr == "" {
		var err error
		opt, err = redis.ParseURL(testenv.RedisURL(t))
		require.NoError(t, err)
	} else {
		opt = &redis.Options{Addr: addr}
	}
	return func() redis.UniversalClient {
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
}

func clusterClients(t testing.TB) func() redis.UniversalClient {
	t.Helper()
	addrs := cluster(t).Addrs()
	return func() redis.UniversalClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { c.Close() })
		return c
	}
}

type node struct {
	svc *chat.Service
	srv *chattest.Server
}

// startNodes starts n nodes sharing the database and Redis behind
// newStore and newClient; channel names start with prefix.
func startNodes(t testing.TB, n int, newStore func() chat.Store, newClient func() redis.UniversalClient, prefix string) []node {
	t.Helper()
	nodes := make([]node, n)
	for i := range nodes {
		b, err := redisbroker.New(newClient(), redisbroker.Config{Prefix: prefix})
		require.NoError(t, err)
		svc := chattest.NewService(t, chat.Config{Store: newStore(), Broker: b})
		nodes[i] = node{svc: svc, srv: chattest.NewServer(t, svc)}
	}
	return nodes
}

func createChat(t testing.TB, n node, user string, req chat.CreateChatRequest) chat.Chat {
	t.Helper()
	resp := n.srv.Do(user, http.MethodPost, "/chats", req)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var c chat.Chat
	resp.Decode(t, &c)
	return c
}

func send(t testing.TB, n node, user, chatID, text string) {
	t.Helper()
	resp := n.srv.Do(user, http.MethodPost, "/chats/"+chatID+"/messages", chat.SendMessageRequest{Text: text})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
}
