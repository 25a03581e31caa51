//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/embedchat/chat"
)

// requestTimeout bounds one HTTP attempt; retried calls take several.
const requestTimeout = 15 * time.Second

// apiError is an answer other than 2xx.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// retryable reports whether another attempt, maybe on another node, can
// succeed: the node is gone or the backend is down.
func retryable(err error) bool {
	s := statusOf(err)
	return err != nil && (s == 0 || s >= 500)
}

// call makes one REST request as user to a live node, chosen at random,
// and decodes a 2xx answer into out.
func (s *sim) call(ctx context.Context, user, method, path string, body, out any) (int, error) {
	live := s.cl.liveNodes()
	if len(live) == 0 {
		return 0, errNoNode
	}
	n := s.cl.nodes[live[s.rng.IntN(len(live))]]
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+n.address()+"/api/v1"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-User", user)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, &apiError{status: resp.StatusCode, body: string(bytes.TrimSpace(data))}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding %q: %w", method, path, data, err)
		}
	}
	return resp.StatusCode, nil
}

// callRetrying is call, tried again while nodes are down or the backend is
// unavailable, until patience runs out. Callers make their requests
// idempotent where it matters (a send's client_id).
func (s *sim) callRetrying(ctx context.Context, patience time.Duration, user, method, path string, body, out any) (int, error) {
	deadline := time.Now().Add(patience)
	wait := 100 * time.Millisecond
	for {
		status, err := s.call(ctx, user, method, path, body, out)
		if !retryable(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return status, err
		}
		s.count(&s.counts.retries)
		select {
		case <-ctx.Done():
			return status, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// record is one thing a connection saw, in the order it saw it: an event,
// or the answer of a REST read the client made because of one (an anchor).
type record struct {
	at   time.Duration // since the run started
	typ  chat.EventType
	chat string
	seq  int64
	user string // of member, typing and read events
	// anchor is the chat's last_seq read over REST after a resync (ref
	// is the index of that resync record) or after resumed (ref -1).
	anchor   int64
	isAnchor bool
	ref      int
}

// connLog is one WebSocket connection: what it resumed from and what it
// received.
type connLog struct {
	id     int
	user   string
	node   int
	start  time.Duration
	listed map[string]int64

	mu          sync.Mutex
	recs        []record
	end         time.Duration
	closeStatus websocket.StatusCode
}

func (c *connLog) add(r record) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
	return len(c.recs) - 1
}

// closedAtEnd is the close status of a connection the run closed as it
// ended.
const closedAtEnd websocket.StatusCode = -2

// device is one user's client: it keeps per-chat positions across its
// connections, as a real client does, and reconnects whenever its
// connection ends.
type device struct {
	s      *sim
	user   string
	pinned int // the node it always connects to, or -1 for any

	mu          sync.Mutex
	pos         map[string]int64
	maybeRetell map[string]bool // chat.created seen: a replay from seq 1 may follow
	gotLive     map[string]bool // chats with persisted events on this connection
	conn        *websocket.Conn
	log         *connLog
	ready       bool // resumed, and the chat list read after it
	offline     time.Duration
}

func newDevice(s *sim, user string, pinned int) *device {
	return &device{s: s, user: user, pinned: pinned,
		pos: make(map[string]int64), maybeRetell: make(map[string]bool), gotLive: make(map[string]bool)}
}

// run connects, resumes and reads until ctx ends, reconnecting with
// backoff and jitter.
func (d *device) run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		resumed := d.session(ctx)
		d.mu.Lock()
		pause := d.offline
		d.offline = 0
		d.mu.Unlock()
		if resumed {
			wait = 100 * time.Millisecond
		} else {
			pause = max(pause, time.Duration(d.s.rng.Int64N(int64(wait))))
			wait = min(2*wait, 2*time.Second)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// session is one connection; it reports whether the resume completed.
func (d *device) session(ctx context.Context) bool {
	nodeID := d.pinned
	if nodeID < 0 {
		live := d.s.cl.liveNodes()
		if len(live) == 0 {
			return false
		}
		nodeID = live[d.s.rng.IntN(len(live))]
	}
	addr := d.s.cl.nodes[nodeID].address()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/api/v1/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-User": {d.user}},
	})
	cancel()
	if err != nil {
		d.s.count(&d.s.counts.dialErrors)
		return false
	}
	conn.SetReadLimit(4 << 20)
	defer conn.CloseNow()

	// Every chat the run knows is listed: the user's own from its
	// positions, the others so that the server must skip them.
	positions := make(map[string]int64)
	for _, id := range d.s.knownChats() {
		positions[id] = 0
	}
	d.mu.Lock()
	for id, p := range d.pos {
		positions[id] = p
	}
	clog := d.s.newConnLog(d.user, nodeID, positions)
	d.conn, d.log, d.ready = conn, clog, false
	clear(d.maybeRetell)
	clear(d.gotLive)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.conn, d.log, d.ready = nil, nil, false
		d.mu.Unlock()
		clog.mu.Lock()
		clog.end = d.s.since()
		clog.mu.Unlock()
	}()
	frame, _ := json.Marshal(map[string]any{"type": "resume", "positions": positions})
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return false
	}

	var helpers sync.WaitGroup
	defer helpers.Wait()
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	resumed := false
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			clog.mu.Lock()
			clog.closeStatus = websocket.CloseStatus(err)
			if ctx.Err() != nil {
				clog.closeStatus = closedAtEnd
			}
			clog.mu.Unlock()
			return resumed
		}
		var ev chat.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			d.s.count(&d.s.counts.badFrames)
			continue
		}
		i := clog.add(record{at: d.s.since(), typ: ev.Type, chat: ev.ChatID, seq: ev.Seq, user: ev.UserID})
		switch ev.Type {
		case chat.EventResumed:
			resumed = true
			helpers.Add(1)
			go func() {
				defer helpers.Done()
				d.anchorChats(hctx, clog)
			}()
		case chat.EventResync:
			helpers.Add(1)
			go func() {
				defer helpers.Done()
				d.refetch(hctx, clog, ev.ChatID, i)
			}()
		case chat.EventChatCreated:
			d.mu.Lock()
			d.maybeRetell[ev.ChatID] = true
			d.mu.Unlock()
		case chat.EventTyping, chat.EventRead, "error":
		default:
			if ev.Seq > 0 {
				d.advance(ev.ChatID, ev.Seq)
			}
		}
	}
}

