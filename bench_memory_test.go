package chat_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// BenchmarkIdleWebSocketMemory reports the memory a resumed, idle
// WebSocket connection holds on the server (heap in use plus goroutine
// stacks, after a GC), each user a member of one chat, beside two floors
// measured the same way: a bare coder/websocket server that answers the
// resume and keeps a reader and a writer goroutine per connection (the
// usual shape, with the handler running the writer), and one that keeps
// only a reader goroutine. The clients are raw TCP connections speaking
// just enough WebSocket to resume, so that they add little of their own;
// their cost (a socket pair held without goroutines) is measured apart and
// subtracted.
func BenchmarkIdleWebSocketMemory(b *testing.B) {
	const conns = 1000
	b.Run("server=chat", func(b *testing.B) {
		for range b.N {
			svc := chattest.NewService(b, chat.Config{})
			ctx := context.Background()
			for i := range conns {
				user := fmt.Sprint("user", i)
				if _, _, err := svc.CreateChat(ctx, user, chat.CreateChatRequest{Kind: chat.KindGroup}); err != nil {
					b.Fatal(err)
				}
			}
			h := chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: chattest.HeaderAuth})
			idleMemory(b, h, conns)
		}
	})
	b.Run("server=coder-websocket-reader-writer", func(b *testing.B) {
		for range b.N {
			idleMemory(b, bareWebSocket(true), conns)
		}
	})
	b.Run("server=coder-websocket-reader-only", func(b *testing.B) {
		for range b.N {
			idleMemory(b, bareWebSocket(false), conns)
		}
	})
}

// idleMemory reports what each of n resumed, idle connections to h holds
// on the server (B/conn), and the part of it that is goroutine stacks.
func idleMemory(b *testing.B, h http.Handler, n int) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	before, stacksBefore := memInUse()
	clients := make([]net.Conn, n)
	for i := range clients {
		clients[i] = rawResume(b, srv.Listener.Addr().String(), fmt.Sprint("user", i))
	}
	after, stacksAfter := memInUse()
	pairs := socketPairCost(b, n)
	for _, c := range clients {
		c.Close()
	}
	b.ReportMetric(float64(after-before-pairs)/float64(n), "B/conn")
	b.ReportMetric(float64(stacksAfter-stacksBefore)/float64(n), "stack-B/conn")
}

// bareWebSocket is a coder/websocket server that answers the first frame
// with a resumed event. With writer, its handler then runs a writer loop
// fed by a channel while a goroutine reads; without, the handler returns
// and a goroutine reads.
func bareWebSocket(writer bool) http.Handler {
	resumed := []byte(`{"type":"resumed"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx := context.Background()
		if _, _, err := c.Read(ctx); err != nil {
			c.CloseNow()
			return
		}
		if err := c.Write(ctx, websocket.MessageText, resumed); err != nil {
			c.CloseNow()
			return
		}
		out := make(chan []byte, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					c.CloseNow()
					return
				}
			}
		}()
		if !writer {
			return
		}
		for {
			select {
			case data := <-out:
				if err := c.Write(ctx, websocket.MessageText, data); err != nil {
					return
				}
			case <-done:
				return
			}
		}
	})
}

// memInUse returns the heap in use plus goroutine stacks after a GC, and
// the stacks alone.
func memInUse() (total, stacks int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse), int64(m.StackInuse)
}

// socketPairCost returns what n connected TCP socket pairs hold, with no
// goroutine reading them: the part of the measure that is not the SDK's.
func socketPairCost(b *testing.B, n int) int64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	before, _ := memInUse()
	conns := make([]net.Conn, 0, 2*n)
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c, <-accepted)
	}
	after, _ := memInUse()
	cost := after - before
	for _, c := range conns {
		c.Close()
	}
	return cost
}

// rawResume opens a WebSocket as user over a bare TCP connection, sends a
// resume frame and waits for the resumed event.
func rawResume(b *testing.B, addr, user string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s: %s\r\n\r\n",
		addr, base64.StdEncoding.EncodeToString(key), chattest.UserHeader, user)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v %v", resp, err)
	}
	payload, _ := json.Marshal(map[string]any{"type": "resume", "positions": map[string]int64{}})
	frame := []byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0} // FIN text, masked with a zero key
	if _, err := c.Write(append(frame, payload...)); err != nil {
		b.Fatal(err)
	}
	for {
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil {
			b.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			ext := make([]byte, 2)
			io.ReadFull(br, ext)
			n = int(ext[0])<<8 | int(ext[1])
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(br, data); err != nil {
			b.Fatal(err)
		}
		if strings.Contains(string(data), `"resumed"`) {
			return c
		}
	}
}
