package routers

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

func init() { gin.SetMode(gin.TestMode) }

func TestNetHTTPStripPrefixWithCookieSessions(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, netHTTPStripPrefix(svc, newSessions()), mount)
	checkRecipe(t, host, cookieLogin)
}

func TestNetHTTPPrefixWithBearerTokens(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, netHTTPPrefix(svc), mount)
	checkRecipe(t, host, tokenLogin)
}

// The cookie-authenticated chi app of issue 12, tested with chattest and
// no hand-written HTTP or WebSocket code.
func TestChiMountWithCookieSessions(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, chiApp(svc, newSessions()), mount)
	checkRecipe(t, host, cookieLogin)
}

func TestGinStripPrefixWithBearerTokens(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, ginApp(svc), mount)
	checkRecipe(t, host, tokenLogin)
}

func TestEchoPrefixWithCookieSessions(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, echoApp(svc, newSessions()), mount)
	checkRecipe(t, host, cookieLogin)
}
