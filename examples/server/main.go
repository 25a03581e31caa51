// Command server is the reference demo of the chat SDK: a single process
// that keeps everything in memory, serves the REST API under /api/v1/, the
// WebSocket at /api/v1/ws and, at /, a small page on which two browser tabs
// signed in as different names can chat live.
//
//	go run ./examples/server          # then open http://localhost:8080 twice
//	go run ./examples/server -addr 127.0.0.1:9000
//
// Sign-in is NOT real authentication: the server believes whatever name the
// X-User header or the "user" cookie claims. A real host app plugs its own
// session lookup into chat.HandlerConfig.Authenticate instead.
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
	"github.com/embedchat/chat/memory"
)

// shutdownTimeout bounds the graceful shutdown: in-flight requests finish
// and WebSocket clients are told 1001 (going away) within it.
const shutdownTimeout = 10 * time.Second

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		err = run(ctx, ln, log)
	}
	if err != nil {
		log.Error("server failed", "err", err)
		os.Exit(1)
	}
}

// run serves on ln until ctx ends, then shuts down gracefully.
func run(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	svc, err := chat.New(chat.Config{
		Store:  memory.NewStore(),
		Broker: memory.NewBroker(),
		Logger: log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           newServer(svc, log),
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
	log.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
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
