//go:build unix

package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// delayProxy forwards TCP connections from a node to a backend, and can
// hold the backend's replies back, as a slow or congested link does. The
// link-delay fault slows one node's links this way, which is when the
// races between nodes show (issue 9: a Redis link 80 ms slow, a
// PostgreSQL link 40 ms slow).
type delayProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64 // nanoseconds added to every reply

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startProxy(target string) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

func (p *delayProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// close stops accepting, cuts every connection and waits for the
// forwarding goroutines.
func (p *delayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c, or closes it when the proxy is closed.
func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *delayProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

// serve forwards one connection: requests as they come, replies each
// held back by the delay at the time it arrived, in order.
func (p *delayProxy) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(server) {
		p.untrack(client)
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(server, client)
		done <- struct{}{}
	}()
	go func() {
		p.delayed(client, server)
		done <- struct{}{}
	}()
	<-done
	// One side ended: end the other, as the backend or the node would
	// see a broken link.
	p.untrack(client, server)
	<-done
}

// delayed copies src to dst, each chunk written once the delay it met on
// arrival has passed.
func (p *delayProxy) delayed(dst, src net.Conn) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(time.Duration(p.delay.Load())), append([]byte(nil), buf[:n]...)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if wait := time.Until(c.due); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close() // unblocks the reader, which closes chunks
			for range chunks {
			}
			return
		}
	}
}
