package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// These fuzz targets feed client input to every decoder of it: REST
// bodies, query parameters and paths through the real REST handler, and
// WebSocket frames and resume positions through a real connection. The
// contract they hold the SDK to: no panic, no hang, no 5xx, and every
// refusal is the standard JSON error. Their seeds are in
// testdata/fuzz/<FuzzName>/; .ci/run runs each for a few seconds.

// fuzzWorld is a Service with a chat to aim requests at: alice and bob in
// a group with a few messages. Each input gets its own, so that a crasher
// reproduces from its input alone.
type fuzzWorld struct {
	svc  *chat.Service
	rest http.Handler
	chat chat.Chat
}

func newFuzzWorld(t *testing.T) *fuzzWorld {
	svc := chattest.NewService(t, chat.Config{})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Title: "fuzz", Members: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two", "three"} {
		if _, _, err := svc.SendMessage(ctx, "bob", c.ID, chat.SendMessageRequest{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	return &fuzzWorld{svc: svc, rest: chat.NewHandler(svc, chat.HandlerConfig{Authenticate: chattest.HeaderAuth}), chat: c}
}

// serve runs one request through the REST handler, as alice, and checks
// the answer.
func (w *fuzzWorld) serve(t *testing.T, method, target string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Skip("net/http refuses this request line before any handler")
	}
	req.URL, req.RequestURI = u, target
	req.Header.Set(chattest.UserHeader, "alice")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	w.rest.ServeHTTP(rec, req)
	requireFuzzAnswer(t, method+" "+target, rec.Code, rec.Body.Bytes())
}

// requireFuzzAnswer checks that an answer to bad input is no server error
// and that a refusal is the standard error body.
func requireFuzzAnswer(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s: status %d: %s", what, status, body)
	}
	if status == http.StatusNoContent {
		return
	}
	if !json.Valid(body) {
		t.Fatalf("%s: status %d with a body that is not JSON: %q", what, status, body)
	}
	if status >= 400 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s: status %d without the standard error body: %s", what, status, body)
		}
	}
}

// fuzzBodyRoutes are the routes that take a body; {chat} is the world's
// chat.
var fuzzBodyRoutes = []struct{ method, path string }{
	{http.MethodPost, "/chats"},
	{http.MethodPost, "/chats/{chat}/messages"},
	{http.MethodPatch, "/chats/{chat}/messages/1"},
	{http.MethodPost, "/chats/{chat}/read"},
	{http.MethodPost, "/chats/{chat}/members"},
}

// FuzzRESTBody sends any body to every route that reads one: chat
// creation, sends (text, client_id, metadata), edits, read markers and
// member additions.
func FuzzRESTBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		w := newFuzzWorld(t)
		r := fuzzBodyRoutes[int(route)%len(fuzzBodyRoutes)]
		w.serve(t, r.method, strings.ReplaceAll(r.path, "{chat}", w.chat.ID), body)
	})
}

// fuzzQueryRoutes are the routes that read query parameters.
var fuzzQueryRoutes = []string{"/chats", "/chats/{chat}/messages", "/chats/{chat}/members"}

// FuzzRESTQuery sends any query string to the routes that page: limit,
// cursor, before and after.
func FuzzRESTQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		w := newFuzzWorld(t)
		path := strings.ReplaceAll(fuzzQueryRoutes[int(route)%len(fuzzQueryRoutes)], "{chat}", w.chat.ID)
		w.serve(t, http.MethodGet, path+"?"+query, nil)
	})
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodHead, http.MethodOptions}

// FuzzRESTPath sends any path, with any of the methods, to the REST
// handler: chat ids, message seqs and member ids in paths, escapes,
// slashes. "{chat}" in the path stands for the world's chat, so that
// routes below it are reached.
func FuzzRESTPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte) {
		w := newFuzzWorld(t)
		path = strings.ReplaceAll(path, "{chat}", w.chat.ID)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		w.serve(t, fuzzMethods[int(method)%len(fuzzMethods)], path, body)
	})
}

