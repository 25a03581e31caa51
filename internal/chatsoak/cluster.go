//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver of the run's database

	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/postgres"
)

// startTimeout bounds how long a node may take to serve after it starts.
const startTimeout = 2 * time.Minute

// cluster is what a run owns: a fresh database on the shared PostgreSQL
// server, a private redis-server, and the example server processes.
type cluster struct {
	dir     string
	dbName  string
	app     string // prefix of the application_name of every session of the run
	admin   *sqlx.DB
	db      *sqlx.DB // the tool's own small pool on the run's database
	store   *postgres.Store
	redis   *redistest.Server
	bin     string
	nodes   []*node
	cleanup []func()
}

// startCluster creates the database, starts Redis, builds the example
// server unless bin is given, and starts n nodes. On error everything
// started so far is stopped.
func startCluster(ctx context.Context, cfg config, dir string) (_ *cluster, err error) {
	c := &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	var b [5]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.dbName = "chatsoak_" + id
	c.app = "chatsoak_" + id

	// The admin pool creates and drops the database and terminates the
	// nodes' sessions; it never touches another database's sessions.
	if c.admin, err = sqlx.Open("postgres", cfg.PostgresURL); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c.admin.SetMaxOpenConns(2)
	c.cleanup = append(c.cleanup, func() { c.admin.Close() })
	if _, err = c.admin.ExecContext(ctx, "CREATE DATABASE "+c.dbName); err != nil {
		return nil, fmt.Errorf("postgres: create database: %w", err)
	}
	c.cleanup = append(c.cleanup, func() {
		// A DROP DATABASE waits for a checkpoint, which takes long on a
		// busy server.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := c.admin.ExecContext(ctx, "DROP DATABASE "+c.dbName+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "chatsoak: drop database %s: %v\n", c.dbName, err)
		}
	})
	toolURL, err := c.databaseURL(cfg.PostgresURL, "tool")
	if err != nil {
		return nil, err
	}
	if c.db, err = sqlx.Open("postgres", toolURL); err != nil {
		return nil, err
	}
	c.db.SetMaxOpenConns(4)
	c.cleanup = append(c.cleanup, func() { c.db.Close() })
	// Migrating once here spares the nodes from racing for the lock.
	if err = postgres.Migrate(ctx, c.db, postgres.Config{}); err != nil {
		return nil, err
	}
	if c.store, err = postgres.New(c.db, postgres.Config{}); err != nil {
		return nil, err
	}

	redisDir := filepath.Join(dir, "redis")
	if err = os.MkdirAll(redisDir, 0o755); err != nil {
		return nil, err
	}
	if c.redis, err = redistest.Start(redisDir); err != nil {
		return nil, err
	}
	c.cleanup = append(c.cleanup, c.redis.Close)

	c.bin = cfg.ServerBin
	if c.bin == "" {
		if c.bin, err = buildServer(ctx, dir); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Nodes {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		nodeURL, err := c.databaseURL(cfg.PostgresURL, "n"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		// Each node reaches PostgreSQL and Redis through proxies of its
		// own, so that one node's links can be slowed.
		pgProxy, err := startProxy(pgAddr(nodeURL))
		if err != nil {
			return nil, err
		}
		c.cleanup = append(c.cleanup, pgProxy.close)
		redisProxy, err := startProxy(c.redis.Addr())
		if err != nil {
			return nil, err
		}
		c.cleanup = append(c.cleanup, redisProxy.close)
		u, _ := url.Parse(nodeURL)
		u.Host = pgProxy.addr()
		nodeURL = u.String()
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return nil, err
		}
		c.cleanup = append(c.cleanup, func() { logf.Close() })
		n := &node{
			id:         i,
			addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			log:        logf,
			pgProxy:    pgProxy,
			redisProxy: redisProxy,
		}
		n.args = []string{"-postgres", nodeURL, "-redis", "redis://" + redisProxy.addr()}
		c.nodes = append(c.nodes, n)
		c.cleanup = append(c.cleanup, n.stop)
	}
	for _, n := range c.nodes {
		if err := n.start(ctx, c.bin); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// databaseURL is base pointed at the run's database, its sessions named
// after the run and role so that faults can find them.
func (c *cluster) databaseURL(base, role string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("postgres url: %w", err)
	}
	u.Path = "/" + c.dbName
	q := u.Query()
	q.Set("application_name", c.app+"_"+role)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close stops the nodes and Redis and drops the database, in reverse order
// of creation.
func (c *cluster) close() {
	for i := len(c.cleanup) - 1; i >= 0; i-- {
		c.cleanup[i]()
	}
	c.cleanup = nil
}

// terminateNodeSessions ends every PostgreSQL session of the nodes, as a
// database failover or a network cut would, and returns how many it ended.
func (c *cluster) terminateNodeSessions(ctx context.Context) (int, error) {
	var n int
	err := c.admin.GetContext(ctx, &n,
		`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE datname = $1 AND starts_with(application_name, $2)`, c.dbName, c.app+"_n")
	return n, err
}

// sessions counts the run's PostgreSQL sessions, the tool's own included.
func (c *cluster) sessions(ctx context.Context) (int, error) {
	var n int
	err := c.admin.GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, c.dbName)
	return n, err
}

// pgAddr is the host:port of a PostgreSQL URL.
func pgAddr(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "5432")
}

// liveNodes returns the indexes of the nodes that are serving.
func (c *cluster) liveNodes() []int {
	var live []int
	for _, n := range c.nodes {
		if n.isUp() {
			live = append(live, n.id)
		}
	}
	return live
}

// buildServer builds examples/server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build examples/server: %w (or pass -server)", err)
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/embedchat/chat/examples/server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build examples/server: %w\n%s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// node is one examples/server process, started again on the same address
// after it is killed.
type node struct {
	id   int
	args []string // but -addr
	log  *os.File
	// The node's links to the backends.
	pgProxy, redisProxy *delayProxy

	mu     sync.Mutex
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	up     bool
}

func (n *node) isUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// start runs the server and waits until it answers HTTP. A port still held
// by the killed process makes the server exit at once; start then tries
// again until startTimeout. A port that another process took keeps the
// server from starting on it, so after a few tries it moves to a new one.
func (n *node) start(ctx context.Context, bin string) error {
	deadline := time.Now().Add(startTimeout)
	for attempt := 1; ; attempt++ {
		err := n.startOnce(ctx, bin, deadline)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if attempt%5 == 0 {
			if port, err := freePort(); err == nil {
				n.mu.Lock()
				n.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
				n.mu.Unlock()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// address is where the node listens; it changes only if its port was
// taken while it was down.
func (n *node) address() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

func (n *node) startOnce(ctx context.Context, bin string, deadline time.Time) error {
	addr := n.address()
	cmd := exec.Command(bin, append([]string{"-addr", addr}, n.args...)...)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %d: %w", n.id, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/chats?limit=1", nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-User", "chatsoak-ready")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				n.mu.Lock()
				n.up = true
				n.mu.Unlock()
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("node %d exited before serving (see node%d.log)", n.id, n.id)
		case <-ctx.Done():
			n.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.kill()
			return fmt.Errorf("node %d: not serving within %v (see node%d.log)", n.id, startTimeout, n.id)
		}
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.up = false
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// stop shuts the process down gracefully, killing it if it takes too long.
func (n *node) stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.up = false
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

var errNoNode = errors.New("no node is serving")
