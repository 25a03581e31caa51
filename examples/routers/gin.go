package routers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/embedchat/chat"
)

// ginTokenUser is gin middleware: a request with a valid bearer token goes
// on carrying its user; the chat handlers answer the others 401.
func ginTokenUser(c *gin.Context) {
	if user := tokenUser(c.Request); user != "" {
		c.Request = c.Request.WithContext(chat.WithUser(c.Request.Context(), user))
	}
	c.Next()
}

// ginApp mounts the chat API on a gin engine under /api/chat behind bearer
// tokens. gin passes the full path on: http.StripPrefix removes it. gin's
// router refuses a catch-all next to /ws in one group, so the REST routes
// are caught under /chats.
func ginApp(svc *chat.Service) http.Handler {
	rest := gin.WrapH(http.StripPrefix("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{})))
	g := gin.New()
	api := g.Group("/api/chat", ginTokenUser)
	api.GET("/ws", gin.WrapH(chat.NewWebSocketHandler(svc, chat.WebSocketConfig{})))
	api.Any("/chats", rest)
	api.Any("/chats/*rest", rest)
	// Other paths below the prefix get the SDK's JSON 404 too.
	g.NoRoute(rest)
	return g
}
