// Package redistest starts private redis-server processes for tests that
// need to break them: kill and restart a server, or run a Redis Cluster.
//
// Tests that only need a working Redis use the shared one found by
// internal/testenv instead; these helpers are for fault injection and
// cluster topologies that a shared server cannot provide. Every process is
// started in a temporary directory, without persistence, and killed when
// the test (or, for NewCluster, the caller) is done with it. When
// redis-server or redis-cli is not installed the Start functions call
// testenv.Unavailable.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat/internal/testenv"
)

// ErrNotInstalled means redis-server or redis-cli is not on PATH.
var ErrNotInstalled = errors.New("redistest: redis-server or redis-cli not found on PATH")

// startTimeout bounds how long a server may take to answer PING, and a
// cluster to reach cluster_state:ok.
const startTimeout = 20 * time.Second

// Server is one redis-server process listening on 127.0.0.1. Its methods
// are safe for concurrent use.
type Server struct {
	port int
	dir  string
	args []string

	mu      sync.Mutex
	proc    *process
	clients []*redis.Client
}

// StartServer starts a redis-server on a free port, with extra passed as
// additional command-line arguments (for example "--maxmemory", "1mb"), and
// waits until it answers PING. The server and the clients made by Client
// are shut down in t.Cleanup.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	if err := checkInstalled(); err != nil {
		testenv.Unavailable(t, "%v", err)
		return nil
	}
	s, err := newServer(t.TempDir(), extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a redis-server as StartServer does, for programs that are
// not tests (such as a soak tool): it keeps its files in dir, and the
// caller must Close it.
func Start(dir string, extra ...string) (*Server, error) {
	if err := checkInstalled(); err != nil {
		return nil, err
	}
	return newServer(dir, extra)
}

// newServer starts a server in dir on a free port. A port that another
// process takes between the probe and redis-server's bind makes the start
// fail, so it tries a few ports.
func newServer(dir string, extra []string) (*Server, error) {
	var err error
	for range 5 {
		var port int
		if port, err = freePort(); err != nil {
			continue
		}
		s := &Server{port: port, dir: dir, args: extra}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a new client of the server, closed with the server.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it
// to exit. Clients see their connections reset.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart starts the server again on the same port, after Kill, and waits
// until it answers PING. The data set starts empty.
func (s *Server) Restart() error {
	s.Kill()
	// The old process's port can stay in use for a moment after it exits.
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("redistest: server is not running")
	}
	return s.proc.cmd.Process.Signal(sig)
}

// Close closes the clients made by Client and kills the server. It is
// called by t.Cleanup for servers made by StartServer.
func (s *Server) Close() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	// SIGKILL ends a paused (stopped) process too, so no Resume is needed.
	s.Kill()
}

func (s *Server) start() error {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return ErrNotInstalled
	}
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", "redis.log",
	}, s.args...)
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	if err := waitReady(p, s.Addr()); err != nil {
		p.kill()
		return fmt.Errorf("redistest: redis-server on port %d: %w; log:\n%s", s.port, err, tail(filepath.Join(s.dir, "redis.log")))
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// process is a started command and the channel that is closed once it has
// exited.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// waitReady polls addr with PING until the server answers, or fails when
// the process exits (typically because the port was taken) or startTimeout
// passes.
func waitReady(p *process, addr string) error {
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		DialTimeout: time.Second,
		MaxRetries:  -1,
	})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("exited before answering PING")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %v: %w", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkInstalled() error {
	for _, name := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(name); err != nil {
			return ErrNotInstalled
		}
	}
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of the file at path, for error messages.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
