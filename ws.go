package chat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/embedchat/chat/internal/origin"
)

// WebSocket close codes the handler uses besides the standard ones (1000
// after the client closes, 1001 going away on Shutdown, 1008 when a ping or
// a write times out or the client sends too many frames, 1009 for a frame
// over the read limit, 1011 for an internal error, 1013 when the Store is
// unavailable).
const (
	// CloseSlowConsumer closes a connection whose client does not read
	// fast enough: its send queue filled up.
	CloseSlowConsumer websocket.StatusCode = 4000
	// CloseResumeTimeout closes a connection that did not send a valid
	// resume frame within WebSocketConfig.ResumeTimeout.
	CloseResumeTimeout websocket.StatusCode = 4001
)

// errTooManyFrames ends the subscription of a client that sends frames
// faster than WebSocketConfig.MaxFrameRate.
var errTooManyFrames = errors.New("chat: too many frames")

// Defaults of WebSocketConfig.
const (
	DefaultResumeTimeout = 10 * time.Second
	DefaultReadLimit     = 64 << 10
	DefaultPingInterval  = 30 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxFrameRate  = 20
)

// WebSocketConfig configures the WebSocket handler. The zero value is
// usable: same-origin upgrades only, identity from the request context.
type WebSocketConfig struct {
	// Authenticate identifies the caller, as for the REST handler. Nil
	// means UserFromContext.
	Authenticate Authenticator
	// OriginPatterns lists the hosts, besides the request's own, allowed
	// to open connections from a browser (path.Match patterns on the
	// Origin's host, e.g. "app.example.com" or "*.example.com"). Empty
	// means same origin only.
	OriginPatterns []string
	// ResumeTimeout is how long a new connection may take to send its
	// resume frame. Default 10 s.
	ResumeTimeout time.Duration
	// ReadLimit bounds a client frame in bytes; a larger one closes the
	// connection with 1009. Default 64 KiB.
	ReadLimit int64
	// PingInterval is how often the server pings to detect dead peers.
	// Default 30 s; negative disables pings.
	PingInterval time.Duration
	// WriteTimeout bounds the write of one frame. Default 10 s.
	WriteTimeout time.Duration
	// MaxFrameRate bounds the frames a client may send per second, with
	// bursts of as many; a client over it is closed with 1008. Default
	// 20; negative means no bound.
	MaxFrameRate int
}

// NewWebSocketHandler returns the WebSocket endpoint of svc. Mount it at
// one path; each connection carries one user's events, as described in
// docs/protocol.md. ServeHTTP returns once the connection is upgraded:
// the connection lives on in a goroutine of its own until it ends, and
// Service.Shutdown waits for it.
func NewWebSocketHandler(svc *Service, cfg WebSocketConfig) http.Handler {
	if cfg.ResumeTimeout <= 0 {
		cfg.ResumeTimeout = DefaultResumeTimeout
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxFrameRate == 0 {
		cfg.MaxFrameRate = DefaultMaxFrameRate
	}
	return &wsHandler{svc: svc, cfg: cfg}
}

type wsHandler struct {
	svc *Service
	cfg WebSocketConfig
}

// clientFrame is any frame a client may send.
type clientFrame struct {
	Type      string           `json:"type"`
	ChatID    string           `json:"chat_id"`
	Positions map[string]int64 `json:"positions"`
}

type errorFrame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// websocket.Accept answers these refusals in plain text; checked here
	// first, by the same rules, they get the JSON error body.
	if status, code, msg := upgradeRefusal(w, r); status != 0 {
		writeError(w, h.svc.log, status, code, msg)
		return
	}
	if err := origin.Check(r, h.cfg.OriginPatterns); err != nil {
		h.svc.log.Debug("chat: websocket upgrade refused", "err", err)
		writeError(w, h.svc.log, http.StatusForbidden, "forbidden", "cross-origin WebSocket refused")
		return
	}
	user, ok := authenticate(w, r, h.cfg.Authenticate, h.svc)
	if !ok {
		return
	}
	if !h.svc.trackHandler() {
		writeServiceError(w, h.svc.log, ErrClosed)
		return
	}
	h.svc.connections.Add(1)
	c := &wsConn{h: h, user: user, closed: make(chan struct{})}
	sw := &spoolingWriter{ResponseWriter: w, timeout: h.cfg.WriteTimeout, onStall: c.kick}
	conn, err := websocket.Accept(sw, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		// Accept has answered the client: only failures that the checks
		// above cannot foresee, such as a ResponseWriter that cannot
		// hijack, get here.
		h.svc.log.Debug("chat: websocket upgrade refused", "err", err)
		h.svc.connections.Add(-1)
		h.svc.handlers.Done()
		return
	}
	conn.SetReadLimit(h.cfg.ReadLimit)
	c.conn, c.spool = conn, sw.spool
	if n := h.cfg.MaxFrameRate; n > 0 {
		c.frames = rate.NewLimiter(rate.Limit(n), n)
	}
	// The connection lives on in a goroutine of its own, and the handler
	// returns: net/http's goroutine, its buffers and the request go now
	// rather than when the connection ends. The handshake keeps the
	// request's values, not its end.
	go c.serve(context.WithoutCancel(r.Context()))
}

