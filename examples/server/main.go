// Command server is the reference demo of the chat SDK: by default a single
// process that keeps everything in memory. It serves the REST API under
// /api/v1/, the WebSocket at /api/v1/ws and, at /, a small page on which two
// browser tabs signed in as different names can chat live.
//
//	go run ./examples/server          # then open http://localhost:8080 twice
//	go run ./examples/server -addr localhost:9000
//	go run ./examples/server -metrics   # Prometheus metrics at /metrics
//
// Health endpoints for load balancers are at /healthz/livez and
// /healthz/readyz; -drain 5s keeps serving that long after readiness turns
// 503 on shutdown.
//
// With -postgres (or DATABASE_URL) chats are stored in PostgreSQL, and with
// -redis (or REDIS_URL) or -redis-cluster as well, any number of these
// servers form one chat service:
//
//	go run ./examples/server -addr localhost:8080 -postgres postgres://localhost/chat -redis redis://localhost:6379
//	go run ./examples/server -addr localhost:8081 -postgres postgres://localhost/chat -redis redis://localhost:6379
//
// Attachments are kept in memory, or with -blobs DIR in files of that
// directory (which every server of a PostgreSQL deployment must share;
// with -postgres and no -blobs, attachments are off and answer 501):
//
//	go run ./examples/server -blobs /tmp/chat-blobs
//
// At start it logs the URL to open and where chats are kept.
//
// Sign-in is NOT real authentication: the server believes whatever name the
// X-User header or the "user" cookie claims. That is why it listens on
// localhost only unless -addr says otherwise (":8080" is every interface),
// and warns when it does. A real host app plugs its own session lookup
// into chat.HandlerConfig.Authenticate instead.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chatprom"
	"github.com/embedchat/chat/postgres"
	"github.com/embedchat/chat/redisbroker"
)

// shutdownTimeout bounds the graceful shutdown: in-flight requests finish
// and WebSocket clients are told 1001 (going away) within it.
const shutdownTimeout = 10 * time.Second

// defaultAddr is loopback only: the demo believes any claimed name, so it
// must not face a network unless its user says so.
const defaultAddr = "localhost:8080"

// parseFlags reads the command line: the address to listen on and the
// backend configuration.
func parseFlags(args []string) (addr string, cfg config, err error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", defaultAddr, `address to listen on; ":8080" is every interface, for anyone who can reach this machine to sign in as anyone`)
	fs.StringVar(&cfg.PostgresURL, "postgres", os.Getenv("DATABASE_URL"), "PostgreSQL URL for the Store (default $DATABASE_URL; empty: in memory)")
	fs.StringVar(&cfg.RedisURL, "redis", os.Getenv("REDIS_URL"), "standalone Redis URL for the Broker (default $REDIS_URL)")
	fs.StringVar(&cfg.RedisCluster, "redis-cluster", "", "Redis Cluster nodes for the Broker, host:port,host:port,...")
	fs.StringVar(&cfg.PostgresSchema, "postgres-schema", "", "PostgreSQL schema of the chat tables (default "+postgres.DefaultSchema+")")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", "", "prefix of the Redis channels (default "+redisbroker.DefaultPrefix+")")
	fs.Var(rateFlag{&cfg.RateLimit.Sends}, "send-rate", "per-user message rate limit, such as 10/s (default off)")
	fs.Var(rateFlag{&cfg.RateLimit.ChatCreates}, "create-rate", "per-user chat creation rate limit, such as 5/m (default off)")
	fs.BoolVar(&cfg.Metrics, "metrics", false, "serve Prometheus metrics at /metrics")
	fs.DurationVar(&cfg.DrainDelay, "drain", 0, "on shutdown, answer /healthz/readyz with 503 and keep serving this long first")
	fs.StringVar(&cfg.BlobsDir, "blobs", "", "directory that keeps attachments (default: in memory, or off with -postgres)")
	err = fs.Parse(args)
	return addr, cfg, err
}

func main() {
	addr, backend, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2) // the FlagSet has said why
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		err = run(ctx, ln, backend, log)
	}
	if err != nil {
		log.Error("server failed", "err", err)
		os.Exit(1)
	}
}

// run serves on ln until ctx ends, then shuts down gracefully.
func run(ctx context.Context, ln net.Listener, cfg config, log *slog.Logger) error {
	b, err := openBackend(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer b.close()
	var metrics *chatprom.Metrics
	var observer chat.Observer
	if cfg.Metrics {
		metrics = chatprom.New()
		observer = metrics
	}
	svc, err := chat.New(chat.Config{Store: b.store, Broker: b.broker, Logger: log, RateLimit: cfg.RateLimit,
		Observer: observer, DrainDelay: cfg.DrainDelay, Blobs: b.blobs, Presence: chat.PresenceConfig{Enabled: true}})
	if err != nil {
		ln.Close()
		return err
	}
	if metrics != nil {
		metrics.Watch(svc)
	}
	srv := &http.Server{
		Handler:           withOps(newServer(svc, log), svc, metrics),
		ReadHeaderTimeout: 5 * time.Second,
		// ReadTimeout bounds slow request bodies. It does not cut
		// WebSockets short: net/http clears the deadlines of a hijacked
		// connection. There is no WriteTimeout: a WebSocket lives for
		// hours, and the WebSocket handler bounds each write itself.
		ReadTimeout:    30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	open, everywhere := pageURL(ln.Addr())
	log.Info("chat demo ready: open "+open+" in two browser tabs", "addr", ln.Addr().String(), "backend", b.describe)
	if everywhere {
		log.Warn("listening on every interface: anyone who can reach this machine can sign in as any name; use -addr localhost:8080 unless that is what you want")
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
	}

	// Readiness turns 503 first, so that a load balancer stops sending
	// clients here while everyone connected is still served (-drain).
	dctx, cancelDrain := context.WithTimeout(context.Background(), cfg.DrainDelay+shutdownTimeout)
	defer cancelDrain()
	if err := svc.Drain(dctx); err != nil {
		log.Warn("chat drain", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Shutdown stops accepting and waits for REST requests; hijacked
	// WebSockets are not its to wait for, so the Service closes them.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := svc.Shutdown(sctx); err != nil {
		log.Warn("chat shutdown", "err", err)
	}
	if serveErr == nil {
		serveErr = <-served
	}
	if !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

// pageURL is the URL of the demo page served on addr, and whether addr is
// reachable from other machines (not loopback).
func pageURL(addr net.Addr) (url string, public bool) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String(), true
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
	case ip.IsLoopback():
		host = "localhost"
	case ip.IsUnspecified():
		host, public = "localhost", true
	default:
		public = true
	}
	return "http://" + net.JoinHostPort(host, port), public
}
