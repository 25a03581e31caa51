package chat

import (
	"bufio"
	"bytes"
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

// spoolBuffers holds the buffers of spools gone idle, for the next burst
// of any connection: an idle connection keeps none.
var spoolBuffers sync.Pool // of *[]byte

// spoolPiece is the most the spool writes to the socket at once: the
// client must take each piece within WriteTimeout.
const spoolPiece = 16 << 10

// wsBufferSize is the size of the read and write buffers the WebSocket
// library gets for a connection, which it keeps as long as the connection
// lives. Client frames are small (a typing frame is about 50 bytes; larger
// ones are read past the buffer), and writes go to the spool, which holds
// whole frames anyway: net/http's 4 KiB buffers would mostly be an idle
// connection's memory.
const wsBufferSize = 256

// spoolConn is a net.Conn whose writes go to the spool. Its pump
// goroutine runs only while there is something to write, and it lets its
// buffers go when done, so an idle connection costs no goroutine and no
// buffer.
type spoolConn struct {
	net.Conn
	timeout time.Duration // for the client to take one piece; also the linger
	onStall func()        // called once stalled is closed, if set
	stall   sync.Once
	pumps   sync.WaitGroup
	unread  []byte // what the HTTP server had read past the handshake; reader only

	mu sync.Mutex
	// room and stalled are made with the first pump: a connection that
	// never wrote needs neither.
	room     chan struct{} // the pump wrote a piece
	stalled  chan struct{} // closed when a piece took longer than timeout
	buf      []byte        // written, not yet taken by the pump
	spare    []byte
	inflight int // bytes the pump has taken and not yet written
	pumping  bool
	closed   bool
	err      error // the socket's write error, if any
	watchdog *time.Timer
}

func newSpoolConn(c net.Conn, timeout time.Duration, onStall func()) *spoolConn {
	return &spoolConn{Conn: c, timeout: timeout, onStall: onStall}
}

// Read returns what the HTTP server had read past the handshake first.
func (s *spoolConn) Read(p []byte) (int, error) {
	if len(s.unread) > 0 {
		n := copy(p, s.unread)
		s.unread = s.unread[n:]
		if len(s.unread) == 0 {
			s.unread = nil
		}
		return n, nil
	}
	return s.Conn.Read(p)
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
	if s.buf == nil {
		if b, ok := spoolBuffers.Get().(*[]byte); ok {
			s.buf = (*b)[:0]
		}
	}
	s.buf = append(s.buf, p...)
	if !s.pumping {
		if s.room == nil {
			s.room = make(chan struct{}, 1)
			s.stalled = make(chan struct{})
		}
		s.pumping = true
		s.pumps.Add(1)
		go s.pump()
	}
	return len(p), nil
}

// Close stops reads at once. The socket is closed now if nothing is left
// to write, else by the pump once it has written what is spooled, or
// after the timeout.
func (s *spoolConn) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	pumping := s.pumping
	s.mu.Unlock()
	if !pumping {
		return s.Conn.Close()
	}
	_ = s.Conn.SetReadDeadline(time.Now())
	_ = s.Conn.SetWriteDeadline(time.Now().Add(s.timeout))
	return nil
}

// wait waits for the pump to finish.
func (s *spoolConn) wait() { s.pumps.Wait() }

// isStalled reports whether a piece took the client longer than the
// timeout.
func (s *spoolConn) isStalled() bool {
	s.mu.Lock()
	stalled := s.stalled
	s.mu.Unlock()
	select {
	case <-stalled:
		return true
	default:
		return false
	}
}

// pump writes the spool to the socket until it is empty.
func (s *spoolConn) pump() {
	defer s.pumps.Done()
	s.mu.Lock()
	if s.watchdog == nil {
		s.watchdog = time.AfterFunc(time.Hour, func() {
			s.stall.Do(func() {
				close(s.stalled)
				if s.onStall != nil {
					s.onStall()
				}
			})
		})
		s.watchdog.Stop()
	}
	watchdog := s.watchdog
	for {
		chunk := s.buf
		s.buf, s.spare = s.spare[:0], nil
		if len(chunk) == 0 {
			if b := s.buf; cap(b) > 0 {
				spoolBuffers.Put(&b)
			}
			s.buf = nil
			s.pumping = false
			closed := s.closed
			s.mu.Unlock()
			if closed {
				s.Conn.Close()
			}
			return
		}
		s.inflight = len(chunk)
		s.mu.Unlock()
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
			s.buf = nil
			s.pumping = false
			s.mu.Unlock()
			s.Conn.Close()
			return
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
		s.mu.Lock()
		pending, failed, room, stalled := len(s.buf)+s.inflight, s.err != nil, s.room, s.stalled
		s.mu.Unlock()
		if pending <= spoolWatermark || failed {
			return nil
		}
		select {
		case <-room:
		case <-stalled:
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
	onStall func() // see spoolConn.onStall
	spool   *spoolConn
}

func (w *spoolingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeaderNow passes on gin's way of sending a status line at once:
// websocket.Accept calls it before hijacking, since gin holds the 101
// back otherwise and the handshake never completes.
func (w *spoolingWriter) WriteHeaderNow() {
	if g, ok := w.ResponseWriter.(interface{ WriteHeaderNow() }); ok {
		g.WriteHeaderNow()
	}
}

func (w *spoolingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The library writes through the Writer we return: it goes to the
	// spool, after whatever the server had buffered for the socket.
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.spool = newSpoolConn(conn, w.timeout, w.onStall)
	// The library reads through the Reader we return, which it points at
	// the connection after taking what is buffered in it: the server's
	// bytes read past the handshake are the spool's to return first, so
	// that smaller buffers than the server's can take its place.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		w.spool.unread = bytes.Clone(b)
	}
	return w.spool, bufio.NewReadWriter(bufio.NewReaderSize(w.spool, wsBufferSize), bufio.NewWriterSize(w.spool, wsBufferSize)), nil
}