// upgradeRefusal checks that r is a WebSocket handshake that
// websocket.Accept will take, setting the headers a refusal needs; it
// returns status 0 when it is.
func upgradeRefusal(w http.ResponseWriter, r *http.Request) (status int, code, msg string) {
	if !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, "upgrade_required", "this is a WebSocket endpoint: connect with a WebSocket client"
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; use GET"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return http.StatusBadRequest, "invalid_request", "unsupported WebSocket version: only 13 is supported"
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, "invalid_request", "a WebSocket handshake needs one Sec-WebSocket-Key"
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return http.StatusBadRequest, "invalid_request", "Sec-WebSocket-Key must be 16 bytes in base64"
	}
	return 0, "", ""
}

// headerHasToken reports whether the comma-separated values of header key
// include token, ignoring case.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// trackHandler counts a running WebSocket handler for Shutdown, unless the
// Service is already shutting down.
func (s *Service) trackHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// connContext is the context of a connection's reads and writes once
// resumed. It has no end, so that Read sets up no timer per call and the
// connection keeps nothing of the request: closing the connection ends
// Read, and each write has its own timeout.
var connContext = context.Background()

// wsConn is one WebSocket connection. An idle one holds a single
// goroutine, the reader. Its writer runs only while there is something to
// write: the subscription starts it when an event is queued or when it
// ends, the ping timer when a ping is due, the spool when the client
// stalls. The writer that ends the connection closes it and closed.
type wsConn struct {
	h      *wsHandler
	conn   *websocket.Conn
	user   string
	frames *rate.Limiter // nil: no bound
	spool  *spoolConn    // nil if the connection was not hijacked through spoolingWriter
	// stopShutdown stops the close on Shutdown of a connection without
	// a subscription.
	stopShutdown func() bool

	sub     *Subscription // set before armed
	armed   atomic.Bool   // the writer may start
	writing atomic.Bool   // a writer runs, or the connection is closed
	pingDue atomic.Bool
	pings   *time.Timer   // nil when pings are disabled
	closed  chan struct{} // the writer has closed the connection
}

// allowFrame reports whether the client is within MaxFrameRate.
func (c *wsConn) allowFrame() bool {
	return c.frames == nil || c.frames.Allow()
}

// serve runs the handshake, then hands the connection to its reader.
func (c *wsConn) serve(ctx context.Context) {
	// Shutdown closes subscriptions, but a connection still waiting for
	// its resume frame has none yet.
	c.stopShutdown = context.AfterFunc(c.h.svc.closing, func() {
		c.conn.Close(websocket.StatusGoingAway, "server shutting down")
	})
	sub, status, reason := c.handshake(ctx)
	if sub == nil {
		c.close(status, reason)
		c.end()
		return
	}
	c.sub = sub
	if d := c.h.cfg.PingInterval; d > 0 {
		c.pings = time.AfterFunc(d, func() {
			c.pingDue.Store(true)
			c.kick()
		})
	}
	c.armed.Store(true)
	// What was queued before the writer could start.
	c.kick()
	// The reader is the one goroutine an idle connection keeps. A fresh
	// one has a small stack, where this one's grew for the handshake; and
	// the runtime halves a stack at GC only while less than a quarter of
	// it is in use.
	go c.read()
}

// read reads client frames until the connection ends.
func (c *wsConn) read() {
	c.readLoop(connContext, c.sub)
	<-c.closed
	c.end()
}

// end is the last thing a connection does, once closed.
func (c *wsConn) end() {
	c.stopShutdown()
	if c.spool != nil {
		// Closing the connection lets the spool write what it holds
		// within WriteTimeout; its goroutine is ours to wait for.
		c.spool.wait()
	}
	c.h.svc.connections.Add(-1)
	c.h.svc.handlers.Done()
}

