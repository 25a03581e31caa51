package routers

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// mount is what every recipe answers: the chat API under /api/chat, the
// WebSocket at /api/chat/ws, and a login for the test users.
var mount = chattest.Mount{REST: "/api/chat", WebSocket: "/api/chat/ws"}

// checkRecipe runs one conversation through a host app built by a recipe:
// two users log in the host's way, one creates a chat and sends, the other
// receives live over the WebSocket; an anonymous request is refused.
func checkRecipe(t *testing.T, host *chattest.Host, login func(t *testing.T, host *chattest.Host, user string) chattest.RequestOption) {
	t.Helper()
	alice := host.As(login(t, host, "alice"))
	bob := host.As(login(t, host, "bob"))

	bobLive, _ := bob.Connect(nil)
	r := alice.Do(http.MethodPost, "/chats", map[string]any{"kind": "group", "title": "Team", "members": []string{"bob"}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var c chat.Chat
	r.Decode(t, &c)
	r = alice.Do(http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hello from " + t.Name()})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	ev := bobLive.NextOfType(chat.EventMessageCreated)
	assert.Equal(t, "alice", ev.Message.Sender)
	assert.Equal(t, "hello from "+t.Name(), ev.Message.Text)

	r = bob.Do(http.MethodGet, "/chats/"+c.ID+"/messages", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var page chat.MessagePage
	r.Decode(t, &page)
	require.Len(t, page.Messages, 1)

	// The prefix is stripped exactly once: a route below it that does not
	// exist is the SDK's own JSON 404.
	r = bob.Do(http.MethodGet, "/nope", nil)
	assert.Equal(t, http.StatusNotFound, r.Status)

	r = host.As().Do(http.MethodGet, "/chats", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
}

// cookieLogin logs user in through the host's POST /login and returns the
// session cookie it set.
func cookieLogin(t *testing.T, host *chattest.Host, user string) chattest.RequestOption {
	t.Helper()
	resp, err := host.HTTPClient().PostForm(host.URL()+"/login", url.Values{"user": {user}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	return chattest.WithCookie(resp.Cookies()...)
}

// tokenLogin is a host whose clients hold a bearer token per user.
func tokenLogin(t *testing.T, _ *chattest.Host, user string) chattest.RequestOption {
	return chattest.WithBearer(tokenOf(user))
}
