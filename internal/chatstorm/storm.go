//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/postgres"
	"github.com/embedchat/chat/redisbroker"
)

// nodeAppName names the storm node's PostgreSQL sessions, so that they
// are told apart from everyone else's in pg_stat_activity.
const nodeAppName = "chatstorm-node"

// report is what a run measured.
type report struct {
	cfg      config
	chats    int
	resumed  []time.Duration // per connection, from dial to resumed
	failures map[string]int  // how the others ended
	elapsed  time.Duration   // from the first dial to the last resumed
	calls    map[string]int  // Store calls by method
	load     string          // /proc/loadavg before the storm
	cpu      time.Duration   // the process's CPU time during the storm, clients included
	runWait  time.Duration   // how long its threads waited for a CPU meanwhile (Linux)
	pg       *pgFigures      // nil for the memory backend
}

// pgFigures are the PostgreSQL sessions of a run.
type pgFigures struct {
	sessionsOpened int64 // pg_stat_database.sessions after minus before (the whole database)
	maxNodeConns   int   // most pg_stat_activity rows of the node at once (sampled)
	pool           int
	waitCount      int64
	waitDuration   time.Duration
}

func (r *report) ok() bool { return len(r.resumed) == r.cfg.Users }

func (r *report) write(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "chatstorm backend=%s users=%d groups/user=%d group-size=%d chats=%d spread=%s resume-concurrency=%d\n",
		c.Backend, c.Users, c.Groups, c.GroupSize, r.chats, c.Spread, c.ResumeConcurrency)
	fmt.Fprintf(w, "  load average before: %s; CPU used during the storm (clients and node): %s; waited for a CPU: %s\n",
		r.load, r.cpu.Round(10*time.Millisecond), r.runWait.Round(10*time.Millisecond))
	fmt.Fprintf(w, "  resumed: %d/%d in %s (first dial to last resumed)\n", len(r.resumed), c.Users, r.elapsed.Round(time.Millisecond))
	if len(r.resumed) > 0 {
		d := slices.Clone(r.resumed)
		slices.Sort(d)
		q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Millisecond) }
		fmt.Fprintf(w, "  per connection: p50 %s, p99 %s, max %s\n", q(0.5), q(0.99), d[len(d)-1].Round(time.Millisecond))
	}
	if len(r.failures) > 0 {
		fmt.Fprintf(w, "  not resumed: %s\n", sortedCounts(r.failures))
	}
	fmt.Fprintf(w, "  store calls: %s\n", sortedCounts(r.calls))
	if p := r.pg; p != nil {
		fmt.Fprintf(w, "  postgres: pool %d; node sessions at once (sampled) %d; sessions opened in the database %d; pool waits %d (%s)\n",
			p.pool, p.maxNodeConns, p.sessionsOpened, p.waitCount, p.waitDuration.Round(time.Millisecond))
	}
}

func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// counter is an Observer that counts the Store calls by method.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) Observe(o chat.Observation) {
	if sc, ok := o.(chat.StoreCallObserved); ok {
		c.mu.Lock()
		c.calls[sc.Method]++
		c.mu.Unlock()
	}
}

