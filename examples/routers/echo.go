package routers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/embedchat/chat"
)

// echoSessionUser is echo middleware: a request with a valid session
// cookie goes on carrying its user; the chat handlers answer the others
// 401.
func echoSessionUser(s *sessions) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if user := s.user(c.Request()); user != "" {
				c.SetRequest(c.Request().WithContext(chat.WithUser(c.Request().Context(), user)))
			}
			return next(c)
		}
	}
}

// echoApp mounts the chat API on an echo server under /api/chat behind
// cookie sessions. echo passes the full path on: here HandlerConfig.Prefix
// strips it (http.StripPrefix would do as well).
func echoApp(svc *chat.Service, s *sessions) http.Handler {
	e := echo.New()
	e.POST("/login", echo.WrapHandler(http.HandlerFunc(s.login)))
	api := e.Group("/api/chat", echoSessionUser(s))
	// echo matches the static /ws before the wildcard.
	api.GET("/ws", echo.WrapHandler(chat.NewWebSocketHandler(svc, chat.WebSocketConfig{})))
	api.Any("/*", echo.WrapHandler(chat.NewHandler(svc, chat.HandlerConfig{Prefix: "/api/chat"})))
	return e
}
