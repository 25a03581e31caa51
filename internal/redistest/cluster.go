package redistest

import (
	"context"
	"fmt"
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

// Cluster is a Redis Cluster of private redis-servers: masters, and the
// replicas added by AddReplica. Its methods are safe for concurrent use.
type Cluster struct {
	dir string

	mu      sync.Mutex
	servers []*Server
	clients []*redis.ClusterClient
}

// StartCluster starts a Redis Cluster of masters (at least 3), without
// replicas, and waits until every node reports cluster_state:ok with all
// 16384 slots covered.
// It is shut down in t.Cleanup. A test binary that shares one cluster
// between its tests uses NewCluster instead.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if err := checkInstalled(); err != nil {
		testenv.Unavailable(t, "%v", err)
		return nil
	}
	c, err := NewCluster(masters)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(t, 60)
		}
		c.Close()
	})
	return c
}

// logTails logs the last n lines of every node's log, so that a failed
// test shows what the cluster did (elections, failovers) before its files
// are removed.
func (c *Cluster) logTails(t testing.TB, n int) {
	c.mu.Lock()
	servers := c.servers
	c.mu.Unlock()
	for _, s := range servers {
		b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		if err != nil {
			t.Logf("redistest: node %s: %v", s.Addr(), err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		t.Logf("redistest: the last %d lines of node %s's log:\n%s", min(n, len(lines)), s.Addr(), strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
}

// NewCluster is StartCluster for callers without a testing.TB, such as
// TestMain: the caller must call Close. It returns ErrNotInstalled when
// redis-server or redis-cli is missing.
func NewCluster(masters int) (_ *Cluster, err error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	if err := checkInstalled(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	c := &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for range masters {
		if _, err := c.startNode(); err != nil {
			return nil, err
		}
	}

	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		return nil, err
	}
	return c, nil
}

// startNode starts a cluster-enabled server that is in no cluster yet.
func (c *Cluster) startNode() (*Server, error) {
	c.mu.Lock()
	nodeDir := filepath.Join(c.dir, strconv.Itoa(len(c.servers)))
	c.mu.Unlock()
	if err := os.Mkdir(nodeDir, 0o755); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	busPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s, err := newServer(nodeDir, []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		// Fast failure detection, for failover tests.
		"--cluster-node-timeout", "2000",
		// A replica stands for election however long its link to the
		// master has been down: on a loaded machine a replica may not
		// have linked up with a master that a test then kills.
		"--cluster-replica-validity-factor", "0",
		// The default bus port, port+10000, may be taken or out of
		// range; ask for a free one.
		"--cluster-port", strconv.Itoa(busPort),
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.servers = append(c.servers, s)
	c.mu.Unlock()
	return s, nil
}

// AddReplica starts a node, makes it a replica of the master at addr, and
// waits until it has synced and every node knows it. It returns the
// replica's address.
func (c *Cluster) AddReplica(master string) (string, error) {
	s, err := c.startNode()
	if err != nil {
		return "", err
	}
	mc := redis.NewClient(&redis.Options{Addr: master})
	id, err := mc.ClusterMyID(context.Background()).Result()
	mc.Close()
	if err != nil {
		return "", fmt.Errorf("redistest: CLUSTER MYID on %s: %w", master, err)
	}
	out, err := exec.Command("redis-cli", "--cluster", "add-node", s.Addr(), master,
		"--cluster-slave", "--cluster-master-id", id).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redistest: redis-cli --cluster add-node: %w\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		return "", err
	}
	rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rc.Close()
	err = poll(func() (bool, error) {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up"), err
	})
	if err != nil {
		return "", fmt.Errorf("redistest: replica %s did not sync: %w", s.Addr(), err)
	}
	return s.Addr(), nil
}

// waitOK waits until every node says the cluster is ok, knows every other
// node and sees all slots covered, so that a client can route from any of
// them.
func (c *Cluster) waitOK() error {
	c.mu.Lock()
	servers := c.servers
	c.mu.Unlock()
	want := []string{
		"cluster_state:ok",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(len(servers)),
	}
	for _, s := range servers {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr()})
		var info string
		err := poll(func() (bool, error) {
			var err error
			info, err = rc.ClusterInfo(context.Background()).Result()
			return err == nil && containsAll(info, want), err
		})
		rc.Close()
		if err != nil {
			return fmt.Errorf("redistest: cluster node %s not ready: %w\n%s", s.Addr(), err, info)
		}
	}
	return nil
}

// poll calls check until it reports true, or fails with its last error
// after startTimeout.
func poll(check func() (bool, error)) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ok, err := check()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v (last error: %v)", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(info string, lines []string) bool {
	for _, l := range lines {
		if !strings.Contains(info, l+"\r\n") && !strings.HasSuffix(strings.TrimSpace(info), l) {
			return false
		}
	}
	return true
}

// Addrs returns the host:port of every node: the masters it was created
// with, then the replicas in the order they were added. Failovers change
// roles, not this list.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Server returns the node at addr, to kill or restart it, or nil.
func (c *Cluster) Server(addr string) *Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// Client returns a new cluster client, closed with the cluster.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.mu.Lock()
	c.clients = append(c.clients, cc)
	c.mu.Unlock()
	return cc
}

// Close closes the clients made by Client, kills every node and removes
// their files.
func (c *Cluster) Close() {
	c.mu.Lock()
	clients, servers := c.clients, c.servers
	c.clients, c.servers = nil, nil
	c.mu.Unlock()
	for _, cc := range clients {
		_ = cc.Close()
	}
	for _, s := range servers {
		s.Close()
	}
	_ = os.RemoveAll(c.dir)
}
