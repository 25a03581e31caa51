package redisbroker_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/redisbroker"
)

// benchPayload is the size of a typical event notification.
var benchPayload = []byte(`{"type":"message.created","chat":"c-1","seq":1,"text":"` + strings.Repeat("x", 200) + `"}`)

func benchClients(b *testing.B, run func(b *testing.B, client redis.UniversalClient)) {
	b.Run("Standalone", func(b *testing.B) { run(b, sharedRedis(b)) })
	b.Run("Cluster", func(b *testing.B) { run(b, sharedCluster(b).Client()) })
}

// BenchmarkPublish measures Publish throughput, with one Subscriber
// receiving everything on 64 topics (spread over the shards of a cluster).
func BenchmarkPublish(b *testing.B) {
	benchClients(b, func(b *testing.B, client redis.UniversalClient) {
		broker := newBroker(b, client, redisbroker.Config{})
		h := new(countingHandler)
		sub, err := broker.NewSubscriber(h)
		require.NoError(b, err)
		b.Cleanup(func() { _ = sub.Close() })
		topics := make([]string, 64)
		for i := range topics {
			topics[i] = fmt.Sprintf("chat-%d", i)
		}
		require.NoError(b, sub.Subscribe(b.Context(), topics...))

		b.Run("Serial", func(b *testing.B) {
			b.SetBytes(int64(len(benchPayload)))
			i := 0
			for b.Loop() {
				if err := broker.Publish(b.Context(), topics[i%len(topics)], benchPayload); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run("Parallel", func(b *testing.B) {
			b.SetBytes(int64(len(benchPayload)))
			b.SetParallelism(16)
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					topic := topics[next.Add(1)%int64(len(topics))]
					if err := broker.Publish(b.Context(), topic, benchPayload); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	})
}

// BenchmarkLatency measures the time from the start of Publish to the
// handler's call on a Subscriber of the same process, one notification at
// a time.
func BenchmarkLatency(b *testing.B) {
	benchClients(b, func(b *testing.B, client redis.UniversalClient) {
		broker := newBroker(b, client, redisbroker.Config{})
		h := &signalHandler{got: make(chan struct{}, 1)}
		sub, err := broker.NewSubscriber(h)
		require.NoError(b, err)
		b.Cleanup(func() { _ = sub.Close() })
		require.NoError(b, sub.Subscribe(b.Context(), "latency"))

		var samples []time.Duration
		for b.Loop() {
			start := time.Now()
			if err := broker.Publish(b.Context(), "latency", benchPayload); err != nil {
				b.Fatal(err)
			}
			<-h.got
			samples = append(samples, time.Since(start))
		}
		slices.Sort(samples)
		quantile := func(q float64) float64 {
			return float64(samples[int(q*float64(len(samples)-1))].Microseconds())
		}
		b.ReportMetric(quantile(0.50), "p50-µs")
		b.ReportMetric(quantile(0.99), "p99-µs")
	})
}

type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) HandleNotification(string, []byte) { h.n.Add(1) }
func (h *countingHandler) HandleLost([]string)               {}

type signalHandler struct{ got chan struct{} }

func (h *signalHandler) HandleNotification(string, []byte) { h.got <- struct{}{} }
func (h *signalHandler) HandleLost([]string)               {}
