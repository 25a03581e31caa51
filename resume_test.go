package chat_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// steppedStore holds every read a resume makes (ChatIDsOf, ChatIDs,
// LastSeqs, ListEvents) until the test lets it go, unless free is set, and
// counts them and how many are in the Store at once.
type steppedStore struct {
	*memory.Store
	free    atomic.Bool
	arrived chan chan struct{} // a held call's release

	mu          sync.Mutex
	calls       map[string]int
	inFlight    int
	maxInFlight int
}

func newSteppedStore() *steppedStore {
	return &steppedStore{Store: memory.NewStore(), arrived: make(chan chan struct{}, 1024), calls: make(map[string]int)}
}

// hold counts the call and waits until the test releases it.
func (s *steppedStore) hold(ctx context.Context, method string) {
	if s.free.Load() {
		return
	}
	s.mu.Lock()
	s.calls[method]++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	release := make(chan struct{})
	s.arrived <- release
	select {
	case <-release:
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}

func (s *steppedStore) ChatIDsOf(ctx context.Context, users []string) (map[string][]string, error) {
	s.hold(ctx, "ChatIDsOf")
	return s.Store.ChatIDsOf(ctx, users)
}

func (s *steppedStore) ChatIDs(ctx context.Context, user string) ([]string, error) {
	s.hold(ctx, "ChatIDs")
	return s.Store.ChatIDs(ctx, user)
}

func (s *steppedStore) LastSeqs(ctx context.Context, ids []string) (map[string]int64, error) {
	s.hold(ctx, "LastSeqs")
	return s.Store.LastSeqs(ctx, ids)
}

func (s *steppedStore) ListEvents(ctx context.Context, chatID string, after int64, limit int) ([]chat.Event, error) {
	s.hold(ctx, "ListEvents")
	return s.Store.ListEvents(ctx, chatID, after, limit)
}

func (s *steppedStore) snapshot() (calls map[string]int, inFlight, maxInFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls = make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		calls[k] = v
	}
	return calls, s.inFlight, s.maxInFlight
}

// newStorm returns a Service on a steppedStore where users u00..u39 are
// each in two groups of eight (one message each), which a "watcher"
// follows already, so that the storm reads no stream positions; and the
// positions each user lists: the chats' ends when upToDate, else 0.
func newStorm(t *testing.T, resumeConcurrency int, upToDate bool) (*chat.Service, *steppedStore, []string, map[string]map[string]int64) {
	t.Helper()
	ctx := context.Background()
	store := newSteppedStore()
	store.free.Store(true)
	svc := chattest.NewService(t, chat.Config{Store: store, ResumeConcurrency: resumeConcurrency})
	users := make([]string, 40)
	positions := make(map[string]map[string]int64, len(users))
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
		positions[users[i]] = map[string]int64{}
	}
	for _, offset := range []int{0, 4} {
		for first := offset; first < len(users); first += 8 {
			members := users[first:min(first+8, len(users))]
			c, _, err := svc.CreateChat(ctx, "watcher", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "g", Members: members})
			require.NoError(t, err)
			m, _, err := svc.SendMessage(ctx, "watcher", c.ID, chat.SendMessageRequest{Text: "hi"})
			require.NoError(t, err)
			for _, u := range members {
				positions[u][c.ID] = 0
				if upToDate {
					positions[u][c.ID] = m.Seq
				}
			}
		}
	}
	subscribe(t, svc, "watcher", nil)
	store.free.Store(false)
	t.Cleanup(func() { store.free.Store(true) })
	return svc, store, users, positions
}

