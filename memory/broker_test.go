package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/brokertest"
)

func TestBroker(t *testing.T) {
	brokertest.Run(t, func(*testing.T) chat.Broker { return NewBroker() })
}

func TestBrokerPublishIsSynchronous(t *testing.T) {
	// Service tests rely on this: no waiting is needed after Publish.
	b := NewBroker()
	rec := new(brokertest.Recorder)
	sub := newSubscriber(t, b, rec, "t")

	for i := range 100 {
		require.NoError(t, b.Publish(t.Context(), "t", []byte{byte(i)}))
		require.Equal(t, i+1, rec.Count("t"))
	}
	require.NoError(t, sub.Unsubscribe(t.Context(), "t"))
	require.NoError(t, b.Publish(t.Context(), "t", []byte("after")))
	assert.Equal(t, 100, rec.Count("t"))
}

func TestBrokerPayloadCopies(t *testing.T) {
	b := NewBroker()
	var first, second brokertest.Recorder
	newSubscriber(t, b, &first, "t")
	newSubscriber(t, b, &second, "t")

	require.NoError(t, b.Publish(t.Context(), "t", []byte("abc")))
	first.Notifications("t")[0][0] = 'X'
	assert.Equal(t, "abc", string(second.Notifications("t")[0]), "subscribers share a payload")
}

func TestBrokerPublishCancelled(t *testing.T) {
	b := NewBroker()
	rec := new(brokertest.Recorder)
	newSubscriber(t, b, rec, "t")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	require.ErrorIs(t, b.Publish(ctx, "t", []byte("x")), context.Canceled)
	assert.Zero(t, rec.Count("t"), "a Publish that failed delivered")
}

func TestBrokerSetDrop(t *testing.T) {
	b := NewBroker()
	rec := new(brokertest.Recorder)
	newSubscriber(t, b, rec, "t")

	b.SetDrop(true)
	require.NoError(t, b.Publish(t.Context(), "t", []byte("dropped")))
	assert.Zero(t, rec.Count("t"))
	assert.Empty(t, rec.Lost(), "dropping reported a loss by itself")

	b.SetDrop(false)
	require.NoError(t, b.Publish(t.Context(), "t", []byte("delivered")))
	assert.Equal(t, [][]byte{[]byte("delivered")}, rec.Notifications("t"))
}

func TestBrokerLose(t *testing.T) {
	b := NewBroker()
	var first, second, third, closed brokertest.Recorder
	newSubscriber(t, b, &first, "a", "b", "c")
	newSubscriber(t, b, &second, "b")
	newSubscriber(t, b, &third, "z")
	closedSub := newSubscriber(t, b, &closed, "a")
	require.NoError(t, closedSub.Close())

	b.Lose("c", "b", "b", "nobody")

	assert.Equal(t, []string{"b", "c"}, first.Lost())
	assert.Equal(t, []string{"b"}, second.Lost())
	assert.Empty(t, third.Lost())
	assert.Empty(t, closed.Lost(), "a closed subscriber was called")
}

func TestBrokerLoseAll(t *testing.T) {
	b := NewBroker()
	var first, second, idle, closed brokertest.Recorder
	newSubscriber(t, b, &first, "c", "a", "b")
	secondSub := newSubscriber(t, b, &second, "x", "y")
	require.NoError(t, secondSub.Unsubscribe(t.Context(), "x"))
	newSubscriber(t, b, &idle)
	closedSub := newSubscriber(t, b, &closed, "a")
	require.NoError(t, closedSub.Close())

	b.LoseAll()

	assert.Equal(t, []string{"a", "b", "c"}, first.Lost())
	assert.Equal(t, []string{"y"}, second.Lost())
	assert.Empty(t, idle.Lost(), "a subscriber without topics was called")
	assert.Empty(t, closed.Lost(), "a closed subscriber was called")
}

