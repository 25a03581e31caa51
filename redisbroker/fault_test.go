package redisbroker_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/brokertest"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/redisbroker"
)

// waitTimeout bounds the waits of these tests.
const waitTimeout = 10 * time.Second

func TestServerRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	client := srv.Client()
	b := newBroker(t, client, redisbroker.Config{})
	rec := new(brokertest.Recorder)
	sub := openSubscriber(t, b, rec)
	subscribe(t, sub, "a", "b")

	// Publish without pause on a from another client, so that the server
	// dies mid-stream.
	stream := startStream(t, newBroker(t, srv.Client(), redisbroker.Config{Prefix: prefix(t)}), "a")
	waitCount(t, rec, "a", 10)

	srv.Kill()
	// Down, Subscribe fails but keeps its topic, on a Subscriber that was
	// connected and on one that never was.
	err := sub.Subscribe(t.Context(), "c")
	require.Error(t, err)
	assert.ErrorIs(t, err, chat.ErrUnavailable)
	assert.Empty(t, rec.Lost(), "nothing can be reported lost while the topics are not active")
	freshRec := new(brokertest.Recorder)
	fresh := openSubscriber(t, b, freshRec)
	assert.ErrorIs(t, fresh.Subscribe(t.Context(), "c"), chat.ErrUnavailable)

	require.NoError(t, srv.Restart())
	for _, topic := range []string{"a", "b", "c"} {
		waitLost(t, rec, topic)
	}
	waitLost(t, freshRec, "c")
	publishT(t, b, "c", "to fresh")
	waitCount(t, freshRec, "c", 1)
	sent := stream.stop(t)

	// Once reported lost, the topics are active.
	for _, topic := range []string{"a", "b", "c"} {
		publishT(t, b, topic, "after restart")
		waitPayload(t, rec, topic, "after restart")
	}
	got := rec.Notifications("a")
	assert.Equal(t, "after restart", string(got[len(got)-1]))
	assertInOrder(t, got[:len(got)-1], sent)

	lost := rec.Lost()
	slices.Sort(lost)
	assert.Equal(t, []string{"a", "b", "c"}, lost, "each topic is reported once")
}

func TestClientKill(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := srv.Client()

	t.Run("Streaming", func(t *testing.T) {
		b := newBroker(t, srv.Client(), redisbroker.Config{})
		rec := new(brokertest.Recorder)
		sub := openSubscriber(t, b, rec)
		subscribe(t, sub, "a", "b")
		stream := startStream(t, b, "a")
		waitCount(t, rec, "a", 10)

		killClients(t, admin, "pubsub")
		waitLost(t, rec, "a")
		waitLost(t, rec, "b")
		sent := stream.stop(t)

		publishT(t, b, "b", "after kill")
		assert.Equal(t, "after kill", string(waitCount(t, rec, "b", 1)[0]))
		assertInOrder(t, rec.Notifications("a"), sent)
	})

	t.Run("Idle", func(t *testing.T) {
		// Nothing flows when the connection is killed: the Subscriber
		// still notices, reconnects and reports its topics.
		b := newBroker(t, srv.Client(), redisbroker.Config{})
		rec := new(brokertest.Recorder)
		sub := openSubscriber(t, b, rec)
		subscribe(t, sub, "a", "b")

		killClients(t, admin, "pubsub")
		waitLost(t, rec, "a")
		waitLost(t, rec, "b")
		publishT(t, b, "a", "after kill")
		assert.Equal(t, "after kill", string(waitCount(t, rec, "a", 1)[0]))
		lost := rec.Lost()
		slices.Sort(lost)
		assert.Equal(t, []string{"a", "b"}, lost)
	})

	t.Run("WithoutTopics", func(t *testing.T) {
		// A connection killed after its last topic went has nothing to
		// report, and the next Subscribe just connects again.
		b := newBroker(t, srv.Client(), redisbroker.Config{})
		rec := new(brokertest.Recorder)
		sub := openSubscriber(t, b, rec)
		subscribe(t, sub, "a")
		require.NoError(t, sub.Unsubscribe(t.Context(), "a"))

		// Without subscriptions the connection is no longer of type
		// pubsub for Redis.
		killClients(t, admin, "normal")
		subscribe(t, sub, "b")
		publishT(t, b, "b", "x")
		waitCount(t, rec, "b", 1)
		assert.Empty(t, rec.Lost())
	})
}

