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

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

// BenchmarkIdleWebSocketMemory reports the memory a resumed, idle
// WebSocket connection holds on the server (heap in use plus goroutine
// stacks, after a GC), each user a member of one chat. The clients are raw
// TCP connections speaking just enough WebSocket to resume, so that they
// add little of their own; their cost (a socket pair held without
// goroutines) is measured apart and subtracted.
func BenchmarkIdleWebSocketMemory(b *testing.B) {
	const conns = 1000
	ctx := context.Background()
	for range b.N {
		svc := chattest.NewService(b, chat.Config{})
		srv := httptest.NewServer(chat.NewWebSocketHandler(svc, chat.WebSocketConfig{Authenticate: chattest.HeaderAuth}))
		for i := range conns {
			user := fmt.Sprint("user", i)
			if _, _, err := svc.CreateChat(ctx, user, chat.CreateChatRequest{Kind: chat.KindGroup}); err != nil {
				b.Fatal(err)
			}
		}
		before := memInUse()
		clients := make([]net.Conn, conns)
		for i := range clients {
			clients[i] = rawResume(b, srv.Listener.Addr().String(), fmt.Sprint("user", i))
		}
		after := memInUse()
		pairs := socketPairCost(b, conns)
		b.ReportMetric(float64(after-before-pairs)/conns, "B/conn")
		for _, c := range clients {
			c.Close()
		}
		srv.Close()
	}
}

func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
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
	before := memInUse()
	conns := make([]net.Conn, 0, 2*n)
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c, <-accepted)
	}
	cost := memInUse() - before
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