// advance moves the chat's position to seq: forward, or back to 1 when a
// chat.created is followed by the chat's replay from its first event.
func (d *device) advance(chatID string, seq int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.maybeRetell[chatID] && seq == 1 {
		d.pos[chatID] = 1
	}
	delete(d.maybeRetell, chatID)
	d.gotLive[chatID] = true
	if seq > d.pos[chatID] {
		d.pos[chatID] = seq
	}
}

// anchorChats lists the user's chats after resumed. A chat that was not
// in the resume (created or joined meanwhile) gets live events only, from
// no later than the last_seq read here, which the check holds it to.
func (d *device) anchorChats(ctx context.Context, clog *connLog) {
	var page struct {
		Chats []chat.Chat `json:"chats"`
	}
	_, err := d.s.callRetrying(ctx, 10*time.Second, d.user, http.MethodGet, "/chats?limit=200", nil, &page)
	if ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == clog {
		// Without the list the check of unlisted chats is weaker, but the
		// connection is as ready as it will get.
		d.ready = true
	}
	if err != nil {
		return
	}
	for _, c := range page.Chats {
		if _, listed := clog.listed[c.ID]; listed {
			continue
		}
		clog.add(record{at: d.s.since(), chat: c.ID, isAnchor: true, anchor: c.LastSeq, ref: -1})
		// Live events already seen set the position; a later loss must
		// not be hidden behind the anchor.
		if !d.gotLive[c.ID] && c.LastSeq > d.pos[c.ID] {
			d.pos[c.ID] = c.LastSeq
		}
	}
}

// refetch answers a resync as docs/protocol.md tells clients to: fetch the
// chat and its newest messages over REST, and take last_seq as the
// position.
func (d *device) refetch(ctx context.Context, clog *connLog, chatID string, ref int) {
	d.s.count(&d.s.counts.resyncs)
	var c chat.Chat
	_, err := d.s.callRetrying(ctx, 10*time.Second, d.user, http.MethodGet, "/chats/"+chatID, nil, &c)
	if err != nil {
		return // removed meanwhile, or the run is ending
	}
	var page chat.MessagePage
	_, _ = d.s.callRetrying(ctx, 10*time.Second, d.user, http.MethodGet, "/chats/"+chatID+"/messages", nil, &page)
	d.mu.Lock()
	defer d.mu.Unlock()
	clog.add(record{at: d.s.since(), chat: chatID, isAnchor: true, anchor: c.LastSeq, ref: ref})
	if c.LastSeq > d.pos[chatID] {
		d.pos[chatID] = c.LastSeq
	}
}

// typing sends a typing frame on the current connection, if any.
func (d *device) typing(ctx context.Context, chatID string) bool {
	d.mu.Lock()
	conn, ready := d.conn, d.ready
	d.mu.Unlock()
	if conn == nil || !ready {
		return false
	}
	frame, _ := json.Marshal(map[string]string{"type": "typing", "chat_id": chatID})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, frame) == nil
}

// disconnect closes the current connection normally and stays offline for
// a while, as a phone losing its network would.
func (d *device) disconnect(offline time.Duration) bool {
	d.mu.Lock()
	conn := d.conn
	d.offline = offline
	d.mu.Unlock()
	if conn == nil {
		return false
	}
	return conn.Close(websocket.StatusNormalClosure, "chatsoak reconnects") == nil
}

func (d *device) position(chatID string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pos[chatID]
}

func (d *device) isReady() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}
