package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// These fuzz targets send client input through the REST handler to a
// PostgreSQL Store, where the memory Store's fuzz targets (in the root
// package) cannot reach: what the database refuses (times out of its
// range, bytes its types reject) must be a 4xx too, never a 5xx. One
// Service and schema serve a whole fuzz run; inputs only add to its chat.

type pgFuzzWorld struct {
	rest http.Handler
	chat string
}

func newPGFuzzWorld(f *testing.F) *pgFuzzWorld {
	svc := chattest.NewService(f, chat.Config{Store: postgresStores(f)()})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if _, _, err := svc.SendMessage(ctx, "bob", c.ID, chat.SendMessageRequest{Text: text}); err != nil {
			f.Fatal(err)
		}
	}
	return &pgFuzzWorld{rest: chat.NewHandler(svc, chat.HandlerConfig{Authenticate: chattest.HeaderAuth}), chat: c.ID}
}

func (w *pgFuzzWorld) serve(t *testing.T, method, target string, body []byte) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Skip("net/http refuses this request line before any handler")
	}
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL, req.RequestURI = u, target
	req.Header.Set(chattest.UserHeader, "alice")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	w.rest.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: status %d: %s", method, target, body, rec.Code, rec.Body)
	}
	var e struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%s %s: status %d with a body that is not JSON: %q", method, target, rec.Code, rec.Body)
	}
	if rec.Code >= 400 && (e.Error == nil || e.Error.Code == "" || e.Error.Message == "") {
		t.Fatalf("%s %s: status %d without the standard error body: %s", method, target, rec.Code, rec.Body)
	}
}

// FuzzPostgresQuery pages chats and messages with any query string.
func FuzzPostgresQuery(f *testing.F) {
	w := newPGFuzzWorld(f)
	paths := []string{"/chats", "/chats/" + w.chat + "/messages"}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		w.serve(t, http.MethodGet, paths[int(route)%len(paths)]+"?"+query, nil)
	})
}

// FuzzPostgresBody sends any body to the routes that store what a client
// sends: chats, messages (text, client_id, metadata), edits, read markers
// and members.
func FuzzPostgresBody(f *testing.F) {
	w := newPGFuzzWorld(f)
	routes := []struct{ method, path string }{
		{http.MethodPost, "/chats"},
		{http.MethodPost, "/chats/{chat}/messages"},
		{http.MethodPatch, "/chats/{chat}/messages/1"},
		{http.MethodPost, "/chats/{chat}/read"},
		{http.MethodPost, "/chats/{chat}/members"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		w.serve(t, r.method, strings.ReplaceAll(r.path, "{chat}", w.chat), body)
	})
}
