package integration_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
)

// BenchmarkEndToEndLatency measures the time from SendMessage on node A to
// the event arriving on a WebSocket connected to node B, with PostgreSQL
// as the Store and Redis (standalone or Cluster) as the Broker. Each case
// offers a fixed rate for a fixed time, whatever b.N is, so run it with
// -benchtime=1x. The "max" case sends as fast as 16 senders can and
// reports the rate B received.
//
// Each case first warms up, unmeasured: it sends into every chat at the
// case's rate for a second and waits until B has received all of it, so
// that both nodes' pools hold their connections (and those connections
// their cached plans), the Redis clients theirs, and B's subscriptions
// are in place. What is reported is the steady state.
//
// Sends are scheduled on a fixed timetable, send i at i/rate after the
// start; a send that is late (at most 64 are in flight) goes as soon as it
// can, and the schedule does not drift. Sending stops at the end of the
// time, whether or not the schedule was kept. msgs/s is the messages B received
// over the time from the first send to the last arrival, and
// offered-msgs/s the messages sent over the sending time; the two differ
// when the nodes fall behind. send-p99-µs is the 99th percentile of
// SendMessage's own duration, the commit, beside the delivery's.
func BenchmarkEndToEndLatency(b *testing.B) {
	backends := []struct {
		name      string
		newClient func(t testing.TB) func() redis.UniversalClient
	}{
		{"standalone", func(t testing.TB) func() redis.UniversalClient { return redisClients(t, "") }},
		{"cluster", func(t testing.TB) func() redis.UniversalClient { return clusterClients(t) }},
	}
	for _, be := range backends {
		for _, rate := range []int{100, 1000, 2000, 5000, 0} {
			name := fmt.Sprintf("%s/rate=%d", be.name, rate)
			if rate == 0 {
				name = be.name + "/rate=max"
			}
			b.Run(name, func(b *testing.B) {
				l := startLatencyRig(b, be.newClient(b))
				l.run(b, rate, time.Second) // warm-up
				res := l.run(b, rate, 3*time.Second)
				b.ReportMetric(float64(res.p50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(res.p99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(res.sendP99.Microseconds()), "send-p99-µs")
				b.ReportMetric(res.rate, "msgs/s")
				b.ReportMetric(res.offered, "offered-msgs/s")
			})
		}
	}
}

type latencyResult struct {
	p50, p99 time.Duration
	// sendP99 is the 99th percentile of SendMessage's own duration (the
	// commit), to tell a slow Store from a slow delivery.
	sendP99 time.Duration
	rate    float64 // received over the time from the first send to the last arrival
	offered float64 // sent over the sending time (d, or longer if the sends fell behind)
}

// latencyRig is two nodes, chats created on A, and a reader connected to B
// that timestamps every message.created it receives.
type latencyRig struct {
	nodes []node
	ids   []string

	mu       sync.Mutex
	sentAt   map[string]time.Time // by chat/seq, for the run under way
	sends    []time.Duration      // SendMessage's durations, for the run under way
	arrivals []arrival
	received int
}

type arrival struct {
	latency time.Duration
	at      time.Time
}

func latencyKey(chatID string, seq int64) string { return fmt.Sprint(chatID, "/", seq) }

func startLatencyRig(t testing.TB, newClient func() redis.UniversalClient) *latencyRig {
	const chats = 16
	l := &latencyRig{sentAt: make(map[string]time.Time)}
	l.nodes = startNodes(t, 2, postgresStores(t), newClient, randomName("bench:")+":")
	for range chats {
		l.ids = append(l.ids, createChat(t, l.nodes[0], "sender", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"reader"}}).ID)
	}
	reader, _ := l.nodes[1].srv.Connect("reader", nil)
	readDone := make(chan struct{})
	stopReading := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			f, err := reader.ReadFrame(10 * time.Second)
			now := time.Now()
			if err != nil {
				select {
				case <-stopReading:
				default:
					t.Errorf("reader: %v", err)
				}
				return
			}
			if f.Type != chat.EventMessageCreated {
				continue
			}
			l.mu.Lock()
			if at, ok := l.sentAt[latencyKey(f.ChatID, f.Seq)]; ok {
				l.arrivals = append(l.arrivals, arrival{latency: now.Sub(at), at: now})
			}
			l.received++
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(stopReading)
		reader.Close()
		<-readDone
	})
	return l
}

// run sends for d at rate (0: as fast as 16 senders can), waits until
// every message sent has arrived, and returns the figures of this run.
func (l *latencyRig) run(t testing.TB, rate int, d time.Duration) latencyResult {
	l.mu.Lock()
	clear(l.sentAt)
	l.sends = l.sends[:0]
	l.arrivals = l.arrivals[:0]
	receivedBefore := l.received
	l.mu.Unlock()

	ctx := context.Background()
	sendOne := func(chatID string) {
		start := time.Now()
		m, _, err := l.nodes[0].svc.SendMessage(ctx, "sender", chatID, chat.SendMessageRequest{Text: "latency probe"})
		if err != nil {
			t.Errorf("send: %v", err)
			return
		}
		// The message may reach B before SendMessage returns here; take
		// the start of the call as its send time.
		l.mu.Lock()
		l.sentAt[latencyKey(chatID, m.Seq)] = start
		l.sends = append(l.sends, time.Since(start))
		l.mu.Unlock()
	}

	begin := time.Now()
	var wg sync.WaitGroup
	var sent atomic.Int64
	if rate > 0 {
		// Sends are issued on the schedule whether or not earlier ones
		// have finished, as independent clients would.
		interval := time.Second / time.Duration(rate)
		sem := make(chan struct{}, 64)
		for i := 0; ; i++ {
			due := begin.Add(time.Duration(i) * interval)
			if due.Sub(begin) >= d || time.Since(begin) >= d {
				// The schedule's end, or the end of the sending time
				// for senders that fell behind (64 in flight): what
				// was not sent by then counts as not offered.
				break
			}
			time.Sleep(time.Until(due))
			sem <- struct{}{}
			wg.Add(1)
			chatID := l.ids[i%len(l.ids)]
			sent.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				sendOne(chatID)
			}()
		}
	} else {
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(begin) < d {
					i := sent.Add(1)
					sendOne(l.ids[int(i)%len(l.ids)])
				}
			}()
		}
	}
	// The sending time is d unless the senders fell behind the schedule.
	sending := max(d, time.Since(begin))
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		n := l.received - receivedBefore
		l.mu.Unlock()
		if int64(n) >= sent.Load() || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	received := l.received - receivedBefore
	if int64(received) < sent.Load() {
		t.Fatalf("received %d of %d messages", received, sent.Load())
	}
	if len(l.arrivals) == 0 {
		t.Fatal("no latencies measured")
	}
	last := begin
	latencies := make([]time.Duration, len(l.arrivals))
	for i, a := range l.arrivals {
		latencies[i] = a.latency
		if a.at.After(last) {
			last = a.at
		}
	}
	return latencyResult{
		p50:     percentile(latencies, 0.50),
		p99:     percentile(latencies, 0.99),
		sendP99: percentile(l.sends, 0.99),
		rate:    float64(received) / last.Sub(begin).Seconds(),
		offered: float64(sent.Load()) / sending.Seconds(),
	}
}

// percentile sorts ds and returns its p-quantile (0 < p < 1).
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[int(p*float64(len(ds)-1))]
}
