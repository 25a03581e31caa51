package routers

import (
	"net/http"

	"github.com/embedchat/chat"
)

// withSessionUser is net/http middleware: a request with a valid session
// cookie goes on carrying its user; one without goes on without, and the
// chat handlers answer it 401 with their JSON error.
func withSessionUser(s *sessions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user := s.user(r); user != "" {
			r = r.WithContext(chat.WithUser(r.Context(), user))
		}
		next.ServeHTTP(w, r)
	})
}

// netHTTPStripPrefix mounts the chat API on a ServeMux under /api/chat/,
// with http.StripPrefix removing the prefix, behind cookie sessions.
func netHTTPStripPrefix(svc *chat.Service, s *sessions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("/api/chat/", withSessionUser(s, http.StripPrefix("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{}))))
	// The more specific pattern wins over /api/chat/.
	mux.Handle("/api/chat/ws", withSessionUser(s, chat.NewWebSocketHandler(svc, chat.WebSocketConfig{})))
	return mux
}

// netHTTPPrefix is the same with HandlerConfig.Prefix instead of
// StripPrefix, and bearer tokens checked by an Authenticator instead of
// middleware.
func netHTTPPrefix(svc *chat.Service) http.Handler {
	auth := func(r *http.Request) (string, error) { return tokenUser(r), nil }
	mux := http.NewServeMux()
	mux.Handle("/api/chat/", chat.NewHandler(svc, chat.HandlerConfig{Authenticate: auth, Prefix: "/api/chat"}))
	mux.Handle("/api/chat/ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: auth}))
	return mux
}
