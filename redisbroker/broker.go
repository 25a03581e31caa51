package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
)

// Defaults for the zero fields of Config.
const (
	DefaultPrefix              = "chat:"
	DefaultBufferSize          = 4096
	DefaultHealthCheckInterval = 5 * time.Second
	DefaultMaxReconnectDelay   = 2 * time.Second
)

// Config configures a Broker. The zero value is ready to use: every zero
// field takes the default named in its comment.
type Config struct {
	// Prefix is put in front of every topic to form the Redis channel
	// name, so that several services can share one Redis. Default
	// DefaultPrefix. In a cluster, a prefix with a hash tag ("{chat}:")
	// would put every channel on one shard; leave tags to the topics.
	Prefix string

	// BufferSize is how many received notifications a Subscriber holds
	// for its handler. When the handler falls this far behind, further
	// notifications are dropped and their topics reported through
	// HandleLost, rather than Redis buffering them until it disconnects
	// the subscriber. Default DefaultBufferSize.
	BufferSize int

	// HealthCheckInterval is how long a pub/sub connection may stay
	// silent before the Subscriber pings it. A connection that does not
	// answer within another interval is taken for dead (a network
	// partition leaves TCP connections open but silent): it is replaced
	// and its topics reported lost. Default DefaultHealthCheckInterval;
	// negative disables the check.
	HealthCheckInterval time.Duration

	// MaxReconnectDelay caps the exponential backoff between attempts to
	// re-establish a pub/sub connection. Default DefaultMaxReconnectDelay.
	MaxReconnectDelay time.Duration

	// Logger receives connection failures, reconnects, re-routing and
	// dropped notifications. Nil discards them.
	Logger *slog.Logger
}

// Broker is a chat.Broker on Redis pub/sub. It uses the host's client for
// publishing and opens dedicated pub/sub connections for each Subscriber.
// A Broker owns nothing that needs closing; close its Subscribers, and the
// client when the host is done with it.
type Broker struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // non-nil when sharded
	cfg     Config
	log     *slog.Logger
}

var _ chat.Broker = (*Broker)(nil)

// New returns a Broker that publishes and subscribes through client.
//
// With a *redis.ClusterClient it uses sharded pub/sub (SPUBLISH,
// SSUBSCRIBE), which keeps each notification on the shard that owns its
// channel's slot; with a *redis.Client (including a failover client) it
// uses PUBLISH and SUBSCRIBE. A *redis.Ring is refused: its shards do not
// share channels.
func New(client redis.UniversalClient, cfg Config) (*Broker, error) {
	if client == nil {
		return nil, errors.New("redisbroker: client is nil")
	}
	if _, ok := client.(*redis.Ring); ok {
		return nil, errors.New("redisbroker: a redis.Ring does not share pub/sub channels between its shards; use a Client or a ClusterClient")
	}
	if cfg.BufferSize < 0 {
		return nil, fmt.Errorf("redisbroker: BufferSize is negative (%d)", cfg.BufferSize)
	}
	if cfg.MaxReconnectDelay < 0 {
		return nil, fmt.Errorf("redisbroker: MaxReconnectDelay is negative (%v)", cfg.MaxReconnectDelay)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.BufferSize == 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.HealthCheckInterval == 0 {
		cfg.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if cfg.MaxReconnectDelay == 0 {
		cfg.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cluster, _ := client.(*redis.ClusterClient)
	return &Broker{client: client, cluster: cluster, cfg: cfg, log: log}, nil
}

// Publish sends payload on the topic's channel with PUBLISH, or SPUBLISH
// on a cluster. It makes a single attempt of its own; retries are the
// client's (its MaxRetries and MaxRedirects options).
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	channel := b.cfg.Prefix + topic
	var err error
	if b.cluster != nil {
		err = b.cluster.SPublish(ctx, channel, payload).Err()
	} else {
		err = b.client.Publish(ctx, channel, payload).Err()
	}
	if err != nil {
		return fmt.Errorf("redisbroker: publish: %w", err)
	}
	return nil
}

// NewSubscriber opens a Subscriber that delivers to h. It connects lazily:
// each pub/sub connection (one, or one per cluster master) is opened by the
// first Subscribe that needs it.
//
// The Subscriber calls h from one goroutine, so h is never called
// concurrently with itself. Subscribe fails fast, with an error wrapping
// chat.ErrUnavailable, while a connection it needs is down; the topics are
// kept and reported through HandleLost once the connection is back.
func (b *Broker) NewSubscriber(h chat.BrokerHandler) (chat.Subscriber, error) {
	if h == nil {
		return nil, errors.New("redisbroker: handler is nil")
	}
	return newSubscriber(b, h), nil
}