// close ends the connection with status, counting it for FlowCounts and
// the Observer.
func (c *wsConn) close(status websocket.StatusCode, reason string) {
	c.h.svc.flow.countClose(int(status))
	c.h.svc.observe(ConnectionClosedObserved{Reason: closeReason(status)})
	c.conn.Close(status, reason)
}

// closeReason names a close code for the Observer, from a bounded set.
func closeReason(status websocket.StatusCode) string {
	switch status {
	case websocket.StatusGoingAway:
		return "shutdown"
	case websocket.StatusPolicyViolation:
		return "policy_violation"
	case websocket.StatusMessageTooBig:
		return "too_big"
	case websocket.StatusInternalError:
		return "error"
	case websocket.StatusTryAgainLater:
		return "unavailable"
	case CloseSlowConsumer:
		return "slow_consumer"
	case CloseResumeTimeout:
		return "resume_timeout"
	}
	return "client"
}

// observeDelivered tells the Observer of an event written to the client.
func (c *wsConn) observeDelivered(d *delivery) {
	s := c.h.svc
	if s.observer == nil {
		return
	}
	o := EventDeliveredObserved{Type: d.Type, Replayed: d.replayed}
	if !d.at.IsZero() {
		o.Delay = time.Since(d.at)
	}
	s.observer.Observe(o)
	if d.Type == EventResync {
		s.observer.Observe(ResyncObserved{})
	}
}

// handshake reads frames until a valid resume, answering anything else with
// an error event, and starts the subscription.
func (c *wsConn) handshake(ctx context.Context) (*Subscription, websocket.StatusCode, string) {
	// A deadline on Read's context would tear the connection down without
	// a close frame, so the timeout closes it properly instead.
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.h.cfg.ResumeTimeout, func() {
		timedOut.Store(true)
		c.conn.Close(CloseResumeTimeout, "no resume frame in time")
	})
	defer timer.Stop()
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			if timedOut.Load() {
				return nil, CloseResumeTimeout, "no resume frame in time"
			}
			return nil, closeStatusOf(err), ""
		}
		if !c.allowFrame() {
			return nil, websocket.StatusPolicyViolation, "too many frames"
		}
		f, ferr := parseFrame(typ, data)
		if ferr == nil && f.Type != "resume" {
			ferr = invalidf("the first frame must be resume")
		}
		if ferr != nil {
			c.writeError(ctx, ferr)
			continue
		}
		sub, err := c.h.svc.subscribe(ctx, c.user, f.Positions, c.kick)
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				c.writeError(ctx, err)
				continue
			}
			if errors.Is(err, ErrClosed) {
				return nil, websocket.StatusGoingAway, "server shutting down"
			}
			return nil, websocket.StatusInternalError, "internal error"
		}
		return sub, 0, ""
	}
}

func closeStatusOf(err error) websocket.StatusCode {
	if s := websocket.CloseStatus(err); s != -1 {
		return s
	}
	return websocket.StatusNormalClosure
}

func parseFrame(typ websocket.MessageType, data []byte) (clientFrame, error) {
	var f clientFrame
	if typ != websocket.MessageText {
		return f, invalidf("frames must be JSON text")
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, invalidf("frame is not a valid JSON object")
	}
	switch f.Type {
	case "resume":
		if f.Positions == nil {
			f.Positions = map[string]int64{}
		}
	case "typing":
		if f.ChatID == "" {
			return f, invalidf("typing needs a chat_id")
		}
	case "":
		return f, invalidf("frame has no type")
	default:
		return f, invalidf("unknown frame type %q", f.Type)
	}
	return f, nil
}

func (c *wsConn) readLoop(ctx context.Context, sub *Subscription) {
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			// The write loop notices through the subscription.
			sub.fail(ErrClosed)
			return
		}
		if !c.allowFrame() {
			sub.fail(errTooManyFrames)
			return
		}
		f, err := parseFrame(typ, data)
		if err == nil && f.Type == "resume" {
			err = invalidf("already resumed")
		}
		if err != nil {
			c.writeError(ctx, err)
			continue
		}
		sub.Typing(ctx, f.ChatID)
	}
}

// kick starts the writer unless one runs or the connection is closed.
// It never waits, so the subscription may call it under its lock.
func (c *wsConn) kick() {
	if c.armed.Load() && c.writing.CompareAndSwap(false, true) {
		go c.write()
	}
}