// stepStorm subscribes every user at once and lets the Store answer one
// held call at a time, each only once every resume not yet done waits on
// a read: then the call that the next free slot starts carries every read
// that could join it. At each step, the Store must have no more than
// bound calls in flight. It returns when every subscription has resumed.
func stepStorm(t *testing.T, svc *chat.Service, store *steppedStore, users []string, positions map[string]map[string]int64, bound int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	var unfinished atomic.Int64
	unfinished.Store(int64(len(users)))
	errs := make(chan error, len(users))
	var resumed sync.WaitGroup
	for _, u := range users {
		sub, err := svc.Subscribe(ctx, u, positions[u])
		require.NoError(t, err)
		t.Cleanup(func() { sub.Close() })
		resumed.Add(1)
		go func() {
			defer resumed.Done()
			defer unfinished.Add(-1)
			for {
				ev, err := sub.Next(ctx)
				if err != nil || ev.Type == chat.EventResumed {
					errs <- err
					return
				}
			}
		}()
	}
	allResumed := make(chan struct{})
	go func() {
		resumed.Wait()
		close(allResumed)
	}()
	for {
		var release chan struct{}
		select {
		case release = <-store.arrived:
		case <-allResumed:
		case <-ctx.Done():
			calls, inFlight, _ := store.snapshot()
			t.Fatalf("resumes wait, but no Store call arrived: %d unfinished, %d reads under way, %d calls in flight, calls %v", unfinished.Load(), chat.ResumeReadsUnderWay(svc), inFlight, calls)
		}
		if release == nil {
			break
		}
		for n := unfinished.Load(); int64(chat.ResumeReadsUnderWay(svc)) != n; n = unfinished.Load() {
			require.NoError(t, ctx.Err(), "resumes never all waited on the Store")
			time.Sleep(time.Millisecond)
		}
		_, inFlight, _ := store.snapshot()
		require.LessOrEqual(t, inFlight, bound, "Store calls in flight")
		close(release)
	}
	for range users {
		require.NoError(t, <-errs)
	}
}

// Concurrent resumes share their Store reads: forty connections resuming
// at once read their chat ids (twice each: 80 reads) and their chats'
// positions (40 reads) in a handful of calls, never one per connection.
func TestConcurrentResumesShareStoreCalls(t *testing.T) {
	svc, store, users, positions := newStorm(t, 1, true)
	stepStorm(t, svc, store, users, positions, 1)

	calls, _, maxInFlight := store.snapshot()
	assert.Zero(t, calls["ChatIDs"], "no per-user ChatIDs with a ChatIDsBatcher")
	assert.Zero(t, calls["ListEvents"], "nothing to replay for connections up to date")
	assert.LessOrEqual(t, calls["ChatIDsOf"], 4, "80 chat id reads")
	assert.LessOrEqual(t, calls["LastSeqs"], 4, "40 position reads")
	assert.Equal(t, 1, maxInFlight)
}

// Replays count against Config.ResumeConcurrency too: forty connections
// each replaying two chats never have more than two Store calls in flight.
func TestResumesInFlightStayWithinResumeConcurrency(t *testing.T) {
	svc, store, users, positions := newStorm(t, 2, false)
	stepStorm(t, svc, store, users, positions, 2)

	calls, _, maxInFlight := store.snapshot()
	replays := 0
	for _, p := range positions {
		replays += len(p)
	}
	assert.Equal(t, replays, calls["ListEvents"], "one replay read per user and chat")
	assert.LessOrEqual(t, maxInFlight, 2)
}

// unavailableStore fails the reads named in down with ErrUnavailable.
type unavailableStore struct {
	chat.Store
	down map[string]bool
}

func (s unavailableStore) ChatIDs(ctx context.Context, user string) ([]string, error) {
	if s.down["ChatIDs"] {
		return nil, fmt.Errorf("test: %w", chat.ErrUnavailable)
	}
	return s.Store.ChatIDs(ctx, user)
}

func (s unavailableStore) LastSeqs(ctx context.Context, ids []string) (map[string]int64, error) {
	if s.down["LastSeqs"] {
		return nil, fmt.Errorf("test: %w", chat.ErrUnavailable)
	}
	return s.Store.LastSeqs(ctx, ids)
}

// A resume that meets an unreachable Store closes the WebSocket with 1013
// (try again later), for the client to come back after a backoff, rather
// than leaving it waiting: whether the user's chats or their positions
// could not be read. A node whose streams cannot read their positions
// keeps retrying them; it no longer keeps the connections waiting.
func TestResumeWithStoreUnavailableClosesWith1013(t *testing.T) {
	for _, down := range []string{"ChatIDs", "LastSeqs"} {
		t.Run(down, func(t *testing.T) {
			mem := memory.NewStore()
			svc := chattest.NewService(t, chat.Config{Store: unavailableStore{Store: mem, down: map[string]bool{down: true}}})
			_, _, err := mem.CreateChat(context.Background(), chat.Chat{
				ID: "g1", Kind: chat.KindGroup, CreatedBy: "alice", CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
				Members: []chat.Member{{UserID: "alice"}},
			}, "")
			require.NoError(t, err)
			srv := chattest.NewServer(t, svc)
			conn := srv.Dial("alice")
			conn.Send(map[string]any{"type": "resume", "positions": map[string]int64{"g1": 0}})
			require.Equal(t, websocket.StatusTryAgainLater, conn.CloseStatus())
		})
	}
}
