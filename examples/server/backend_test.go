package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/testenv"
)

// freshDatabase creates a database private to the test, so that the
// servers' default schema collides with nothing, and returns its URL.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := sqlx.Open("postgres", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "example_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		assert.NoError(t, err)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// startServer runs the server as main does, on a free port, until the test
// ends, and returns its base URL.
func runServer(t *testing.T, cfg config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, cfg, discard) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// Two servers started with the same -postgres and -redis form one chat
// service: they share history, and a message sent through one reaches a
// member connected to the other.
func TestTwoServersShareHistoryAndDeliver(t *testing.T) {
	cfg := config{PostgresURL: freshDatabase(t), RedisURL: testenv.RedisURL(t)}
	a, b := runServer(t, cfg), runServer(t, cfg)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	alice, bob := identity{header: "alice"}, identity{header: "bob"}

	c := decode[chat.Chat](t, do(t, client, alice, http.MethodPost, a+"/api/v1/chats",
		map[string]any{"kind": "direct", "members": []string{"bob"}}))
	r := do(t, client, alice, http.MethodPost, a+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "stored on a"})
	require.Equal(t, http.StatusCreated, r.status)

	page := decode[chat.MessagePage](t, do(t, client, bob, http.MethodGet, b+"/api/v1/chats/"+c.ID+"/messages", nil))
	require.Len(t, page.Messages, 1)
	assert.Equal(t, "stored on a", page.Messages[0].Text)

	conn := connect(t, b, bob)
	r = do(t, client, alice, http.MethodPost, a+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "live via redis"})
	require.Equal(t, http.StatusCreated, r.status)
	ev := nextEvent(t, conn)
	require.Equal(t, chat.EventMessageCreated, ev.Type)
	assert.Equal(t, int64(2), ev.Seq)
	assert.Equal(t, "live via redis", ev.Message.Text)
}

func TestBackendFlagsThatCannotWork(t *testing.T) {
	for _, cfg := range []config{
		{RedisURL: "redis://127.0.0.1:6379"},
		{PostgresURL: "postgres://x", RedisURL: "redis://x", RedisCluster: "x:1"},
	} {
		_, err := openBackend(context.Background(), cfg, discard)
		assert.Error(t, err, "%+v", cfg)
	}
}

// An error says "postgres:" once: Migrate's own error names the step, the
// schema and the cause, and is not wrapped again.
func TestBackendMigrationErrorHasOnePrefix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = openBackend(ctx, config{PostgresURL: "postgres://postgres@" + addr + "/test?sslmode=disable"}, discard)
	require.Error(t, err)
	assert.ErrorIs(t, err, chat.ErrUnavailable)
	assert.Equal(t, 1, strings.Count(err.Error(), "postgres:"), "%v", err)
	assert.True(t, strings.HasPrefix(err.Error(), `postgres: migrate schema "chat"`), "%v", err)
}

func TestRateFlag(t *testing.T) {
	for in, want := range map[string]chat.Rate{
		"10/s":   {Events: 10, Per: time.Second},
		"100/m":  {Events: 100, Per: time.Minute},
		"5/10s":  {Events: 5, Per: 10 * time.Second},
		"1/1h0m": {Events: 1, Per: time.Hour},
	} {
		var r chat.Rate
		require.NoError(t, rateFlag{&r}.Set(in), in)
		assert.Equal(t, want, r, in)
	}
	for _, in := range []string{"", "10", "0/s", "-1/s", "x/s", "10/", "10/parsec", "10/-1s"} {
		var r chat.Rate
		assert.Error(t, rateFlag{&r}.Set(in), in)
	}
}

// With -send-rate, a user over the limit gets 429 with Retry-After.
func TestSendRateLimit(t *testing.T) {
	base := runServer(t, config{RateLimit: chat.RateLimit{Sends: chat.Rate{Events: 1, Per: time.Hour}}})
	client := &http.Client{}
	defer client.CloseIdleConnections()
	alice := identity{header: "alice"}
	c := decode[chat.Chat](t, do(t, client, alice, http.MethodPost, base+"/api/v1/chats",
		map[string]any{"kind": "direct", "members": []string{"bob"}}))
	r := do(t, client, alice, http.MethodPost, base+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "one"})
	require.Equal(t, http.StatusCreated, r.status)
	r = do(t, client, alice, http.MethodPost, base+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "two"})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}
