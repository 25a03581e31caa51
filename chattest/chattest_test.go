package chattest_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// A value made without this package's functions cannot be half set up:
// the types have no exported fields to fill in (a Conn used to have one,
// and Resume on &Conn{Conn: ws} dereferenced a nil testing.TB), and a zero
// value says on first use which function makes it.
func TestZeroValuesCannotBeHalfBuilt(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[chattest.Conn](),
		reflect.TypeFor[chattest.Client](),
		reflect.TypeFor[chattest.Host](),
	} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			assert.False(t, f.IsExported(), "%s has the exported field %s", typ, f.Name)
		}
	}
	assert.PanicsWithValue(t, "chattest: a Conn must be made by Dial, DialWith, Client.Dial or NewConn",
		func() { (&chattest.Conn{}).Resume(nil) })
	assert.PanicsWithValue(t, "chattest: a Client must be made by Host.As",
		func() { (&chattest.Client{}).Do(http.MethodGet, "/chats", nil) })
	assert.PanicsWithValue(t, "chattest: a Host must be made by StartHost or NewHost",
		func() { (&chattest.Host{}).As() })
	assert.PanicsWithValue(t, "chattest: a Server must be made by NewServer or NewServerWithConfig",
		func() { (&chattest.Server{}).Do("alice", http.MethodGet, "/chats", nil) })
}

// A WebSocket that the test opened itself, with whatever dialer and
// credentials the host needs, gets the same event helpers.
func TestNewConnWrapsAHostWebSocket(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	srv := chattest.NewServer(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{
		HTTPHeader: http.Header{chattest.UserHeader: {"bob"}},
	})
	require.NoError(t, err)
	bob := chattest.NewConn(t, ws)
	require.Empty(t, bob.Resume(nil))

	r := srv.Do("alice", http.MethodPost, "/chats", map[string]any{"kind": "direct", "members": []string{"bob"}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	assert.Equal(t, chat.EventChatCreated, bob.Next().Type)
	assert.Same(t, ws, bob.WebSocket())
}

// Hosts that mount the SDK elsewhere and take a bearer token: the Mount
// and the options are all a test needs.
func TestHostWithBearerTokens(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{})
	tokens := map[string]string{"t-alice": "alice", "t-bob": "bob"}
	auth := func(r *http.Request) (string, error) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return tokens[tok], nil
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/chat/", chat.NewHandler(svc, chat.HandlerConfig{Authenticate: auth, Prefix: "/v2/chat"}))
	mux.Handle("/v2/chat-ws", chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: auth}))
	host := chattest.StartHost(t, mux, chattest.Mount{REST: "/v2/chat", WebSocket: "/v2/chat-ws"})

	alice, bob := host.As(chattest.WithBearer("t-alice")), host.As(chattest.WithBearer("t-bob"))
	bobLive, _ := bob.Connect(nil)
	r := alice.Do(http.MethodPost, "/chats", map[string]any{"kind": "group", "members": []string{"bob"}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	assert.Equal(t, chat.EventChatCreated, bobLive.Next().Type)

	// Options per request come after the client's: here, a wrong token.
	r = alice.Do(http.MethodGet, "/chats", nil, chattest.WithBearer("nobody"))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, "unauthenticated", r.ErrorCode())

	// A host that runs elsewhere is reached by URL.
	remote := chattest.NewHost(t, host.URL(), nil, chattest.Mount{REST: host.URL() + "/v2/chat"})
	r = remote.As(chattest.WithBearer("t-bob")).Do(http.MethodGet, "/chats", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var page chat.ChatPage
	r.Decode(t, &page)
	assert.Len(t, page.Chats, 1)
}
