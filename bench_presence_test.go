package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// countingBroker counts the notifications published on chat topics, and
// keeps the memory Broker's presence ability.
type countingBroker struct {
	*memory.Broker
	chatPublishes atomic.Int64
}

func (c *countingBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	if strings.HasPrefix(topic, "c:") {
		c.chatPublishes.Add(1)
	}
	return c.Broker.Publish(ctx, topic, payload)
}

// BenchmarkPresenceConnect measures what one user's coming online and
// going offline costs when they are in 1000 groups of 10 members (9000
// other users), 100 of whom are connected, each following one shared
// group: one op is alice's connection opening, every connected co-member
// getting "online", her connection closing and every one of them getting
// "offline". It reports the chat notifications published and the presence
// events delivered per op; a fan-out to every member of every chat would
// be 2 × 1000 × 10 events. The floor is the same connection cycle with
// presence off.
func BenchmarkPresenceConnect(b *testing.B) {
	const chats, size, connected = 1000, 10, 100
	for _, presence := range []bool{false, true} {
		b.Run(fmt.Sprintf("presence=%v", presence), func(b *testing.B) {
			ctx := context.Background()
			broker := &countingBroker{Broker: memory.NewBroker()}
			svc := chattest.NewService(b, chat.Config{Store: memory.NewStore(), Broker: broker,
				Presence: chat.PresenceConfig{Enabled: presence, Grace: time.Millisecond, TTL: time.Hour}})
			var watchers []*chat.Subscription
			for i := range chats {
				members := make([]string, size-1)
				for j := range members {
					members[j] = fmt.Sprintf("u%d-%d", i, j)
				}
				if _, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: members}); err != nil {
					b.Fatal(err)
				}
				if i < connected {
					sub, err := svc.Subscribe(ctx, members[0], nil)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = sub.Close() })
					if ev, err := sub.Next(ctx); err != nil || ev.Type != chat.EventResumed {
						b.Fatalf("resume: %v %v", ev.Type, err)
					}
					watchers = append(watchers, sub)
				}
			}
			await := func(online bool) {
				if !presence {
					return
				}
				for _, w := range watchers {
					for {
						ev, err := w.Next(ctx)
						if err != nil {
							b.Fatal(err)
						}
						if ev.Type == chat.EventPresence && ev.Presence.Online == online {
							break
						}
					}
				}
			}
			// The watchers' own coming online: one notification each.
			for presence && broker.chatPublishes.Load() < connected {
				time.Sleep(time.Millisecond)
			}
			broker.chatPublishes.Store(0)
			delivered, cycles := 0, 0
			b.ResetTimer()
			for range b.N {
				alice, err := svc.Subscribe(ctx, "alice", nil)
				if err != nil {
					b.Fatal(err)
				}
				for {
					ev, err := alice.Next(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if ev.Type == chat.EventResumed {
						break
					}
				}
				await(true)
				_ = alice.Close()
				await(false)
				if presence {
					delivered += 2 * len(watchers)
					// Other nodes are told too: wait until every
					// notification is published or dropped.
					cycles++
					for broker.chatPublishes.Load()+svc.FlowCounts().NotificationsDropped < int64(2*chats*cycles) {
						time.Sleep(time.Millisecond)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(broker.chatPublishes.Load())/float64(b.N), "chat-notifications/op")
			b.ReportMetric(float64(svc.FlowCounts().NotificationsDropped)/float64(b.N), "dropped/op")
			b.ReportMetric(float64(delivered)/float64(b.N), "events/op")
		})
	}
}
