package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// BenchmarkSendFanoutWebSocket is the HTTP send path with a chat's 100
// members connected over WebSocket to the same node: one op is one POST
// /chats/{id}/messages answered and its event read by every member. It
// runs on the memory Store, the floor, and on PostgreSQL, where each send
// is a durable commit; senders are sequential, so the PostgreSQL figure is
// one commit per send. Profile it with -cpuprofile and -memprofile:
//
//	go test -run '^$' -bench SendFanoutWebSocket -benchtime 2000x ./internal/integration
func BenchmarkSendFanoutWebSocket(b *testing.B) {
	const members = 100
	stores := []struct {
		name     string
		newStore func(testing.TB) chat.Store
	}{
		{"memory", func(testing.TB) chat.Store { return memory.NewStore() }},
		{"postgres", func(t testing.TB) chat.Store { return postgresStores(t)() }},
	}
	for _, st := range stores {
		b.Run(fmt.Sprintf("store=%s/members=%d", st.name, members), func(b *testing.B) {
			svc := chattest.NewService(b, chat.Config{Store: st.newStore(b)})
			srv := chattest.NewServer(b, svc)
			users := make([]string, members)
			for i := range users {
				users[i] = fmt.Sprint("member-", i)
			}
			c := createChat(b, node{svc: svc, srv: srv}, users[0], chat.CreateChatRequest{Kind: chat.KindGroup, Members: users[1:]})
			lastSeq := make([]atomic.Int64, members)
			var readers sync.WaitGroup
			for i, user := range users {
				conn, _ := srv.Connect(user, map[string]int64{c.ID: 0})
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						_, data, err := conn.WebSocket().Read(context.Background()) // no per-read timer on the client side
						if err != nil {
							return
						}
						if seq, ok := frameSeq(data); ok {
							lastSeq[i].Store(seq)
						}
					}
				}()
			}
			// Every member has read up to seq.
			readAll := func(seq int64) {
				for i := range lastSeq {
					for lastSeq[i].Load() < seq {
						time.Sleep(20 * time.Microsecond)
					}
				}
			}
			body := []byte(`{"text":"a message of ordinary length, about sixty characters long"}`)
			b.ReportAllocs()
			b.ResetTimer()
			var first int64
			for n := 1; n <= b.N; n++ {
				resp := srv.Do(users[0], http.MethodPost, "/chats/"+c.ID+"/messages", body)
				if resp.Status != http.StatusCreated {
					b.Fatalf("send: %d %s", resp.Status, resp.Body)
				}
				if n == 1 {
					var m chat.Message
					resp.Decode(b, &m)
					first = m.Seq
				}
				// The sender may run ahead of the slowest reader by 64
				// messages, so that the figure is sustained throughput.
				if n%128 == 0 {
					readAll(first + int64(n) - 64)
				}
			}
			readAll(first + int64(b.N) - 1)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
			_ = svc.Shutdown(b.Context())
			readers.Wait()
		})
	}
}

// frameSeq finds an event's seq without decoding the frame, so that the
// benchmark's clients cost little next to the server. The event's own seq
// comes before the message's in the encoding.
func frameSeq(frame []byte) (int64, bool) {
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
