package chatprom_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chatprom"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the family's series whose labels include
// labels: a counter's or gauge's value, or a histogram's sample count; 0
// when the family has no series yet.
func value(t *testing.T, mf *dto.MetricFamily, labels map[string]string) float64 {
	t.Helper()
	if mf == nil {
		return 0
	}
	var total float64
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// The metric set is what docs/operations.md lists, and each metric moves
// when the Service does what it measures.
func TestMetricsMove(t *testing.T) {
	m := chatprom.New()
	svc := chattest.NewService(t, chat.Config{
		Observer:  m,
		RateLimit: chat.RateLimit{Sends: chat.Rate{Events: 3, Per: time.Hour}},
		Hooks: chat.Hooks{BeforeSend: func(_ context.Context, d *chat.Draft) error {
			if d.Text == "spam" {
				return chat.Reject("no spam")
			}
			return nil
		}},
	})
	m.Watch(svc)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	srv := chattest.NewServer(t, svc)

	var c chat.Chat
	srv.Do("alice", "POST", "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}}).Decode(t, &c)
	bob, _ := srv.Connect("bob", map[string]int64{c.ID: 0})
	bob2, _ := srv.Connect("bob", map[string]int64{c.ID: 0})
	require.Equal(t, 201, srv.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "one"}).Status)
	bob.NextOfType(chat.EventMessageCreated)
	bob2.NextOfType(chat.EventMessageCreated)
	require.Equal(t, 422, srv.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "spam"}).Status)
	require.Equal(t, 201, srv.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "two"}).Status)
	require.Equal(t, 429, srv.Do("alice", "POST", "/chats/"+c.ID+"/messages", map[string]any{"text": "three"}).Status)
	require.Equal(t, 404, srv.Do("alice", "GET", "/chats/nosuchchat", nil).Status)
	require.Equal(t, 404, srv.Do("alice", "BREW", "/nowhere", nil).Status)

	got := gather(t, reg)
	require.Equal(t, 1.0, value(t, got["chat_http_requests_total"], map[string]string{"route": "/chats", "method": "POST", "status": "201"}))
	require.Equal(t, 2.0, value(t, got["chat_http_requests_total"], map[string]string{"route": "/chats/{chat_id}/messages", "status": "201"}))
	require.Equal(t, 1.0, value(t, got["chat_http_requests_total"], map[string]string{"route": "/chats/{chat_id}/messages", "status": "422"}))
	require.Equal(t, 1.0, value(t, got["chat_http_requests_total"], map[string]string{"route": "/chats/{chat_id}/messages", "status": "429"}))
	require.Equal(t, 1.0, value(t, got["chat_http_requests_total"], map[string]string{"route": "unmatched", "method": "other", "status": "404"}),
		"unknown paths and methods fold into bounded label values")
	require.Equal(t, 7.0, value(t, got["chat_http_request_duration_seconds"], nil))
	require.Equal(t, 2.0, value(t, got["chat_send_duration_seconds"], nil))
	require.Equal(t, 2.0, value(t, got["chat_store_call_duration_seconds"], map[string]string{"method": "AppendMessage"}))
	require.Equal(t, 1.0, value(t, got["chat_store_errors_total"], map[string]string{"method": "GetChat", "kind": "not_found"}))
	require.Equal(t, 1.0, value(t, got["chat_rate_limited_total"], map[string]string{"action": "send"}))
	require.Equal(t, 1.0, value(t, got["chat_hook_rejections_total"], map[string]string{"hook": "BeforeSend"}))

	require.Equal(t, 2.0, value(t, got["chat_connections"], nil))
	require.Equal(t, 2.0, value(t, got["chat_subscriptions"], nil))
	require.Equal(t, 1.0, value(t, got["chat_connected_users"], nil))
	require.Equal(t, 1.0, value(t, got["chat_streams"], nil))
	require.Equal(t, 2.0, value(t, got["chat_broker_topics"], nil), "bob's user topic and the chat's topic")
	require.Equal(t, 0.0, value(t, got["chat_draining"], nil))
	for _, name := range []string{"chat_queued_events", "chat_max_queued_events", "chat_stream_backlog"} {
		require.Contains(t, got, name)
	}

	// Each device is written two messages; the writes are observed on
	// the connections' goroutines, so they are waited for.
	require.Eventually(t, func() bool {
		// Counted as replayed when it arrived during the device's resume.
		return value(t, gather(t, reg)["chat_events_delivered_total"], map[string]string{"type": "message.created"}) == 4
	}, chattest.Timeout, time.Millisecond)
	require.Equal(t, 4.0, value(t, gather(t, reg)["chat_delivery_delay_seconds"], nil), "live events have a measured delay")

	bob2.Close()
	require.Eventually(t, func() bool {
		return value(t, gather(t, reg)["chat_connections_closed_total"], map[string]string{"reason": "client"}) == 1
	}, chattest.Timeout, time.Millisecond)

	// A reader that resumes from an unknown position is told to resync.
	bob3, _ := srv.Connect("bob", map[string]int64{c.ID: 1 << 40})
	bob3.Close()
	require.Equal(t, 1.0, value(t, gather(t, reg)["chat_resyncs_total"], nil))

	for _, mf := range got {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				require.NotContains(t, []string{"user_id", "chat_id", "user", "chat"}, l.GetName(), "labels never carry ids")
				require.NotEqual(t, c.ID, l.GetValue())
			}
		}
	}
}

