package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/internal/testenv"
)

// cluster is a private PostgreSQL server that a test can stop and start.
type cluster struct {
	t    testing.TB
	bin  string // directory of initdb, pg_ctl and postgres
	dir  string // owned by the server's user; holds data, log and socket
	port int
	// runAs comes before every command: how root runs it as postgres.
	runAs []string
}

// postgresBinDir returns the directory of the PostgreSQL server programs.
func postgresBinDir() (string, bool) {
	if dir := os.Getenv("CHAT_TEST_POSTGRES_BIN"); dir != "" {
		return dir, true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := string(out[:len(out)-1])
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, true
		}
	}
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/initdb"); err == nil {
		return "/usr/lib/postgresql/15/bin", true
	}
	return "", false
}

// startCluster creates a server in a temporary directory and starts it. It
// is stopped and removed when the test ends. The server refuses to run as
// root, so as root it runs as the user postgres.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	bin, ok := postgresBinDir()
	if !ok {
		testenv.Unavailable(t, "initdb and pg_ctl not found; set CHAT_TEST_POSTGRES_BIN to their directory")
	}
	c := &cluster{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "chatpg")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Unavailable(t, "running as root and there is no user postgres to run the server as: %v", err)
		}
		uid, err := strconv.Atoi(u.Uid)
		require.NoError(t, err)
		require.NoError(t, os.Chown(dir, uid, -1))
		c.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.port = ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	t.Cleanup(func() {
		// Fails harmlessly when the server is not running.
		_, _ = c.command("pg_ctl", "-D", c.data(), "-w", "stop", "-m", "immediate")
	})
	c.start()
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// dsn is the URL of the server's postgres database.
func (c *cluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", c.port)
}

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	out, err := c.command(name, args...)
	require.NoError(c.t, err, "%s %v:\n%s", name, args, out)
}

func (c *cluster) command(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append(append(c.runAs[:len(c.runAs):len(c.runAs)], filepath.Join(c.bin, name)), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
}

// pgctl runs pg_ctl, which waits for the server to finish starting or
// stopping. The server logs to a file, so that it holds no pipe of ours.
func (c *cluster) pgctl(args ...string) {
	c.t.Helper()
	c.run("pg_ctl", append([]string{"-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w"}, args...)...)
}

func (c *cluster) start() {
	c.t.Helper()
	c.pgctl("start", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, c.dir))
}

// crash stops the server without a shutdown checkpoint, as a power cut
// would; it replays its WAL when started again.
func (c *cluster) crash() {
	c.t.Helper()
	c.pgctl("stop", "-m", "immediate")
}
