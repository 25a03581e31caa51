package main

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/embedchat/chat"
)

//go:embed static
var static embed.FS

// newServer wires the demo: the chat REST API under /api/v1/, the
// WebSocket at /api/v1/ws and the page at /, with every request logged.
func newServer(svc *chat.Service, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	// The REST handler routes on paths below its mount point (/chats,
	// /chats/{id}, ...), so the prefix is stripped before it.
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1",
		chat.NewHandler(svc, chat.HandlerConfig{Authenticate: demoUser})))
	mux.Handle("/api/v1/ws",
		chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: demoUser}))
	mux.Handle("/", pageHandler())
	return logRequests(log, mux)
}

// demoUser is the demo's stand-in for authentication, and it is NOT real
// authentication: anyone can claim any name. It reads the name from the
// X-User header (what the page's fetch calls send) or else from the "user"
// cookie (the only way a browser's WebSocket can carry it). Both are
// percent-encoded UTF-8, so that names outside ASCII survive headers; a
// plain ASCII name needs no encoding. A real host app replaces this with
// its session lookup.
func demoUser(r *http.Request) (string, error) {
	raw := r.Header.Get("X-User")
	if raw == "" {
		c, err := r.Cookie("user")
		if err != nil {
			return "", nil // no identity: the chat handlers answer 401
		}
		raw = c.Value
	}
	name, err := url.PathUnescape(raw)
	if err != nil {
		return "", nil
	}
	return name, nil
}

// pageHandler serves the embedded page. It sets a strict Content Security
// Policy so that, even if user text were ever inserted as markup by
// mistake, no injected script could run.
func pageHandler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The page changes with the binary; always revalidate it.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: at Info level for a request
// answered with an error status, at Debug level for the others, so that a
// busy server does not write a line per send. WebSocket requests are
// logged when the connection ends, with status 101.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.statusOr200() >= http.StatusBadRequest {
			level = slog.LevelInfo
		}
		if !log.Enabled(r.Context(), level) {
			return
		}
		user, _ := demoUser(r)
		log.Log(r.Context(), level, "request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", rec.statusOr200(),
			"user", user,
			"duration", time.Since(start).Round(time.Microsecond),
		)
	})
}

// statusRecorder remembers the status code. Unwrap lets the WebSocket
// upgrade reach the underlying http.Hijacker, as http.ResponseController
// does.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusOr200() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