func TestBrokerHandlerCallsBack(t *testing.T) {
	// Handlers run on the publisher's goroutine with no lock of the Broker
	// held, so they may use it. If they could not, this would deadlock.
	b := NewBroker()
	rec := new(brokertest.Recorder)
	var sub chat.Subscriber
	h := handlerFuncs{
		notification: func(topic string, payload []byte) {
			rec.HandleNotification(topic, payload)
			if topic != "in" {
				return
			}
			ctx := context.Background()
			assert.NoError(t, sub.Subscribe(ctx, "echo"))
			assert.NoError(t, b.Publish(ctx, "echo", payload))
			assert.NoError(t, sub.Unsubscribe(ctx, "echo"))
			b.Lose("in")
		},
		lost: func(topics []string) {
			rec.HandleLost(topics)
			assert.NoError(t, b.Publish(context.Background(), "after-lost", nil))
		},
	}
	sub = newSubscriber(t, b, h, "in", "after-lost")

	require.NoError(t, b.Publish(t.Context(), "in", []byte("ping")))

	assert.Equal(t, [][]byte{[]byte("ping")}, rec.Notifications("echo"))
	assert.Equal(t, []string{"in"}, rec.Lost())
	assert.Equal(t, 1, rec.Count("after-lost"))
}

func TestBrokerCloseWaitsForHandler(t *testing.T) {
	b := NewBroker()
	entered := make(chan struct{})
	release := make(chan struct{})
	rec := new(brokertest.Recorder)
	h := handlerFuncs{
		notification: func(topic string, payload []byte) {
			rec.HandleNotification(topic, payload)
			if topic != "block" {
				return
			}
			close(entered)
			<-release
			// Close is waiting for this call now; a publish to the
			// closing subscriber must neither deadlock nor deliver.
			assert.NoError(t, b.Publish(context.Background(), "other", []byte("late")))
		},
	}
	sub := newSubscriber(t, b, h, "block", "other")

	published := make(chan error, 1)
	go func() { published <- b.Publish(context.Background(), "block", nil) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()

	s := sub.(*subscriber)
	require.Eventually(t, func() bool {
		s.callMu.Lock()
		defer s.callMu.Unlock()
		return s.closing
	}, 5*time.Second, time.Millisecond, "Close did not start")
	select {
	case <-closed:
		t.Fatal("Close returned while a handler call was in progress")
	default:
	}

	close(release)
	require.NoError(t, <-closed)
	require.NoError(t, <-published)
	assert.Zero(t, rec.Count("other"), "a subscriber being closed got a new call")
}

func TestBrokerClosedSubscriber(t *testing.T) {
	b := NewBroker()
	rec := new(brokertest.Recorder)
	sub := newSubscriber(t, b, rec, "t")
	require.NoError(t, sub.Close())

	require.ErrorIs(t, sub.Subscribe(t.Context(), "u"), chat.ErrClosed)
	require.NoError(t, sub.Unsubscribe(t.Context(), "t"))
	require.NoError(t, sub.Close())
	require.NoError(t, b.Publish(t.Context(), "t", []byte("x")))
	require.NoError(t, b.Publish(t.Context(), "u", []byte("x")))
	b.Lose("t", "u")
	b.LoseAll()

	assert.Empty(t, rec.Topics())
	assert.Empty(t, rec.Lost())
	assert.Empty(t, b.topics, "a closed subscriber left topics behind")
	assert.Empty(t, b.subs, "a closed subscriber is still listed")
}

func TestBrokerNilHandler(t *testing.T) {
	_, err := NewBroker().NewSubscriber(nil)
	require.Error(t, err)
}

// newSubscriber opens a Subscriber of b on topics, closed when t ends.
func newSubscriber(t *testing.T, b *Broker, h chat.BrokerHandler, topics ...string) chat.Subscriber {
	t.Helper()
	sub, err := b.NewSubscriber(h)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, sub.Close()) })
	require.NoError(t, sub.Subscribe(t.Context(), topics...))
	return sub
}

type handlerFuncs struct {
	notification func(topic string, payload []byte)
	lost         func(topics []string)
}

func (h handlerFuncs) HandleNotification(topic string, payload []byte) {
	if h.notification != nil {
		h.notification(topic, payload)
	}
}

func (h handlerFuncs) HandleLost(topics []string) {
	if h.lost != nil {
		h.lost(topics)
	}
}
