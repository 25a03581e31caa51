package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// downSwitch is a Ping that fails while down is set, for the wrapped
// backends below.
type downSwitch struct {
	mu   sync.Mutex
	down bool
}

func (d *downSwitch) setDown(down bool) {
	d.mu.Lock()
	d.down = down
	d.mu.Unlock()
}

func (d *downSwitch) Ping(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return fmt.Errorf("test: %w", chat.ErrUnavailable)
	}
	return nil
}

// pingStore is a memory Store whose Ping fails while down is set.
type pingStore struct {
	*memory.Store
	downSwitch
}

// pingBroker is a memory Broker whose Ping fails while down is set.
type pingBroker struct {
	*memory.Broker
	downSwitch
}

// flakyLastSeqs is a memory Store whose LastSeqs fails while fail is set.
type flakyLastSeqs struct {
	*memory.Store
	fail atomic.Bool
}

func (f *flakyLastSeqs) LastSeqs(ctx context.Context, ids []string) (map[string]int64, error) {
	if f.fail.Load() {
		return nil, fmt.Errorf("test: %w", chat.ErrUnavailable)
	}
	return f.Store.LastSeqs(ctx, ids)
}

type healthAnswer struct {
	Status int
	Body   struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
}

func getHealth(t *testing.T, srv *httptest.Server, path string) healthAnswer {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var a healthAnswer
	a.Status = resp.StatusCode
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a.Body))
	return a
}

func TestHealthReadinessFollowsTheBackends(t *testing.T) {
	store := &pingStore{Store: memory.NewStore()}
	broker := &pingBroker{Broker: memory.NewBroker()}
	svc := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	srv := httptest.NewServer(http.StripPrefix("/health", chat.NewHealthHandler(svc, chat.HealthConfig{})))
	t.Cleanup(srv.Close)

	require.Equal(t, http.StatusOK, getHealth(t, srv, "/health/livez").Status)
	ready := getHealth(t, srv, "/health/readyz")
	require.Equal(t, http.StatusOK, ready.Status)
	require.Equal(t, "ok", ready.Body.Status)

	store.setDown(true)
	ready = getHealth(t, srv, "/health/readyz")
	require.Equal(t, http.StatusServiceUnavailable, ready.Status)
	require.Equal(t, map[string]string{"store": "unavailable"}, ready.Body.Checks)
	require.Equal(t, http.StatusOK, getHealth(t, srv, "/health/livez").Status, "liveness ignores the backends")

	store.setDown(false)
	broker.setDown(true)
	ready = getHealth(t, srv, "/health/readyz")
	require.Equal(t, http.StatusServiceUnavailable, ready.Status)
	require.Equal(t, map[string]string{"broker": "unavailable"}, ready.Body.Checks)

	broker.setDown(false)
	require.Equal(t, http.StatusOK, getHealth(t, srv, "/health/readyz").Status)

	resp, err := srv.Client().Post(srv.URL+"/health/readyz", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, http.StatusNotFound, getHealth(t, srv, "/health/other").Status)
}

// A Store without Ping is checked with a real call: one that fails makes
// the node not ready.
func TestHealthReadinessWithoutPinger(t *testing.T) {
	store := &flakyLastSeqs{Store: memory.NewStore()}
	svc := chattest.NewService(t, chat.Config{Store: store})
	srv := httptest.NewServer(chat.NewHealthHandler(svc, chat.HealthConfig{}))
	t.Cleanup(srv.Close)
	require.Equal(t, http.StatusOK, getHealth(t, srv, "/readyz").Status)
	store.fail.Store(true)
	require.Equal(t, http.StatusServiceUnavailable, getHealth(t, srv, "/readyz").Status)
}

// During Shutdown the node reports not ready while it still serves its
// connections, for Config.DrainDelay; then it closes them with 1001, and
// liveness fails once Shutdown is over.
func TestHealthDuringShutdown(t *testing.T) {
	svc, err := chat.New(chat.Config{Store: memory.NewStore(), DrainDelay: chattest.Timeout * 100})
	require.NoError(t, err)
	api := chattest.NewServer(t, svc)
	health := httptest.NewServer(chat.NewHealthHandler(svc, chat.HealthConfig{}))
	t.Cleanup(health.Close)

	var c chat.Chat
	api.Do("alice", "POST", "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}}).Decode(t, &c)
	bob, _ := api.Connect("bob", map[string]int64{c.ID: 0})
	require.Equal(t, http.StatusOK, getHealth(t, health, "/readyz").Status)

	drainCtx, endDrain := context.WithCancel(context.Background())
	shutdown := make(chan error, 1)
	go func() { shutdown <- svc.Shutdown(drainCtx) }()
	require.Eventually(t, func() bool {
		return getHealth(t, health, "/readyz").Status == http.StatusServiceUnavailable
	}, chattest.Timeout, time.Millisecond, "readiness turns 503 as Shutdown starts")
	require.Equal(t, map[string]string{"service": "shutting down"}, getHealth(t, health, "/readyz").Body.Checks)

	// Still serving while draining: a send is stored and delivered.
	resp := api.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "still here"})
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, "still here", bob.NextOfType(chat.EventMessageCreated).Message.Text)
	require.Equal(t, http.StatusOK, getHealth(t, health, "/livez").Status)

	endDrain()
	require.ErrorIs(t, <-shutdown, context.Canceled, "the drain was cut short by ctx")
	require.Equal(t, websocket.StatusGoingAway, bob.CloseStatus())
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	require.NoError(t, svc.Shutdown(ctx), "a second Shutdown waits for the first one's work")
	require.Equal(t, http.StatusServiceUnavailable, getHealth(t, health, "/livez").Status)
}