// FuzzSendMetadata sends a message with any metadata through the Go API,
// then checks that what was stored is a JSON object that goes out to
// clients unchanged in meaning.
func FuzzSendMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, metadata []byte) {
		w := newFuzzWorld(t)
		m, _, err := w.svc.SendMessage(context.Background(), "alice", w.chat.ID, chat.SendMessageRequest{Text: "x", Metadata: metadata})
		if err != nil {
			if !errors.Is(err, chat.ErrInvalid) {
				t.Fatalf("metadata %q: %v, want ErrInvalid", metadata, err)
			}
			return
		}
		if m.Metadata == nil {
			return
		}
		obj, err := decodeObject(m.Metadata)
		if err != nil {
			t.Fatalf("stored metadata %q is no JSON object: %v", m.Metadata, err)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("message with metadata %q cannot be encoded for clients: %v", m.Metadata, err)
		}
		var back chat.Message
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		again, err := decodeObject(back.Metadata)
		if err != nil || !jsonEqual(obj, again) {
			t.Fatalf("metadata %q comes back as %q", m.Metadata, back.Metadata)
		}
	})
}

// decodeObject decodes a JSON object, keeping numbers as written: JSON
// allows numbers no float64 holds.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	err := dec.Decode(&obj)
	if err == nil && obj == nil {
		err = errors.New("null")
	}
	return obj, err
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// FuzzResumePositions resumes a subscription from any position in any
// chat: it is refused as invalid, or it resumes.
func FuzzResumePositions(f *testing.F) {
	f.Fuzz(func(t *testing.T, chatID string, seq int64) {
		w := newFuzzWorld(t)
		chatID = strings.ReplaceAll(chatID, "{chat}", w.chat.ID)
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		sub, err := w.svc.Subscribe(ctx, "alice", map[string]int64{chatID: seq})
		if err != nil {
			if !errors.Is(err, chat.ErrInvalid) {
				t.Fatalf("resume from %q at %d: %v, want ErrInvalid", chatID, seq, err)
			}
			return
		}
		defer sub.Close()
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("resume from %q at %d: %v", chatID, seq, err)
			}
			if ev.Type == chat.EventResumed {
				return
			}
		}
	})
}

// FuzzWebSocketFrames sends any frame before the resume frame and any
// frame after it on a real connection, then a frame of its own: the
// connection must answer each with an event or an error frame, never an
// internal error, and stay up.
func FuzzWebSocketFrames(f *testing.F) {
	f.Fuzz(func(t *testing.T, binary1 bool, first []byte, binary2 bool, second []byte) {
		if len(first) > chat.DefaultReadLimit/2 || len(second) > chat.DefaultReadLimit/2 {
			t.Skip("a frame over the read limit closes the connection with 1009, as documented")
		}
		w := newFuzzWorld(t)
		srv := chattest.NewServer(t, w.svc)
		first = bytes.ReplaceAll(first, []byte("{chat}"), []byte(w.chat.ID))
		second = bytes.ReplaceAll(second, []byte("{chat}"), []byte(w.chat.ID))
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		h := http.Header{}
		h.Set(chattest.UserHeader, "alice")
		conn, _, err := websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 20)
		write := func(binary bool, data []byte) {
			typ := websocket.MessageText
			if binary {
				typ = websocket.MessageBinary
			}
			if err := conn.Write(ctx, typ, data); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		write(binary1, first)
		write(false, []byte(`{"type":"resume","positions":{}}`))
		write(binary2, second)
		write(false, []byte(`{"type":"fuzz-end"}`))

		// The end frame's error and the resumed event are written by
		// different goroutines: either may come first.
		resumed, ended := 0, false
		for !ended || resumed == 0 {
			_, data, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("frames %q, %q: connection lost: %v", first, second, err)
			}
			var fr struct {
				Type    string          `json:"type"`
				Code    string          `json:"code"`
				Message json.RawMessage `json:"message"` // text in errors, an object in events
			}
			if err := json.Unmarshal(data, &fr); err != nil {
				t.Fatalf("server frame %q is not JSON: %v", data, err)
			}
			switch {
			case fr.Type == "resumed":
				resumed++
				if resumed > 1 {
					t.Fatalf("frames %q, %q: resumed twice", first, second)
				}
			case fr.Type == "error" && (fr.Code == "" || fr.Code == "internal" || fr.Code == "unavailable"):
				t.Fatalf("frames %q, %q: error frame %s", first, second, data)
			case fr.Type == "error" && strings.Contains(string(fr.Message), "fuzz-end"):
				ended = true
			}
		}
		conn.Close(websocket.StatusNormalClosure, "")
	})
}