// write is the writer: it writes what waits and stops, or closes the
// connection when it must end. Once it stops, it looks for work once more,
// since a kick meanwhile found it still running.
func (c *wsConn) write() {
	for {
		if status, reason := c.flush(); status != 0 {
			if c.pings != nil {
				c.pings.Stop()
			}
			c.close(status, reason)
			close(c.closed)
			return // writing stays set: no writer starts again
		}
		c.writing.Store(false)
		if !c.hasWork() || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// hasWork reports whether the writer has something to do.
func (c *wsConn) hasWork() bool {
	return c.pingDue.Load() || c.spool != nil && c.spool.isStalled() || c.sub.waiting()
}

// flush writes the events that wait and a ping if one is due. It returns
// the status to close the connection with, or 0 once nothing waits.
func (c *wsConn) flush() (websocket.StatusCode, string) {
	for {
		if c.spool != nil && c.spool.isStalled() {
			return websocket.StatusPolicyViolation, "write timeout"
		}
		if err := c.sub.Err(); err != nil {
			return c.closeFor(err)
		}
		if c.pingDue.Swap(false) {
			pctx, cancel := context.WithTimeout(connContext, c.h.cfg.WriteTimeout)
			err := c.conn.Ping(pctx)
			cancel()
			if err != nil {
				return websocket.StatusPolicyViolation, "ping timeout"
			}
			c.pings.Reset(c.h.cfg.PingInterval)
		}
		d := c.sub.poll()
		if d == nil {
			return 0, ""
		}
		if status, reason := c.send(d); status != 0 {
			return status, reason
		}
	}
}

// send writes d to the client.
func (c *wsConn) send(d *delivery) (websocket.StatusCode, string) {
	// Wait for the client to read what the spool holds, so that whatever
	// ends the connection meanwhile finds the spool at a frame boundary,
	// with room for the close frame.
	if c.spool != nil {
		if err := c.spool.waitRoom(connContext, c.sub.done); errors.Is(err, errWriteStalled) {
			return websocket.StatusPolicyViolation, "write timeout"
		}
	}
	if err := c.sub.Err(); err != nil {
		return c.closeFor(err)
	}
	data, err := d.encode()
	if err != nil {
		c.h.svc.log.Error("chat: encoding event", "err", err)
		return websocket.StatusInternalError, "internal error"
	}
	if err := c.writeFrame(connContext, data); err != nil {
		if s := websocket.CloseStatus(err); s != -1 {
			return s, ""
		}
		return websocket.StatusPolicyViolation, "write timeout"
	}
	c.observeDelivered(d)
	return 0, ""
}

// closeFor says how to close the connection of a subscription that ended
// with err.
func (c *wsConn) closeFor(err error) (websocket.StatusCode, string) {
	switch {
	case errors.Is(err, errTooManyFrames):
		return websocket.StatusPolicyViolation, "too many frames"
	case errors.Is(err, ErrSlowConsumer):
		return CloseSlowConsumer, "slow consumer: send queue full"
	case errors.Is(err, ErrUnavailable):
		return websocket.StatusTryAgainLater, "backend unavailable, reconnect later"
	case errors.Is(err, ErrClosed) && c.h.svc.checkOpen() != nil:
		return websocket.StatusGoingAway, "server shutting down"
	case errors.Is(err, ErrClosed):
		return websocket.StatusNormalClosure, ""
	default:
		c.h.svc.log.Error("chat: subscription failed", "user_id", c.user, "err", err)
		return websocket.StatusInternalError, "internal error"
	}
}

func (c *wsConn) writeFrame(ctx context.Context, data []byte) error {
	if c.spool != nil {
		// The spool takes the frame at once and never waits for the
		// client (send waited for room, and the spool enforces
		// WriteTimeout on the socket itself), so a deadline here could
		// never fire. connContext, which cannot end, also spares the
		// library a timer and an AfterFunc per frame, most of the
		// allocations of a delivery.
		return c.conn.Write(connContext, websocket.MessageText, data)
	}
	ctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, data)
}

func (c *wsConn) writeError(ctx context.Context, err error) {
	_, code, msg := errorStatus(err)
	data, _ := json.Marshal(errorFrame{Type: "error", Code: code, Message: msg})
	if werr := c.writeFrame(ctx, data); werr != nil {
		c.h.svc.log.Debug("chat: writing error frame", "err", werr)
	}
}
