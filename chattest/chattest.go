// Package chattest provides helpers for testing host apps that embed the
// chat SDK: an in-memory Service, an HTTP test server with the REST and
// WebSocket handlers mounted, and a WebSocket client that reads events.
//
// Everything here registers its cleanup with t.Cleanup, so a test needs no
// teardown code of its own.
package chattest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
)

// UserHeader is the request header that Server trusts as the caller's
// identity. It is for tests only: a real host app authenticates users.
const UserHeader = "X-User"

// Timeout bounds every wait of this package's helpers.
const Timeout = 10 * time.Second

// NewService returns a Service on a fresh memory Store and Broker, shut down
// when the test ends. cfg.Store and cfg.Broker, if nil, are filled in.
func NewService(t testing.TB, cfg chat.Config) *chat.Service {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = memory.NewStore()
	}
	if cfg.Broker == nil {
		cfg.Broker = memory.NewBroker()
	}
	svc, err := chat.New(cfg)
	if err != nil {
		t.Fatalf("chattest: new service: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("chattest: shutdown: %v", err)
		}
	})
	return svc
}

// HeaderAuth authenticates requests by the UserHeader header, or the "user"
// query parameter for WebSocket clients that cannot set headers. Tests
// only.
func HeaderAuth(r *http.Request) (string, error) {
	if u := r.Header.Get(UserHeader); u != "" {
		return u, nil
	}
	return r.URL.Query().Get("user"), nil
}

// Server is an httptest.Server with the REST handler under /api/v1/ and
// the WebSocket handler at /api/v1/ws, authenticating with HeaderAuth.
type Server struct {
	*httptest.Server
	t testing.TB
}

// NewServer starts a Server for svc, closed when the test ends.
func NewServer(t testing.TB, svc *chat.Service) *Server {
	t.Helper()
	return NewServerWithConfig(t, svc, chat.HandlerConfig{}, chat.WebSocketConfig{})
}

// NewServerWithConfig is NewServer with handler configurations of the
// caller's; a nil Authenticate in either means HeaderAuth.
func NewServerWithConfig(t testing.TB, svc *chat.Service, rest chat.HandlerConfig, ws chat.WebSocketConfig) *Server {
	t.Helper()
	if rest.Authenticate == nil {
		rest.Authenticate = HeaderAuth
	}
	if ws.Authenticate == nil {
		ws.Authenticate = HeaderAuth
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", chat.NewHandler(svc, rest)))
	mux.Handle("/api/v1/ws", chat.NewWebSocketHandler(svc, ws))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Server{Server: srv, t: t}
}

// Response is a decoded reply of the REST API.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test if it cannot.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("chattest: decoding %s: %v", r.Body, err)
	}
}

// ErrorCode returns the code of an error body, or "".
func (r Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request to path (below /api/v1) as user ("" for none). body
// is sent as is if it is a string or []byte, and as JSON otherwise.
func (s *Server) Do(user, method, path string, body any) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("chattest: encoding body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1"+path, rd)
	if err != nil {
		s.t.Fatalf("chattest: %v", err)
	}
	if user != "" {
		req.Header.Set(UserHeader, user)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		s.t.Fatalf("chattest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("chattest: reading %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// WebSocketURL returns the ws:// address of the WebSocket handler.
func (s *Server) WebSocketURL() string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/api/v1/ws"
}

// Dial connects to the server's WebSocket as user without resuming.
func (s *Server) Dial(user string) *Conn {
	s.t.Helper()
	return Dial(s.t, s.WebSocketURL(), user)
}

// Connect dials as user, resumes from positions (nil for none) and waits
// for the resumed event, returning the replayed events before it.
func (s *Server) Connect(user string, positions map[string]int64) (*Conn, []chat.Event) {
	s.t.Helper()
	c := s.Dial(user)
	return c, c.Resume(positions)
}

// Conn is a test WebSocket client.
type Conn struct {
	t    testing.TB
	Conn *websocket.Conn
}

// Dial connects to a WebSocket handler at url as user, sending UserHeader.
func Dial(t testing.TB, url, user string) *Conn {
	t.Helper()
	return DialWithOptions(t, url, user, nil)
}

// DialWithOptions is Dial with options of the caller's (an HTTP client,
// headers), to which it adds UserHeader.
func DialWithOptions(t testing.TB, url, user string, opts *websocket.DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	o := websocket.DialOptions{}
	if opts != nil {
		o = *opts
	}
	h := o.HTTPHeader.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(UserHeader, user)
	o.HTTPHeader = h
	c, _, err := websocket.Dial(ctx, url, &o)
	if err != nil {
		t.Fatalf("chattest: dial %s as %s: %v", url, user, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &Conn{t: t, Conn: c}
}

// Send writes v as a JSON text frame.
func (c *Conn) Send(v any) {
	c.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("chattest: encoding frame: %v", err)
	}
	c.SendRaw(websocket.MessageText, data)
}

// SendRaw writes one frame as given.
func (c *Conn) SendRaw(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("chattest: write: %v", err)
	}
}

// Resume sends a resume frame and returns the events received before the
// resumed event.
func (c *Conn) Resume(positions map[string]int64) []chat.Event {
	c.t.Helper()
	if positions == nil {
		positions = map[string]int64{}
	}
	c.Send(map[string]any{"type": "resume", "positions": positions})
	var replay []chat.Event
	for {
		ev := c.Next()
		if ev.Type == chat.EventResumed {
			return replay
		}
		replay = append(replay, ev)
	}
}

// Frame is any server frame: an event, or an error frame (Type "error")
// with Code and ErrorMessage set.
type Frame struct {
	chat.Event
	Code         string
	ErrorMessage string
}

// Next reads the next frame as an event, failing the test on an error
// frame or after Timeout.
func (c *Conn) Next() chat.Event {
	c.t.Helper()
	f, err := c.ReadFrame(Timeout)
	if err != nil {
		c.t.Fatalf("chattest: reading event: %v", err)
	}
	if f.Type == "error" {
		c.t.Fatalf("chattest: got error frame %s: %s", f.Code, f.ErrorMessage)
	}
	return f.Event
}

// ReadFrame reads the next frame, waiting at most d. Like every read of
// github.com/coder/websocket, one that times out closes the connection.
func (c *Conn) ReadFrame(d time.Duration) (Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.Conn.Read(ctx)
	if err != nil {
		return Frame{}, err
	}
	var e struct {
		Type    chat.EventType `json:"type"`
		Code    string         `json:"code"`
		Message string         `json:"message"`
	}
	if err := json.Unmarshal(data, &e); err == nil && e.Type == "error" {
		return Frame{Event: chat.Event{Type: e.Type}, Code: e.Code, ErrorMessage: e.Message}, nil
	}
	var f Frame
	if err := json.Unmarshal(data, &f.Event); err != nil {
		return Frame{}, fmt.Errorf("chattest: decoding frame %s: %w", data, err)
	}
	return f, nil
}

// NextOfType reads until an event of type typ arrives and returns it,
// discarding others.
func (c *Conn) NextOfType(typ chat.EventType) chat.Event {
	c.t.Helper()
	for {
		if ev := c.Next(); ev.Type == typ {
			return ev
		}
	}
}

// CloseStatus reads until the server closes the connection and returns the
// close code, or -1 if the connection failed otherwise.
func (c *Conn) CloseStatus() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for {
		if _, _, err := c.Conn.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// Close closes the connection normally.
func (c *Conn) Close() {
	c.Conn.Close(websocket.StatusNormalClosure, "")
}
