package chat_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// window is how far the sender may run ahead of the slowest reader, so the
// benchmarks measure sustained throughput rather than queue sizes.
const window = 128

// BenchmarkSendMessageFanout measures SendMessage on the memory backend
// with every member of the chat connected through an in-process
// subscription: one op is one message stored and delivered to all members.
func BenchmarkSendMessageFanout(b *testing.B) {
	for _, members := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			ctx := context.Background()
			svc := chattest.NewService(b, chat.Config{Store: memory.NewStore(), Broker: memory.NewBroker(), QueueSize: 4 * window})
			others := make([]string, members)
			for i := range others {
				others[i] = fmt.Sprint("member-", i)
			}
			// member-0 sends; every member, the sender included, is connected.
			c, _, err := svc.CreateChat(ctx, others[0], chat.CreateChatRequest{Kind: chat.KindGroup, Members: others[1:]})
			if err != nil {
				b.Fatal(err)
			}
			counts := make([]atomic.Int64, members)
			var wg sync.WaitGroup
			for i, user := range others {
				sub, err := svc.Subscribe(ctx, user, map[string]int64{c.ID: 0})
				if err != nil {
					b.Fatal(err)
				}
				// Measure live delivery only: wait until the member is
				// registered.
				if ev, err := sub.Next(ctx); err != nil || ev.Type != chat.EventResumed {
					b.Fatalf("resume: %v %v", ev.Type, err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						ev, err := sub.Next(ctx)
						if err != nil {
							return
						}
						if ev.Type == chat.EventMessageCreated {
							counts[i].Store(ev.Seq)
						}
					}
				}()
			}
			waitAll := func(seq int64) {
				for i := range counts {
					for counts[i].Load() < seq {
						time.Sleep(20 * time.Microsecond)
					}
				}
			}
			req := chat.SendMessageRequest{Text: "a message of ordinary length, about sixty characters long"}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 1; n <= b.N; n++ {
				if _, _, err := svc.SendMessage(ctx, others[0], c.ID, req); err != nil {
					b.Fatal(err)
				}
				if n%window == 0 {
					waitAll(int64(n - window/2))
				}
			}
			waitAll(int64(b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
			_ = svc.Shutdown(ctx)
			wg.Wait()
		})
	}
}

// BenchmarkSendMessageFanoutWebSocket is the same over real WebSocket
// connections on loopback: one op is one message sent over HTTP and
// received by every member's socket.
func BenchmarkSendMessageFanoutWebSocket(b *testing.B) {
	for _, members := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			svc := chattest.NewService(b, chat.Config{QueueSize: 4 * window})
			srv := chattest.NewServer(b, svc)
			others := make([]string, members)
			for i := range others {
				others[i] = fmt.Sprint("member-", i)
			}
			c, _, err := svc.CreateChat(context.Background(), others[0], chat.CreateChatRequest{Kind: chat.KindGroup, Members: others[1:]})
			if err != nil {
				b.Fatal(err)
			}
			counts := make([]atomic.Int64, members)
			var wg sync.WaitGroup
			for i, user := range others {
				conn, _ := srv.Connect(user, map[string]int64{c.ID: 0})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, data, err := conn.WebSocket().Read(context.Background())
						if err != nil {
							return
						}
						if seq, ok := eventSeq(data); ok {
							counts[i].Store(seq)
						}
					}
				}()
			}
			waitAll := func(seq int64) {
				for i := range counts {
					for counts[i].Load() < seq {
						time.Sleep(20 * time.Microsecond)
					}
				}
			}
			body := []byte(`{"text":"a message of ordinary length, about sixty characters long"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for n := 1; n <= b.N; n++ {
				if resp := srv.Do(others[0], "POST", "/chats/"+c.ID+"/messages", body); resp.Status != 201 {
					b.Fatalf("send: %d %s", resp.Status, resp.Body)
				}
				if n%window == 0 {
					waitAll(int64(n - window/2))
				}
			}
			waitAll(int64(b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
			_ = svc.Shutdown(context.Background())
			wg.Wait()
		})
	}
}

// eventSeq finds an event's seq without decoding the frame, so that the
// benchmark's clients cost little next to the server. The event's own seq
// comes before the message's in the encoding.
func eventSeq(frame []byte) (int64, bool) {
	i := bytes.Index(frame, []byte(`"seq":`))
	if i < 0 {
		return 0, false
	}
	var seq int64
	for _, c := range frame[i+len(`"seq":`):] {
		if c < '0' || c > '9' {
			break
		}
		seq = seq*10 + int64(c-'0')
	}
	return seq, true
}

// BenchmarkChatListLargeGroups measures GET /chats?limit=200 over real HTTP
// for a user in 200 groups of 1000 members, no two groups sharing another
// member, with a user directory: one op is one page. It reports the
// response size and how many ids the directory was asked about per page.
func BenchmarkChatListLargeGroups(b *testing.B) {
	ctx := context.Background()
	dir := &countingDirectory{}
	svc := chattest.NewService(b, chat.Config{Hooks: chat.Hooks{Users: dir}})
	srv := chattest.NewServer(b, svc)
	others := make([]string, chat.DefaultMaxMembers-1)
	for g := range chat.MaxPageSize {
		for i := range others {
			others[i] = fmt.Sprintf("member-%03d-%04d", g, i)
		}
		if _, _, err := svc.CreateChat(ctx, "viewer", chat.CreateChatRequest{Kind: chat.KindGroup, Members: others}); err != nil {
			b.Fatal(err)
		}
	}
	dir.askedAtMost()
	var size int
	for b.Loop() {
		r := srv.Do("viewer", "GET", fmt.Sprintf("/chats?limit=%d", chat.MaxPageSize), nil)
		if r.Status != 200 {
			b.Fatalf("status %d: %.200s", r.Status, r.Body)
		}
		size = len(r.Body)
	}
	b.ReportMetric(float64(size), "resp-bytes/op")
	b.ReportMetric(float64(dir.askedAtMost()), "dir-ids/op")
}