// run seeds a store, starts a fresh node on it and lets every user
// reconnect at once.
func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.Users < cfg.GroupSize || cfg.GroupSize < 2 || cfg.Groups < 1 {
		return nil, errors.New("need users >= group-size >= 2 and groups >= 1")
	}
	rep := &report{cfg: cfg, failures: make(map[string]int)}
	var store chat.Store
	var broker chat.Broker
	var node *sqlx.DB // the storm node's pool; nil in memory
	var admin *sqlx.DB
	cleanup := func() {}
	defer func() { cleanup() }()
	switch cfg.Backend {
	case "memory":
		store, broker = memory.NewStore(), memory.NewBroker()
	case "postgres":
		var err error
		admin, err = sqlx.Open("postgres", cfg.PostgresURL)
		if err != nil {
			return nil, err
		}
		admin.SetMaxOpenConns(2)
		admin.SetMaxIdleConns(2)
		schema := fmt.Sprintf("chatstorm_%d", os.Getpid())
		pcfg := postgres.Config{Schema: schema}
		if err := postgres.Migrate(ctx, admin, pcfg); err != nil {
			admin.Close()
			return nil, err
		}
		cleanup = func() {
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				fmt.Fprintln(os.Stderr, "chatstorm: dropping schema:", err)
			}
			admin.Close()
		}
		if err := seed(ctx, cfg, admin, pcfg, nil); err != nil {
			return nil, err
		}
		node, err = sqlx.Open("postgres", withAppName(cfg.PostgresURL))
		if err != nil {
			return nil, err
		}
		defer node.Close()
		node.SetMaxOpenConns(cfg.Pool)
		node.SetMaxIdleConns(cfg.Pool)
		ps, err := postgres.New(node, pcfg)
		if err != nil {
			return nil, err
		}
		defer ps.Close()
		store = ps
		broker = memory.NewBroker()
		if cfg.RedisURL != "" {
			opt, err := redis.ParseURL(cfg.RedisURL)
			if err != nil {
				return nil, err
			}
			rc := redis.NewClient(opt)
			defer rc.Close()
			rb, err := redisbroker.New(rc, redisbroker.Config{Prefix: schema + ":"})
			if err != nil {
				return nil, err
			}
			broker = rb
		}
	default:
		return nil, fmt.Errorf("unknown backend %q", cfg.Backend)
	}
	if cfg.Backend == "memory" {
		if err := seed(ctx, cfg, nil, postgres.Config{}, store); err != nil {
			return nil, err
		}
	}
	positions, chats, err := readPositions(ctx, cfg, store)
	if err != nil {
		return nil, err
	}
	rep.chats = chats

	calls := &counter{calls: make(map[string]int)}
	svc, err := chat.New(chat.Config{Store: store, Broker: broker, Observer: calls, ResumeConcurrency: cfg.ResumeConcurrency})
	if err != nil {
		return nil, err
	}
	ws := chat.NewWebSocketHandler(svc, chat.WebSocketConfig{
		Authenticate:  func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		ResumeTimeout: cfg.Timeout,
		PingInterval:  -1,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: ws, ReadHeaderTimeout: cfg.Timeout}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		svc.Shutdown(sctx)
		srv.Shutdown(sctx)
	}()

	var before int64
	if admin != nil {
		if err := admin.GetContext(ctx, &before, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"); err != nil {
			return nil, err
		}
	}
	sampled := make(chan int, 1)
	stopSampling := make(chan struct{})
	if admin != nil {
		go sampleNodeSessions(admin, stopSampling, sampled)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	cpu0, wait0 := cpuTime(), runQueueWait()
	rep.resumed, rep.elapsed = storm(ctx, cfg, "ws://"+ln.Addr().String(), positions, rep.failures)
	rep.cpu, rep.runWait = cpuTime()-cpu0, runQueueWait()-wait0
	close(stopSampling)
	calls.mu.Lock()
	rep.calls = calls.calls
	calls.mu.Unlock()
	if admin != nil {
		var after int64
		if err := admin.GetContext(ctx, &after, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"); err != nil {
			return nil, err
		}
		st := node.Stats()
		rep.pg = &pgFigures{
			sessionsOpened: after - before, maxNodeConns: <-sampled, pool: cfg.Pool,
			waitCount: st.WaitCount, waitDuration: st.WaitDuration,
		}
	}
	return rep, nil
}

func withAppName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " application_name=" + nodeAppName
	}
	q := u.Query()
	q.Set("application_name", nodeAppName)
	u.RawQuery = q.Encode()
	return u.String()
}

// sampleNodeSessions counts the node's sessions every 20 ms until stop,
// then sends the most it saw.
func sampleNodeSessions(admin *sqlx.DB, stop <-chan struct{}, most chan<- int) {
	best := 0
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var n int
		if err := admin.Get(&n, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", nodeAppName); err == nil {
			best = max(best, n)
		}
		select {
		case <-stop:
			most <- best
			return
		case <-t.C:
		}
	}
}

