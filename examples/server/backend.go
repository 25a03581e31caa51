package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver behind -postgres
	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/fsblob"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/postgres"
	"github.com/embedchat/chat/redisbroker"
)

// config is what the flags choose: where chats live, how servers reach
// each other, and how often users may send. Empty backend fields mean the
// in-memory backend, which is private to the process.
type config struct {
	PostgresURL  string // -postgres or DATABASE_URL
	RedisURL     string // -redis or REDIS_URL: a standalone Redis
	RedisCluster string // -redis-cluster: host:port,host:port,...
	// PostgresSchema and RedisPrefix let several services share one
	// database and one Redis: -postgres-schema and -redis-prefix.
	PostgresSchema string
	RedisPrefix    string
	// RateLimit is off unless -send-rate or -create-rate is given.
	RateLimit chat.RateLimit
	// Metrics serves Prometheus metrics at /metrics (-metrics).
	Metrics bool
	// DrainDelay keeps serving after readiness turns 503 on shutdown
	// (-drain).
	DrainDelay time.Duration
	// BlobsDir is the directory that keeps attachments (-blobs). Empty
	// keeps them in memory with the in-memory Store, and turns
	// attachments off with PostgreSQL, whose servers must share them.
	BlobsDir string
}

// rateFlag parses a rate such as "10/s", "100/m" or "5/10s": so many
// events per duration, per user.
type rateFlag struct{ rate *chat.Rate }

func (f rateFlag) String() string {
	if f.rate == nil || f.rate.Events == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%v", f.rate.Events, f.rate.Per)
}

func (f rateFlag) Set(s string) error {
	n, per, ok := strings.Cut(s, "/")
	events, err := strconv.Atoi(n)
	if !ok || err != nil || events <= 0 {
		return fmt.Errorf("want N/duration, such as 10/s or 5/10s")
	}
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return fmt.Errorf("want N/duration, such as 10/s or 5/10s")
	}
	*f.rate = chat.Rate{Events: events, Per: d}
	return nil
}

// postgresPoolSize bounds the connections each server opens to
// PostgreSQL, and keeps as many idle, so that steady load reuses sessions
// instead of opening new ones (database/sql keeps 2 idle by default: with
// 8 concurrent requests that opened 89 sessions per 1,000 sends), and a
// burst of requests, such as every client resuming after a restart, waits
// for a connection instead of exhausting the server's max_connections for
// every server sharing it. 16 is enough to keep 2 cores busy (a send holds
// a connection for about a millisecond, its commit); the servers of one
// database together must stay below max_connections (100 by default) less
// what other clients need. See docs/postgres.md, "Sizing the pool".
const postgresPoolSize = 16

// backend is a Store and a Broker, and what must be closed after the
// Service has shut down.
type backend struct {
	store  chat.Store
	broker chat.Broker
	// blobs keeps attachments; nil turns them off.
	blobs chat.BlobStore
	close func()
	// describe says, for the operator, where chats live and whether other
	// servers can share them.
	describe string
}

// Descriptions of the backends, as the demo logs them at start.
const (
	describeMemory        = "in memory: chats are lost on restart"
	describePostgres      = "PostgreSQL store, in-memory broker: chats are kept; this server is the only node"
	describePostgresRedis = "PostgreSQL store, Redis broker: chats are kept; servers started the same way form one service"
)

// openBackend connects what cfg names, running the PostgreSQL migrations.
// With PostgreSQL and either Redis option, any number of servers started
// the same way form one chat service.
func openBackend(ctx context.Context, cfg config, log *slog.Logger) (*backend, error) {
	if cfg.RedisURL != "" && cfg.RedisCluster != "" {
		return nil, errors.New("use -redis or -redis-cluster, not both")
	}
	if cfg.PostgresURL == "" && (cfg.RedisURL != "" || cfg.RedisCluster != "") {
		// Servers sharing a Broker but not a Store would each have a
		// different record of truth.
		return nil, errors.New("-redis and -redis-cluster need -postgres: servers must share one Store")
	}
	b := &backend{store: memory.NewStore(), broker: memory.NewBroker(), close: func() {}, describe: describeMemory}
	var closers []func()
	b.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}

	if cfg.PostgresURL != "" {
		db, err := sqlx.Open("postgres", cfg.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		closers = append(closers, func() { db.Close() })
		// A bounded pool that keeps every connection it opens: see
		// postgresPoolSize.
		db.SetMaxOpenConns(postgresPoolSize)
		db.SetMaxIdleConns(postgresPoolSize)
		if err := postgres.Migrate(ctx, db, postgres.Config{Schema: cfg.PostgresSchema}); err != nil {
			b.close()
			return nil, err // It says "postgres: migrate schema ..." already.
		}
		store, err := postgres.New(db, postgres.Config{Schema: cfg.PostgresSchema, Logger: log})
		if err != nil {
			b.close()
			return nil, err
		}
		// Closed before db: it waits for the writes it has accepted.
		closers = append(closers, func() { store.Close() })
		b.store = store
		b.describe = describePostgres
	}

	var client redis.UniversalClient
	switch {
	case cfg.RedisURL != "":
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			b.close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		client = redis.NewClient(opt)
	case cfg.RedisCluster != "":
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(cfg.RedisCluster, ",")})
	}
	if client != nil {
		closers = append(closers, func() { client.Close() })
		if err := client.Ping(ctx).Err(); err != nil {
			b.close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		broker, err := redisbroker.New(client, redisbroker.Config{Logger: log, Prefix: cfg.RedisPrefix})
		if err != nil {
			b.close()
			return nil, err
		}
		b.broker = broker
		b.describe = describePostgresRedis
	}

	switch {
	case cfg.BlobsDir != "":
		blobs, err := fsblob.New(cfg.BlobsDir)
		if err != nil {
			b.close()
			return nil, err
		}
		closers = append(closers, func() { blobs.Close() })
		b.blobs = blobs
	case cfg.PostgresURL == "":
		b.blobs = memory.NewBlobStore()
	default:
		log.Warn("attachments are off: with -postgres, give -blobs a directory every server shares")
	}
	return b, nil
}
