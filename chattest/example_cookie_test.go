package chattest_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// cookieApp is a host app that logs users in with a session cookie, as
// most web apps do, and serves chat to logged-in users only.
type cookieApp struct {
	mu       sync.Mutex
	sessions map[string]string // session token -> user id
}

func newCookieApp(svc *chat.Service) http.Handler {
	app := &cookieApp{sessions: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", app.login)
	// The handlers take the user from the request context, where the
	// session middleware put it.
	mux.Handle("/api/chat/", app.requireSession(http.StripPrefix("/api/chat", chat.NewHandler(svc, chat.HandlerConfig{}))))
	mux.Handle("/api/chat/ws", app.requireSession(chat.NewWebSocketHandler(svc, chat.WebSocketConfig{})))
	return mux
}

func (a *cookieApp) login(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("user")
	if user == "" {
		http.Error(w, "who are you?", http.StatusBadRequest)
		return
	}
	token := rand.Text()
	a.mu.Lock()
	a.sessions[token] = user
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

func (a *cookieApp) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		user, ok := a.sessions[c.Value]
		a.mu.Unlock()
		if !ok {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(chat.WithUser(r.Context(), user)))
	})
}

// logIn logs user in through the app's own login route and returns the
// session cookies it set.
func logIn(t *testing.T, host *chattest.Host, user string) []*http.Cookie {
	t.Helper()
	resp, err := host.HTTPClient().PostForm(host.URL()+"/login", url.Values{"user": {user}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	return resp.Cookies()
}

// Testing a host app that authenticates with a session cookie: log in
// through the app, then talk to its chat API with the cookie it set, over
// REST and WebSocket, with no hand-written HTTP or WebSocket code.
func TestExampleCookieSessionApp(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	host := chattest.StartHost(t, newCookieApp(svc), chattest.Mount{REST: "/api/chat", WebSocket: "/api/chat/ws"})

	alice := host.As(chattest.WithCookie(logIn(t, host, "alice")...))
	bob := host.As(chattest.WithCookie(logIn(t, host, "bob")...))

	bobLive, _ := bob.Connect(nil)
	r := alice.Do(http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var c chat.Chat
	r.Decode(t, &c)

	r = alice.Do(http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hi bob"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	assert.Equal(t, chat.EventChatCreated, bobLive.Next().Type)
	ev := bobLive.NextOfType(chat.EventMessageCreated)
	assert.Equal(t, "hi bob", ev.Message.Text)
	assert.Equal(t, "alice", ev.Message.Sender)

	// Without the cookie the app itself refuses, before the chat handlers.
	anonymous := host.As()
	r = anonymous.Do(http.MethodGet, "/chats", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.True(t, strings.HasPrefix(string(r.Body), "log in first"), "%s", r.Body)
}