// seed creates the groups: each round partitions the users, shuffled,
// into groups of GroupSize, so that every user is in Groups groups, and
// sends one message to each. With admin set it seeds PostgreSQL through a
// pool of its own, closed before the storm.
func seed(ctx context.Context, cfg config, admin *sqlx.DB, pcfg postgres.Config, store chat.Store) error {
	if admin != nil {
		ps, err := postgres.New(admin, pcfg)
		if err != nil {
			return err
		}
		defer ps.Close()
		store = ps
	}
	svc, err := chat.New(chat.Config{Store: store, Limits: chat.Limits{MaxChatsPerUser: cfg.Groups + 1}})
	if err != nil {
		return err
	}
	defer svc.Shutdown(context.Background())
	rng := rand.New(rand.NewPCG(1, 2))
	var groups [][]string
	for range cfg.Groups {
		users := make([]string, cfg.Users)
		for i := range users {
			users[i] = fmt.Sprintf("u%05d", i)
		}
		rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
		for first := 0; first+1 < len(users); first += cfg.GroupSize {
			groups = append(groups, users[first:min(first+cfg.GroupSize, len(users))])
		}
	}
	work := make(chan []string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for members := range work {
				c, _, err := svc.CreateChat(ctx, members[0], chat.CreateChatRequest{Kind: chat.KindGroup, Title: "storm", Members: members[1:]})
				if err == nil {
					_, _, err = svc.SendMessage(ctx, members[0], c.ID, chat.SendMessageRequest{Text: "before the restart"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var seedErr error
	for _, g := range groups {
		select {
		case work <- g:
			continue
		case seedErr = <-errs:
		}
		break
	}
	close(work)
	wg.Wait()
	if seedErr == nil && len(errs) > 0 {
		seedErr = <-errs
	}
	return seedErr
}

// readPositions returns each user's position in each of their chats: the
// chat's end, as a client that was connected until the restart has it.
func readPositions(ctx context.Context, cfg config, store chat.Store) (map[string]map[string]int64, int, error) {
	positions := make(map[string]map[string]int64, cfg.Users)
	chats := make(map[string]bool)
	for i := range cfg.Users {
		u := fmt.Sprintf("u%05d", i)
		ids, err := store.ChatIDs(ctx, u)
		if err != nil {
			return nil, 0, err
		}
		last, err := store.LastSeqs(ctx, ids)
		if err != nil {
			return nil, 0, err
		}
		positions[u] = last
		for _, id := range ids {
			chats[id] = true
		}
	}
	return positions, len(chats), nil
}

// storm opens a connection per user, spread evenly over cfg.Spread, each
// resuming from its positions, and returns how long those that got
// resumed took, and how long the whole storm took. The connections stay
// open until every one is done, as a storm's would.
func storm(ctx context.Context, cfg config, wsURL string, positions map[string]map[string]int64, failures map[string]int) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	var resumed []time.Duration
	var lastResumed time.Time
	var done, hold sync.WaitGroup
	hold.Add(1)
	start := time.Now()
	for i := range cfg.Users {
		u := fmt.Sprintf("u%05d", i)
		done.Add(1)
		go func() {
			time.Sleep(time.Duration(int64(cfg.Spread) * int64(i) / int64(cfg.Users)))
			t0 := time.Now()
			conn, err := resume(ctx, cfg, wsURL, u, positions[u])
			mu.Lock()
			if err != nil {
				failures[err.Error()]++
			} else {
				resumed = append(resumed, time.Since(t0))
				lastResumed = time.Now()
			}
			mu.Unlock()
			done.Done()
			hold.Wait()
			if conn != nil {
				conn.Close(websocket.StatusNormalClosure, "")
			}
		}()
	}
	done.Wait()
	hold.Done()
	if lastResumed.IsZero() {
		return resumed, 0
	}
	return resumed, lastResumed.Sub(start)
}

// resume dials as user, sends the resume frame and reads until resumed.
// Its error names how the connection ended, for the report.
func resume(ctx context.Context, cfg config, wsURL, user string, positions map[string]int64) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"X-User": {user}}})
	if err != nil {
		return nil, errors.New("dial failed")
	}
	conn.SetReadLimit(-1)
	frame := fmt.Appendf(nil, `{"type":"resume","positions":%s}`, mustJSON(positions))
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return nil, errors.New("write failed")
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if s := websocket.CloseStatus(err); s != -1 {
				return nil, fmt.Errorf("closed %d", s)
			}
			if ctx.Err() != nil {
				return nil, errors.New("no resumed in time")
			}
			return nil, errors.New("connection failed")
		}
		if strings.Contains(string(data), `"type":"resumed"`) {
			return conn, nil
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a map of strings to numbers always encodes
	}
	return b
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runQueueWait returns how long the process's threads have waited on a
// run queue, from /proc (the second field of each thread's schedstat); 0
// where there is none.
func runQueueWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			var ns int64
			if _, err := fmt.Sscan(f[1], &ns); err == nil {
				total += time.Duration(ns)
			}
		}
	}
	return total
}
