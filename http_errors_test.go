package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// logRecorder is a slog.Handler that keeps every record, Debug included.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// at returns the messages logged at level.
func (l *logRecorder) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs []string
	for _, r := range l.records {
		if r.Level == level {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs
}

// attr returns the value of key in the first record logged with msg.
func (l *logRecorder) attr(msg, key string) (slog.Value, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Message != msg {
			continue
		}
		var v slog.Value
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v, found = a.Value, true
				return false
			}
			return true
		})
		return v, found
	}
	return slog.Value{}, false
}

// waitingStore is a Store whose ListChats tells entered that it was called
// and then waits for its ctx to end, as a slow query does.
type waitingStore struct {
	chat.Store
	entered chan struct{}
}

func (s waitingStore) ListChats(ctx context.Context, _ string, _ chat.ChatQuery) ([]chat.Chat, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("waiting store: %w", ctx.Err())
}

// TestRESTClientCancellationIsNoServerError checks, over real HTTP, that a
// client that goes away mid-request is neither logged as an error nor
// answered with a 5xx: it gets 499, logged at Debug.
func TestRESTClientCancellationIsNoServerError(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	store := waitingStore{Store: memory.NewStore(), entered: make(chan struct{})}
	svc := chattest.NewService(t, chat.Config{Store: store, Logger: slog.New(logs)})
	statuses := make(chan int, 1)
	h := chat.NewHandler(svc, chat.HandlerConfig{Authenticate: chattest.HeaderAuth})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		statuses <- rec.status
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/chats", nil)
	require.NoError(t, err)
	req.Header.Set(chattest.UserHeader, "alice")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-store.entered
	cancel() // the client goes away while the Store works
	require.ErrorIs(t, <-done, context.Canceled)

	assert.Equal(t, 499, <-statuses, "the status access logs and metrics see")
	assert.Empty(t, logs.at(slog.LevelError), "a client's cancellation logged as an error")
	assert.Empty(t, logs.at(slog.LevelWarn))
	assert.Contains(t, logs.at(slog.LevelDebug), "chat: request canceled by the client")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// TestRESTUnavailableRetryAfterIsJittered checks that 503 answers spread
// their clients' retries over 1 to 5 seconds instead of sending them all
// back one second later.
func TestRESTUnavailableRetryAfterIsJittered(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{Store: restSecretStore{
		Store: memory.NewStore(), err: fmt.Errorf("dial: %w", chat.ErrUnavailable),
	}})
	srv := chattest.NewServer(t, svc)
	seen := map[int]int{}
	for range 60 {
		r := srv.Do("alice", http.MethodGet, "/chats", nil)
		restRequireError(t, r, http.StatusServiceUnavailable, "unavailable")
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After %q is not whole seconds", r.Header.Get("Retry-After"))
		require.True(t, secs >= 1 && secs <= 5, "Retry-After %d outside 1-5 s", secs)
		seen[secs]++
	}
	// 60 draws from 5 values all alike has probability 5^-59.
	assert.Greater(t, len(seen), 1, "every 503 says the same Retry-After: %v", seen)
}

// TestRESTCanceledIsMatchedFirst checks that a failure caused by the
// client's cancellation is not reported as the backend's, even when the
// Store also wraps ErrUnavailable around it.
func TestRESTCanceledIsMatchedFirst(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("postgres: list chats: %w: %w", chat.ErrUnavailable, context.Canceled)
	svc := chattest.NewService(t, chat.Config{Store: restSecretStore{Store: memory.NewStore(), err: err}})
	srv := chattest.NewServer(t, svc)
	r := srv.Do("alice", http.MethodGet, "/chats", nil)
	restRequireError(t, r, 499, "canceled")
	assert.Empty(t, r.Header.Get("Retry-After"))
}
