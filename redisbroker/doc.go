// Package redisbroker provides a chat.Broker backed by Redis pub/sub.
//
// Every topic is a Redis channel named Config.Prefix + topic. On a single
// Redis (or a Sentinel-managed one) the Broker uses PUBLISH and SUBSCRIBE;
// on a Redis Cluster it uses sharded pub/sub (SPUBLISH, SSUBSCRIBE), so each
// notification stays on the shard that owns its channel's slot, and each
// Subscriber keeps one pub/sub connection per master.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	broker, err := redisbroker.New(client, redisbroker.Config{Prefix: "myapp:"})
//	if err != nil {
//		return err
//	}
//	// broker is the chat.Broker of the host's chat.Service. It does not
//	// own client: close the client when the service is done with it.
//
// Redis pub/sub delivers at most once. The Broker reports every gap it can
// know of through BrokerHandler.HandleLost, once the topics concerned are
// active again: after a pub/sub connection is re-established (a restarted
// server, CLIENT KILL, a connection that stopped answering pings), after a
// topic moves to another cluster node, and when the handler falls so far
// behind that notifications had to be dropped. A Subscriber never buffers
// more than Config.BufferSize notifications, and Publish never retries on
// its own.
//
// See docs/redis.md in the repository for the design and its limits.
package redisbroker
