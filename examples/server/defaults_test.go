package main

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/internal/testenv"
)

// The demo believes any claimed name, so by default it must not be
// reachable from other machines.
func TestDefaultAddrIsLoopbackOnly(t *testing.T) {
	addr, _, err := parseFlags(nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", strings.Replace(addr, ":8080", ":0", 1))
	require.NoError(t, err)
	defer ln.Close()
	ip := ln.Addr().(*net.TCPAddr).IP
	assert.True(t, ip.IsLoopback(), "-addr %q listens on %v", addr, ip)

	addr, _, err = parseFlags([]string{"-addr", ":9000"})
	require.NoError(t, err)
	assert.Equal(t, ":9000", addr, "every interface when asked for")
}

func TestPageURL(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		url    string
		public bool
	}{
		{"127.0.0.1:8080", "http://localhost:8080", false},
		{"[::1]:8080", "http://localhost:8080", false},
		{"0.0.0.0:8080", "http://localhost:8080", true},
		{"[::]:9000", "http://localhost:9000", true},
		{"192.0.2.7:8080", "http://192.0.2.7:8080", true},
		{"[2001:db8::1]:8080", "http://[2001:db8::1]:8080", true},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		require.NoError(t, err)
		url, public := pageURL(addr)
		assert.Equal(t, tc.url, url, tc.addr)
		assert.Equal(t, tc.public, public, tc.addr)
	}
}

// records is a slog.Handler that keeps what is logged.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec.Clone())
	return nil
}

// find returns the first record whose message starts with prefix.
func (r *records) find(prefix string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.got {
		if strings.HasPrefix(rec.Message, prefix) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func attr(rec slog.Record, key string) string {
	var v string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// At start the demo says which URL to open and where chats are kept.
func TestStartSaysWhatToOpenAndWhereChatsLive(t *testing.T) {
	logs := &records{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, config{}, slog.New(logs)) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	var ready slog.Record
	require.Eventually(t, func() bool {
		var ok bool
		ready, ok = logs.find("chat demo ready")
		return ok
	}, timeout, time.Millisecond)
	assert.Contains(t, ready.Message, "open http://localhost:"+strconv.Itoa(port))
	assert.Equal(t, describeMemory, attr(ready, "backend"))
	_, warned := logs.find("listening on every interface")
	assert.False(t, warned, "a loopback listener is not every interface")
}

// The backends describe themselves for that line.
func TestBackendDescriptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  config
		want string
	}{
		{config{}, describeMemory},
		{config{PostgresURL: freshDatabase(t)}, describePostgres},
		{config{PostgresURL: freshDatabase(t), RedisURL: testenv.RedisURL(t)}, describePostgresRedis},
	} {
		b, err := openBackend(ctx, tc.cfg, discard)
		require.NoError(t, err)
		assert.Equal(t, tc.want, b.describe)
		b.close()
	}
}
