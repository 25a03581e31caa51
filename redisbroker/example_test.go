package redisbroker_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat/redisbroker"
)

// printHandler prints what a Subscriber delivers.
type printHandler struct{ received chan struct{} }

func (h printHandler) HandleNotification(topic string, payload []byte) {
	fmt.Printf("%s: %s\n", topic, payload)
	h.received <- struct{}{}
}

func (h printHandler) HandleLost(topics []string) {
	fmt.Println("lost, reload from the store:", topics)
}

// A Broker on a single Redis. The Subscriber stands for one node of the
// service; a chat.Service opens and manages its own.
func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	broker, err := redisbroker.New(client, redisbroker.Config{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	h := printHandler{received: make(chan struct{}, 1)}
	sub, err := broker.NewSubscriber(h)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// Once Subscribe returns nil, Redis has confirmed the subscription.
	if err := sub.Subscribe(ctx, "chat-42"); err != nil {
		log.Fatal(err)
	}
	if err := broker.Publish(ctx, "chat-42", []byte(`{"seq":7}`)); err != nil {
		log.Fatal(err)
	}
	<-h.received
}

// With a ClusterClient the Broker uses sharded pub/sub: each topic's
// channel lives on the master that owns its slot.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
	})
	defer client.Close()

	broker, err := redisbroker.New(client, redisbroker.Config{
		Prefix:     "myapp:",
		BufferSize: 16384, // a node with a bursty handler
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = broker // the host's chat.Service takes it from here
}
