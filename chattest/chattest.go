// Package chattest provides helpers for testing host apps that embed the
// chat SDK: an in-memory Service, clients for the REST and WebSocket
// handlers wherever and however a host mounts them, and a ready-made test
// server for the SDK on its own.
//
// A host app under test is a Host: StartHost serves any http.Handler (a
// net/http mux, a chi or gin router) over real HTTP, and NewHost points at
// a server that already runs. Host.As gives a Client that sends the host's
// own credentials, a session cookie or a token, through RequestOptions; the
// Client calls the REST API and opens WebSockets that read events. NewConn
// wraps a WebSocket that the test opened itself.
//
// Server is a Host of the SDK alone, under /api/v1 with HeaderAuth, for
// tests of the SDK's own behaviour.
//
// Everything here registers its cleanup with t.Cleanup, so a test needs no
// teardown code of its own. The types have unexported fields: make them
// with this package's functions. A zero value panics on use, naming the
// function that makes it.
package chattest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// RequestOption adds to a request what the host app needs to know who is
// asking: a session cookie, an Authorization header, anything else. The
// same options apply to REST requests and to WebSocket handshakes.
type RequestOption func(*http.Request)

// WithHeader sets a request header.
func WithHeader(key, value string) RequestOption {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// WithCookie adds cookies, for hosts that authenticate with a session
// cookie: pass the cookies that the host's login answered with
// (http.Response.Cookies).
func WithCookie(cookies ...*http.Cookie) RequestOption {
	return func(r *http.Request) {
		for _, c := range cookies {
			r.AddCookie(c)
		}
	}
}

// WithBearer sets an "Authorization: Bearer token" header.
func WithBearer(token string) RequestOption {
	return WithHeader("Authorization", "Bearer "+token)
}

// AsUser sets UserHeader to user, the identity HeaderAuth trusts. An empty
// user sends no header.
func AsUser(user string) RequestOption {
	return func(r *http.Request) {
		if user != "" {
			r.Header.Set(UserHeader, user)
		}
	}
}

// Mount says where a host app serves the chat handlers: paths below the
// host's address, or absolute URLs.
type Mount struct {
	// REST is where the REST handler answers, such that REST+"/chats"
	// lists chats: "/api/chat" for a handler mounted under /api/chat/.
	REST string
	// WebSocket is the path or URL of the WebSocket handler, such as
	// "/api/chat/ws". Empty if the host serves none; dialling then fails
	// the test.
	WebSocket string
}

// Host is a host app under test, reached over real HTTP. Make it with
// StartHost or NewHost.
type Host struct {
	t      testing.TB
	base   *url.URL
	client *http.Client
	mount  Mount
}

// StartHost serves h, a whole host app or just the chat handlers, on an
// httptest.Server closed when the test ends, with the chat handlers where
// mount says.
func StartHost(t testing.TB, h http.Handler, mount Mount) *Host {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return newHost(t, srv.URL, srv.Client(), mount)
}

// NewHost is a Host for an app already serving at baseURL, such as
// "http://127.0.0.1:8080". A nil client means http.DefaultClient.
func NewHost(t testing.TB, baseURL string, client *http.Client, mount Mount) *Host {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	return newHost(t, baseURL, client, mount)
}

func newHost(t testing.TB, baseURL string, client *http.Client, mount Mount) *Host {
	t.Helper()
	base, err := url.Parse(baseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		t.Fatalf("chattest: host URL %q is not an absolute URL", baseURL)
	}
	return &Host{t: t, base: base, client: client, mount: mount}
}

func (h *Host) check() {
	if h == nil || h.t == nil {
		panic("chattest: a Host must be made by StartHost or NewHost")
	}
}

// URL returns the address of the host app, without a trailing slash.
func (h *Host) URL() string {
	h.check()
	return strings.TrimSuffix(h.base.String(), "/")
}

// HTTPClient returns the client that requests go through, for calling the
// host's own routes, such as a login that answers with a session cookie.
func (h *Host) HTTPClient() *http.Client {
	h.check()
	return h.client
}

// resolve turns a path or URL into an absolute URL on the host.
func (h *Host) resolve(ref string) string {
	u, err := h.base.Parse(ref)
	if err != nil {
		h.t.Fatalf("chattest: %q is not a path or URL: %v", ref, err)
	}
	return u.String()
}

// As returns a client of the host's chat API that sends every request with
// opts: a user as the host knows them.
func (h *Host) As(opts ...RequestOption) *Client {
	h.check()
	return &Client{host: h, opts: opts}
}

// Client is one user of a host's chat API: REST requests and WebSocket
// connections carry the RequestOptions it was made with. Make it with
// Host.As.
type Client struct {
	host *Host
	opts []RequestOption
}

func (c *Client) check() {
	if c == nil || c.host == nil {
		panic("chattest: a Client must be made by Host.As")
	}
	c.host.check()
}

// Do sends a request to path below the REST mount point. body is sent as
// is if it is a string or []byte, and as JSON otherwise; nil sends none.
// Extra options apply to this request only, after the client's.
func (c *Client) Do(method, path string, body any, opts ...RequestOption) Response {
	c.check()
	t := c.host.t
	t.Helper()
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
			t.Fatalf("chattest: encoding body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	target := c.host.resolve(strings.TrimSuffix(c.host.mount.REST, "/") + path)
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatalf("chattest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range c.opts {
		o(req)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.host.client.Do(req)
	if err != nil {
		t.Fatalf("chattest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("chattest: reading %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Dial opens a WebSocket to the host's WebSocket handler without resuming.
func (c *Client) Dial() *Conn {
	c.check()
	c.host.t.Helper()
	if c.host.mount.WebSocket == "" {
		c.host.t.Fatalf("chattest: the host's Mount has no WebSocket")
	}
	return dial(c.host.t, c.host.client, c.host.resolve(c.host.mount.WebSocket), c.opts)
}

// Connect dials, resumes from positions (nil for none) and waits for the
// resumed event, returning the replayed events before it.
func (c *Client) Connect(positions map[string]int64) (*Conn, []chat.Event) {
	c.check()
	c.host.t.Helper()
	conn := c.Dial()
	return conn, conn.Resume(positions)
}

// Server is an httptest.Server with only the SDK: the REST handler under
// /api/v1/ and the WebSocket handler at /api/v1/ws, authenticating with
// HeaderAuth unless configured otherwise. Make it with NewServer or
// NewServerWithConfig.
type Server struct {
	*httptest.Server
	host *Host
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
	return &Server{Server: srv, host: newHost(t, srv.URL, srv.Client(), Mount{REST: "/api/v1", WebSocket: "/api/v1/ws"})}
}

func (s *Server) check() {
	if s == nil || s.host == nil {
		panic("chattest: a Server must be made by NewServer or NewServerWithConfig")
	}
}

// Host returns the server as a Host.
func (s *Server) Host() *Host {
	s.check()
	return s.host
}

// As returns a client that sends UserHeader with user ("" for none) and
// opts.
func (s *Server) As(user string, opts ...RequestOption) *Client {
	s.check()
	return s.host.As(append([]RequestOption{AsUser(user)}, opts...)...)
}

// Do sends a request to path (below /api/v1) as user ("" for none). body
// is sent as is if it is a string or []byte, and as JSON otherwise.
func (s *Server) Do(user, method, path string, body any) Response {
	s.check()
	s.host.t.Helper()
	return s.As(user).Do(method, path, body)
}

// WebSocketURL returns the ws:// address of the WebSocket handler.
func (s *Server) WebSocketURL() string {
	s.check()
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/api/v1/ws"
}

// Dial connects to the server's WebSocket as user without resuming.
func (s *Server) Dial(user string) *Conn {
	s.check()
	s.host.t.Helper()
	return s.As(user).Dial()
}

// Connect dials as user, resumes from positions (nil for none) and waits
// for the resumed event, returning the replayed events before it.
func (s *Server) Connect(user string, positions map[string]int64) (*Conn, []chat.Event) {
	s.check()
	s.host.t.Helper()
	return s.As(user).Connect(positions)
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

// Conn is a test WebSocket client that reads the SDK's events. Make it
// with Dial, DialWith, Client.Dial or, for a WebSocket the test opened
// itself, NewConn.
type Conn struct {
	t  testing.TB
	ws *websocket.Conn
}

// Dial connects to a WebSocket handler at url as user, sending UserHeader
// as HeaderAuth expects. DialWith takes the host's own credentials.
func Dial(t testing.TB, url, user string) *Conn {
	t.Helper()
	return DialWith(t, url, AsUser(user))
}

// DialWith connects to a WebSocket handler at url (ws://, wss://, http://
// or https://), with opts applied to the handshake request.
func DialWith(t testing.TB, url string, opts ...RequestOption) *Conn {
	t.Helper()
	return dial(t, http.DefaultClient, url, opts)
}

// DialWithOptions is Dial with websocket.DialOptions of the caller's (an
// HTTP client, headers), to which it adds UserHeader.
func DialWithOptions(t testing.TB, url, user string, opts *websocket.DialOptions) *Conn {
	t.Helper()
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
	return dialOptions(t, url, &o)
}

func dial(t testing.TB, client *http.Client, url string, opts []RequestOption) *Conn {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("chattest: dial %s: %v", url, err)
	}
	for _, o := range opts {
		o(req)
	}
	return dialOptions(t, url, &websocket.DialOptions{HTTPClient: client, HTTPHeader: req.Header})
}

func dialOptions(t testing.TB, url string, opts *websocket.DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		status := ""
		if resp != nil {
			status = fmt.Sprintf(" (HTTP %d)", resp.StatusCode)
		}
		t.Fatalf("chattest: dial %s%s: %v", url, status, err)
	}
	return NewConn(t, ws)
}

// NewConn wraps a WebSocket to the SDK's WebSocket handler that the test
// opened itself, say through a host's own dialer. The WebSocket is closed
// when the test ends, and its read limit is raised to 1 MiB.
func NewConn(t testing.TB, ws *websocket.Conn) *Conn {
	t.Helper()
	if ws == nil {
		t.Fatalf("chattest: NewConn with a nil WebSocket")
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &Conn{t: t, ws: ws}
}

func (c *Conn) check() {
	if c == nil || c.ws == nil {
		panic("chattest: a Conn must be made by Dial, DialWith, Client.Dial or NewConn")
	}
}

// WebSocket returns the underlying connection, for reads and writes the
// helpers do not cover.
func (c *Conn) WebSocket() *websocket.Conn {
	c.check()
	return c.ws
}

// Send writes v as a JSON text frame.
func (c *Conn) Send(v any) {
	c.check()
	c.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("chattest: encoding frame: %v", err)
	}
	c.SendRaw(websocket.MessageText, data)
}

// SendRaw writes one frame as given.
func (c *Conn) SendRaw(typ websocket.MessageType, data []byte) {
	c.check()
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.ws.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("chattest: write: %v", err)
	}
}

// Resume sends a resume frame and returns the events received before the
// resumed event.
func (c *Conn) Resume(positions map[string]int64) []chat.Event {
	c.check()
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
	c.check()
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
	c.check()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
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
	c.check()
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
	c.check()
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// Close closes the connection normally.
func (c *Conn) Close() {
	c.check()
	c.ws.Close(websocket.StatusNormalClosure, "")
}