func TestSlowHandler(t *testing.T) {
	const buffer, published = 8, 200
	client := sharedRedis(t)
	b := newBroker(t, client, redisbroker.Config{BufferSize: buffer})
	h := &blockingHandler{entered: make(chan struct{}), release: make(chan struct{})}
	sub := openSubscriber(t, b, h)
	release := sync.OnceFunc(func() { close(h.release) })
	defer release()
	subscribe(t, sub, "slow")

	for i := range published {
		publishT(t, b, "slow", strconv.Itoa(i))
	}
	select {
	case <-h.entered:
	case <-time.After(waitTimeout):
		t.Fatal("the handler was not called")
	}
	// The handler is stuck in its first call. Redis answers this
	// subscription after it has sent every notification above, so when
	// Subscribe returns the reader has read them all: it did not wait for
	// the handler.
	subscribe(t, sub, "probe")

	release()
	waitLost(t, &h.Recorder, "slow")
	// The loss is reported before the buffered notifications are handed
	// on; "after" must find room, or it is dropped (and reported) too.
	waitCount(t, &h.Recorder, "slow", buffer+1)
	publishT(t, b, "slow", "after")
	got := waitCount(t, &h.Recorder, "slow", buffer+2)

	// The first notification went to the handler and the next ones filled
	// the buffer; the rest were dropped and reported.
	want := make([]string, 0, buffer+2)
	for i := range buffer + 1 {
		want = append(want, strconv.Itoa(i))
	}
	want = append(want, "after")
	assert.Equal(t, want, strs(got))
	assert.Equal(t, []string{"slow"}, h.Lost(), "only the topic with drops is reported")
}

// blockingHandler records like a Recorder, but holds its first
// notification until release is closed.
type blockingHandler struct {
	brokertest.Recorder
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *blockingHandler) HandleNotification(topic string, payload []byte) {
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
	h.Recorder.HandleNotification(topic, payload)
}

// stream publishes numbered notifications on one topic until stopped,
// ignoring failures: the server may be down for a while.
type stream struct {
	stopCh chan struct{}
	done   chan []string
}

func startStream(t *testing.T, b chat.Broker, topic string) *stream {
	s := &stream{stopCh: make(chan struct{}), done: make(chan []string, 1)}
	go func() {
		var sent []string
		for i := 0; ; i++ {
			select {
			case <-s.stopCh:
				s.done <- sent
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			payload := strconv.Itoa(i)
			if b.Publish(ctx, topic, []byte(payload)) == nil {
				sent = append(sent, payload)
			}
			cancel()
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop stops the stream and returns what was published successfully.
func (s *stream) stop(t *testing.T) []string {
	select {
	case <-s.stopCh:
	default:
		close(s.stopCh)
	}
	select {
	case sent := <-s.done:
		s.done <- sent
		return sent
	case <-time.After(waitTimeout):
		t.Fatal("the stream did not stop")
		return nil
	}
}

// assertInOrder checks that got is a subsequence of sent: notifications
// may be lost across a failure, but never reordered or invented.
func assertInOrder(t *testing.T, got [][]byte, sent []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		for i < len(sent) && sent[i] != string(g) {
			i++
		}
		if i == len(sent) {
			t.Fatalf("notification %q was not published, or arrived out of order", g)
		}
		i++
	}
}

// killClients kills every connection of the given type (pubsub or normal)
// but admin's own.
func killClients(t *testing.T, admin *redis.Client, typ string) {
	t.Helper()
	n, err := admin.ClientKillByFilter(t.Context(), "TYPE", typ, "SKIPME", "yes").Result()
	require.NoError(t, err)
	require.Positive(t, n, "CLIENT KILL TYPE %s killed no connection", typ)
}

func openSubscriber(t *testing.T, b chat.Broker, h chat.BrokerHandler) chat.Subscriber {
	t.Helper()
	sub, err := b.NewSubscriber(h)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sub.Close()) })
	return sub
}

func subscribe(t *testing.T, sub chat.Subscriber, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, sub.Subscribe(ctx, topics...))
}

func publishT(t *testing.T, b chat.Broker, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, b.Publish(ctx, topic, []byte(payload)))
}

// waitCount waits until rec holds at least n notifications on topic, and
// returns all it holds by then.
func waitCount(t *testing.T, rec *brokertest.Recorder, topic string, n int) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	_, err := rec.Wait(ctx, topic, n)
	require.NoError(t, err)
	return rec.Notifications(topic)
}

// waitPayload waits until rec holds payload among the notifications on
// topic.
func waitPayload(t *testing.T, rec *brokertest.Recorder, topic, payload string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return slices.Contains(strs(rec.Notifications(topic)), payload)
	}, waitTimeout, time.Millisecond, "%q did not arrive on %q", payload, topic)
}

func waitLost(t *testing.T, rec *brokertest.Recorder, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, rec.WaitLost(ctx, topic))
}

func strs(payloads [][]byte) []string {
	out := make([]string, len(payloads))
	for i, p := range payloads {
		out[i] = string(p)
	}
	return out
}

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logRecorder) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.msgs, func(m string) bool { return strings.HasPrefix(m, prefix) })
}

func (l *logRecorder) wait(t *testing.T, prefix string) {
	t.Helper()
	require.Eventually(t, func() bool { return l.has(prefix) }, waitTimeout, 10*time.Millisecond,
		"no log message %q", prefix)
}
