package chat

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// A WebSocket library writes frames straight to the socket, so a client
// that stops reading leaves the server blocked in the middle of a frame;
// the only way out is to drop the TCP connection, and the client never
// learns the close code. The spool sits between the library and the socket
// instead: the library's writes land in memory at once, whole frames, and
// one goroutine copies them to the socket as fast as the client reads. The
// WebSocket writer waits while more than spoolWatermark bytes are
// unwritten, so it notices a client falling behind (its queue overflows,
// or WriteTimeout passes) while the close frame can still go right after
// the last whole frame. The client gets it once it reads what came before.

// spoolWatermark is how many unwritten bytes the spool takes before the
// WebSocket writer waits. It bounds, with one frame, the memory a
// connection of a stalled client holds.
const spoolWatermark = 64 << 10

// spoolKeep is the largest buffer the spool keeps for reuse; larger ones,
// grown by a burst, go back to the garbage collector.
const spoolKeep = 8 << 10

// spoolPiece is the most the spool writes to the socket at once: the
// client must take each piece within WriteTimeout.
const spoolPiece = 16 << 10

// spoolConn is a net.Conn whose writes go to the spool.
type spoolConn struct {
	net.Conn
	timeout time.Duration // for the client to take one piece; also the linger
	ready   chan struct{} // data or a close waits for the pump
	room    chan struct{} // the pump wrote a piece
	stalled chan struct{} // closed when a piece took longer than timeout
	done    chan struct{} // closed when the pump has closed the socket
	stall   sync.Once

	mu       sync.Mutex
	buf      []byte // written, not yet taken by the pump
	spare    []byte
	inflight int // bytes the pump has taken and not yet written
	closed   bool
	err      error // the socket's write error, if any
}

func newSpoolConn(c net.Conn, timeout time.Duration) *spoolConn {
	s := &spoolConn{
		Conn:    c,
		timeout: timeout,
		ready:   make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		stalled: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.pump()
	return s
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Write queues p for the socket; it never waits for the client.
func (s *spoolConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, net.ErrClosed
	}
	s.buf = append(s.buf, p...)
	signal(s.ready)
	return len(p), nil
}

// Close stops reads at once, and lets the pump write what is spooled
// within the timeout before it closes the socket.
func (s *spoolConn) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.Conn.SetReadDeadline(time.Now())
	_ = s.Conn.SetWriteDeadline(time.Now().Add(s.timeout))
	signal(s.ready)
	return nil
}

// pending returns the bytes not yet written to the socket.
func (s *spoolConn) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) + s.inflight
}

// failed reports whether the socket refused a write.
func (s *spoolConn) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

func (s *spoolConn) pump() {
	defer close(s.done)
	defer s.Conn.Close()
	watchdog := time.AfterFunc(time.Hour, func() { s.stall.Do(func() { close(s.stalled) }) })
	watchdog.Stop()
	for range s.ready {
		for {
			s.mu.Lock()
			chunk := s.buf
			s.buf, s.spare = s.spare[:0], nil
			s.inflight = len(chunk)
			closed := s.closed
			s.mu.Unlock()
			if len(chunk) == 0 {
				if closed {
					return
				}
				break
			}
			var err error
			for rest := chunk; len(rest) > 0 && err == nil; {
				n := min(len(rest), spoolPiece)
				watchdog.Reset(s.timeout)
				_, err = s.Conn.Write(rest[:n])
				watchdog.Stop()
				rest = rest[n:]
				s.mu.Lock()
				s.inflight = len(rest)
				s.mu.Unlock()
				signal(s.room)
			}
			s.mu.Lock()
			s.inflight = 0
			if cap(chunk) <= spoolKeep {
				s.spare = chunk[:0]
			}
			if err != nil {
				s.err = err
			}
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// errWriteStalled means the client read nothing for WriteTimeout.
var errWriteStalled = errors.New("chat: websocket write stalled")

// waitRoom waits until the spool holds at most spoolWatermark unwritten
// bytes. It fails with errWriteStalled if the client stopped taking them,
// and returns early without error when stop is closed.
func (s *spoolConn) waitRoom(ctx context.Context, stop <-chan struct{}) error {
	for {
		if s.pending() <= spoolWatermark || s.failed() {
			return nil
		}
		select {
		case <-s.room:
		case <-s.stalled:
			return errWriteStalled
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// spoolingWriter hands the WebSocket library a spoolConn when it hijacks
// the connection.
type spoolingWriter struct {
	http.ResponseWriter
	timeout time.Duration
	spool   *spoolConn
}

func (w *spoolingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *spoolingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The library writes through brw.Writer: point it at the spool,
	// after whatever the server had buffered for the socket.
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.spool = newSpoolConn(conn, w.timeout)
	brw.Writer.Reset(w.spool)
	return w.spool, brw, nil
}