// dropChatBroker is a memory Broker that drops chat notifications while
// dropping is set, and says so on dropped.
type dropChatBroker struct {
	*memory.Broker
	mu       sync.Mutex
	dropping bool
	dropped  chan string
}

func (b *dropChatBroker) setDropping(v bool) {
	b.mu.Lock()
	b.dropping = v
	b.mu.Unlock()
}

func (b *dropChatBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	drop := b.dropping && strings.HasPrefix(topic, "c:")
	b.mu.Unlock()
	if drop {
		b.dropped <- topic
		return nil
	}
	return b.Broker.Publish(ctx, topic, payload)
}

// Losses, refills and drops move too: a notification the Broker drops is
// refilled from the Store by the other node, a reported loss is counted,
// and typing events beyond a reader's lane are dropped and counted.
func TestMetricsOfRecoveryAndDrops(t *testing.T) {
	ctx := context.Background()
	store := memory.NewStore()
	broker := &dropChatBroker{Broker: memory.NewBroker(), dropped: make(chan string, 1)}
	m := chatprom.New()
	a := chattest.NewService(t, chat.Config{Store: store, Broker: broker})
	b := chattest.NewService(t, chat.Config{Store: store, Broker: broker, Observer: m, TypingInterval: -1})
	m.Watch(b)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	typists := make([]string, 70)
	for i := range typists {
		typists[i] = fmt.Sprint("typist", i)
	}
	c, _, err := a.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: append([]string{"bob"}, typists...)})
	require.NoError(t, err)
	bob, err := b.Subscribe(ctx, "bob", map[string]int64{c.ID: 0})
	require.NoError(t, err)
	defer bob.Close()
	next := func() chat.Event {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, chattest.Timeout)
		defer cancel()
		ev, err := bob.Next(rctx)
		require.NoError(t, err)
		return ev
	}
	for next().Type != chat.EventResumed {
	}
	nextMessage := func() string {
		t.Helper()
		for {
			// A late chat.created may come first: it is harmless.
			if ev := next(); ev.Type == chat.EventMessageCreated {
				return ev.Message.Text
			}
		}
	}

	broker.setDropping(true)
	_, _, err = a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "dropped"})
	require.NoError(t, err)
	<-broker.dropped
	broker.setDropping(false)
	_, _, err = a.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "skips ahead"})
	require.NoError(t, err)
	require.Equal(t, "dropped", nextMessage(), "node b filled the gap from the Store")
	require.Equal(t, "skips ahead", nextMessage())

	broker.LoseAll()
	for _, u := range typists {
		require.NoError(t, b.Typing(ctx, u, c.ID))
	}

	// The typing events reach bob's lane through the chat's stream, on
	// its own goroutine.
	require.Eventually(t, func() bool {
		return value(t, gather(t, reg)["chat_events_dropped_total"], map[string]string{"type": "typing", "reason": "queue_full"}) >= 6
	}, chattest.Timeout, time.Millisecond, "70 typists, a lane of 64")
	got := gather(t, reg)
	require.Equal(t, 1.0, value(t, got["chat_refilled_events_total"], nil))
	require.GreaterOrEqual(t, value(t, got["chat_broker_lost_topics_total"], nil), 1.0)
}
