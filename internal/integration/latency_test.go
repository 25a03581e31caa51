package integration_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
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
func BenchmarkEndToEndLatency(b *testing.B) {
	backends := []struct {
		name      string
		newClient func(t testing.TB) func() redis.UniversalClient
	}{
		{"standalone", func(t testing.TB) func() redis.UniversalClient { return redisClients(t, "") }},
		{"cluster", func(t testing.TB) func() redis.UniversalClient { return clusterClients(t) }},
	}
	for _, be := range backends {
		for _, rate := range []int{100, 1000, 5000, 0} {
			name := fmt.Sprintf("%s/rate=%d", be.name, rate)
			if rate == 0 {
				name = be.name + "/rate=max"
			}
			b.Run(name, func(b *testing.B) {
				res := measureLatency(b, be.newClient(b), rate, 3*time.Second)
				b.ReportMetric(float64(res.p50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(res.p99.Microseconds()), "p99-µs")
				b.ReportMetric(res.rate, "msgs/s")
			})
		}
	}
}

type latencyResult struct {
	p50, p99 time.Duration
	rate     float64
}

func measureLatency(t testing.TB, newClient func() redis.UniversalClient, rate int, d time.Duration) latencyResult {
	const chats = 16
	nodes := startNodes(t, 2, postgresStores(t), newClient, randomName("bench:")+":")
	ids := make([]string, chats)
	for i := range ids {
		ids[i] = createChat(t, nodes[0], "sender", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"reader"}}).ID
	}
	reader, _ := nodes[1].srv.Connect("reader", nil)

	var mu sync.Mutex
	sentAt := make(map[string]time.Time)
	key := func(chatID string, seq int64) string { return fmt.Sprint(chatID, "/", seq) }
	var latencies []time.Duration
	received := 0
	readDone := make(chan struct{})
	stopReading := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			f, err := reader.ReadFrame(2 * time.Second)
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
			mu.Lock()
			if at, ok := sentAt[key(f.ChatID, f.Seq)]; ok {
				latencies = append(latencies, now.Sub(at))
			}
			received++
			mu.Unlock()
		}
	}()

	ctx := context.Background()
	sendOne := func(chatID string) {
		start := time.Now()
		m, _, err := nodes[0].svc.SendMessage(ctx, "sender", chatID, chat.SendMessageRequest{Text: "latency probe"})
		if err != nil {
			t.Errorf("send: %v", err)
			return
		}
		// The message may reach B before SendMessage returns here; take
		// the start of the call as its send time.
		mu.Lock()
		sentAt[key(chatID, m.Seq)] = start
		mu.Unlock()
	}

	begin := time.Now()
	var wg sync.WaitGroup
	sent := 0
	if rate > 0 {
		interval := time.Second / time.Duration(rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		// Sends are issued on the schedule whether or not earlier ones
		// have finished, as independent clients would.
		sem := make(chan struct{}, 64)
		for time.Since(begin) < d {
			<-tick.C
			sem <- struct{}{}
			wg.Add(1)
			chatID := ids[sent%chats]
			sent++
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				sendOne(chatID)
			}()
		}
	} else {
		var mu2 sync.Mutex
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Since(begin) < d; i++ {
					mu2.Lock()
					chatID := ids[sent%chats]
					sent++
					mu2.Unlock()
					sendOne(chatID)
				}
			}()
		}
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := received
		mu.Unlock()
		if n >= sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	close(stopReading)
	reader.Close()
	<-readDone

	mu.Lock()
	defer mu.Unlock()
	if received < sent {
		t.Errorf("received %d of %d messages", received, sent)
	}
	slices.Sort(latencies)
	if len(latencies) == 0 {
		t.Fatal("no latencies measured")
	}
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	return latencyResult{p50: pct(0.50), p99: pct(0.99), rate: float64(received) / elapsed.Seconds()}
}
