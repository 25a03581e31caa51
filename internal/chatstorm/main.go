//go:build unix

// Command chatstorm measures a resume storm: a node that has just started
// and every client reconnecting to it at once, each listing its position in
// every chat it is in. It seeds users in groups, starts a fresh Service
// (cold: no streams, no caches) behind the WebSocket handler, opens one
// connection per user within -spread, and reports how long each took to
// get resumed, how the connections ended, the Store calls made and, on
// PostgreSQL, the database sessions the node opened.
//
//	go run ./internal/chatstorm -users 5000 -groups 20 -backend memory,postgres
//
// The memory run is the floor that the PostgreSQL run is compared with.
// It lives under internal/ because it is a tool of this repository;
// docs/benchmarks.md has the figures. The exit status is 0 when every
// connection resumed, 1 when some did not, 2 when the run could not be
// made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/embedchat/chat/internal/testenv"
)

func main() {
	cfg := defaultConfig()
	backends := "memory,postgres"
	flag.IntVar(&cfg.Users, "users", cfg.Users, "users, one connection each")
	flag.IntVar(&cfg.Groups, "groups", cfg.Groups, "groups each user is in")
	flag.IntVar(&cfg.GroupSize, "group-size", cfg.GroupSize, "members per group")
	flag.DurationVar(&cfg.Spread, "spread", cfg.Spread, "the connections start within this time")
	flag.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "how long a connection may wait for resumed")
	flag.IntVar(&cfg.Pool, "pool", cfg.Pool, "PostgreSQL pool bound (MaxOpenConns = MaxIdleConns), as examples/server")
	flag.IntVar(&cfg.ResumeConcurrency, "resume-concurrency", cfg.ResumeConcurrency, "chat.Config.ResumeConcurrency (0: the default)")
	flag.StringVar(&backends, "backend", backends, "comma-separated: memory, postgres")
	flag.StringVar(&cfg.PostgresURL, "postgres", cfg.PostgresURL, "PostgreSQL URL")
	flag.StringVar(&cfg.RedisURL, "redis", cfg.RedisURL, "Redis URL for the postgres run's Broker; empty for the in-memory Broker")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "chatstorm:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}

	ok := true
	for _, b := range strings.Split(backends, ",") {
		cfg.Backend = strings.TrimSpace(b)
		rep, err := run(context.Background(), cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chatstorm:", err)
			os.Exit(2)
		}
		rep.write(os.Stdout)
		ok = ok && rep.ok()
	}
	if !ok {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// config is a run's shape; the flags set it.
type config struct {
	Backend           string // memory or postgres
	Users             int
	Groups            int // per user
	GroupSize         int
	Spread            time.Duration
	Timeout           time.Duration
	Pool              int
	ResumeConcurrency int
	PostgresURL       string
	RedisURL          string
}

func defaultConfig() config {
	pg := os.Getenv("CHAT_TEST_POSTGRES_URL")
	if pg == "" {
		pg = testenv.DefaultPostgresURL
	}
	redisURL := os.Getenv("CHAT_TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = testenv.DefaultRedisURL
	}
	return config{
		Backend: "memory", Users: 5000, Groups: 20, GroupSize: 50,
		Spread: time.Second, Timeout: 60 * time.Second, Pool: 16,
		PostgresURL: pg, RedisURL: redisURL,
	}
}
