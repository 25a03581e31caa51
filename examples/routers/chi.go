package routers

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/embedchat/chat"
)

// chiApp mounts the chat API on a chi router behind cookie sessions.
// chi's Mount passes the full path on, so the handler strips the prefix
// itself (HandlerConfig.Prefix); r.Route with http.StripPrefix would do
// as well.
func chiApp(svc *chat.Service, s *sessions) http.Handler {
	r := chi.NewRouter()
	r.Post("/login", s.login)
	r.Group(func(r chi.Router) {
		r.Use(func(next http.Handler) http.Handler { return withSessionUser(s, next) })
		// chi matches the static /ws before the mount's wildcard.
		r.Handle("/api/chat/ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{}))
		r.Mount("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{Prefix: "/api/chat"}))
	})
	return r
}
