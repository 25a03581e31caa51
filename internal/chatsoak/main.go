//go:build unix

// Command chatsoak is the chat service's soak test: it runs several
// examples/server processes on a fresh PostgreSQL database and a private
// redis-server, drives them with users who connect and disconnect over
// WebSocket and send, edit, delete, read, type, add and remove members over
// REST, injects faults (the Broker killed or paused, the nodes' PostgreSQL
// sessions terminated, a node killed with SIGKILL and restarted), and
// checks on every connection that each persisted event arrives exactly
// once, in order, and only while the user is a member. docs/reliability.md
// describes the invariant and the faults.
//
//	go run ./internal/chatsoak -duration 10m
//
// It lives under internal/ because it is a tool of this repository, not a
// command for users: it builds examples/server from the source tree. The
// exit status is 0 for a clean run, 1 when the invariant broke, 2 when the
// run could not be made.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/embedchat/chat/internal/testenv"
)

// config is a run's shape; the flags set it.
type config struct {
	Nodes       int
	Users       int
	Groups      int
	Rate        float64
	Duration    time.Duration
	FaultEvery  time.Duration
	FaultDown   time.Duration
	Faults      []string
	Seed        uint64
	PostgresURL string
	ServerBin   string
	Dir         string
	Settle      time.Duration
	Progress    io.Writer // progress lines; nil for none
}

func defaultConfig() config {
	pg := os.Getenv("CHAT_TEST_POSTGRES_URL")
	if pg == "" {
		pg = testenv.DefaultPostgresURL
	}
	return config{
		Nodes: 3, Users: 20, Groups: 6, Rate: 50,
		Duration: 30 * time.Second, FaultEvery: 4 * time.Second, FaultDown: time.Second,
		Faults: allFaults, PostgresURL: pg, Settle: 60 * time.Second,
	}
}

func main() {
	cfg := defaultConfig()
	faults := strings.Join(cfg.Faults, ",")
	flag.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "example server processes")
	flag.IntVar(&cfg.Users, "users", cfg.Users, "users, each with one device that reconnects")
	flag.IntVar(&cfg.Groups, "groups", cfg.Groups, "groups created at the start (users create up to as many more)")
	flag.Float64Var(&cfg.Rate, "rate", cfg.Rate, "user actions per second (sends are about half)")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the workload and the faults run (longer if needed to inject each fault once)")
	flag.DurationVar(&cfg.FaultEvery, "fault-every", cfg.FaultEvery, "pause between the end of one fault's recovery and the next fault")
	flag.DurationVar(&cfg.FaultDown, "fault-down", cfg.FaultDown, "how long a killed Broker or node stays down, or the Broker paused")
	flag.StringVar(&faults, "faults", faults, "faults to inject in turn: all, none, or a list of "+strings.Join(allFaults, ","))
	flag.Uint64Var(&cfg.Seed, "seed", 0, "seed of the workload's and the faults' choices (0: random, printed)")
	flag.StringVar(&cfg.PostgresURL, "postgres", cfg.PostgresURL, "PostgreSQL server URL; the run creates and drops its own database on it")
	flag.StringVar(&cfg.ServerBin, "server", "", "examples/server binary to run (default: go build it)")
	flag.StringVar(&cfg.Dir, "dir", "", "directory for the nodes' and Redis's logs (default: a temporary one, kept if the run fails)")
	flag.DurationVar(&cfg.Settle, "settle", cfg.Settle, "how long connections may take to catch up at the end")
	flag.Parse()
	var err error
	if cfg.Faults, err = parseFaults(faults); err != nil {
		fmt.Fprintln(os.Stderr, "chatsoak:", err)
		os.Exit(2)
	}
	cfg.Progress = os.Stderr
	// The nodes log Redis outages; the tool's own Redis probes need not.
	redis.SetLogger(quietRedis{})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatsoak:", err)
		os.Exit(2)
	}
	rep.write(os.Stdout)
	if !rep.ok() {
		os.Exit(1)
	}
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func (s *sim) progress(format string, args ...any) {
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "chatsoak: %7.1fs "+format+"\n", append([]any{s.since().Seconds()}, args...)...)
	}
}

// run makes one soak run and judges it. The error is for a run that could
// not be made; broken invariants are in the report.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Nodes < 1 || cfg.Users < 2 || cfg.Groups < 1 || cfg.Rate <= 0 {
		return nil, fmt.Errorf("want at least 1 node, 2 users, 1 group and a positive rate")
	}
	dir, keep := cfg.Dir, cfg.Dir != ""
	if dir == "" {
		if dir, err = os.MkdirTemp("", "chatsoak-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (logs in %s)", err, dir)
		}
	}()
	s := &sim{cfg: cfg, rng: newLockedRand(cfg.Seed), chats: make(map[string]*chatView), start: time.Now(),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	defer s.http.CloseIdleConnections()
	s.progress("seed %d, %d nodes, %d users, %.0f actions/s for %v, faults %v; logs in %s",
		cfg.Seed, cfg.Nodes, cfg.Users, cfg.Rate, cfg.Duration, cfg.Faults, dir)

	cl, err := startCluster(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	s.cl = cl
	for i := range cfg.Users {
		s.users = append(s.users, newDevice(s, fmt.Sprintf("u%02d", i), -1))
	}
	for i := range cfg.Nodes {
		s.probes = append(s.probes, newDevice(s, fmt.Sprintf("probe%d", i), i))
	}
	if err := s.setup(ctx); err != nil {
		return nil, err
	}

	devCtx, stopDevices := context.WithCancel(ctx)
	var devices sync.WaitGroup
	for _, d := range slices.Concat(s.users, s.probes) {
		devices.Add(1)
		go func() {
			defer devices.Done()
			d.run(devCtx)
		}()
	}
	defer func() {
		stopDevices()
		devices.Wait()
	}()
	sessions := s.watchSessions(devCtx)
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	s.progress("%d devices connected; workload and faults start", len(s.users)+len(s.probes))

	// The load runs for cfg.Duration, and on until every kind of fault
	// has been injected once, which takes at most a recovery timeout
	// per kind more.
	loadCtx, stopLoad := context.WithCancel(ctx)
	roundDone := make(chan struct{})
	var load sync.WaitGroup
	load.Add(2)
	go func() {
		defer load.Done()
		s.workload(loadCtx)
	}()
	go func() {
		defer load.Done()
		s.injectFaults(loadCtx, roundDone)
	}()
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Duration):
	}
	select {
	case <-ctx.Done():
	case <-roundDone:
	}
	stopLoad()
	load.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	s.progress("workload over (%d sent); settling", s.counts.sent.Load())
	behind, err := s.settle(ctx)
	if err != nil {
		return nil, err
	}
	stopDevices()
	devices.Wait()
	maxSessions := <-sessions

	rep, err := s.judge(ctx, behind)
	if err != nil {
		return nil, err
	}
	rep.maxSessions = maxSessions
	rep.dir = dir
	if len(rep.checker.violations) > 0 {
		if f, err := os.Create(filepath.Join(dir, "violations.txt")); err == nil {
			s.mu.Lock()
			conns := slices.Clone(s.conns)
			s.mu.Unlock()
			rep.writeDetails(f, conns)
			f.Close()
		}
	}
	if rep.ok() && !keep {
		_ = os.RemoveAll(dir)
		rep.dir = ""
	}
	return rep, nil
}

// watchSessions samples the run's PostgreSQL sessions each second until ctx
// ends, then sends the most it saw.
func (s *sim) watchSessions(ctx context.Context) <-chan int {
	out := make(chan int, 1)
	go func() {
		most := 0
		for {
			if n, err := s.cl.sessions(ctx); err == nil {
				most = max(most, n)
			}
			select {
			case <-ctx.Done():
				out <- most
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return out
}

// waitReady waits until every device has resumed and listed its chats.
func (s *sim) waitReady(ctx context.Context, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		var waiting []string
		for _, d := range slices.Concat(s.users, s.probes) {
			if !d.isReady() {
				waiting = append(waiting, d.user)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devices not connected after %v: %s", patience, strings.Join(waiting, " "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// settle checks that every connection catches up with the Store once the
// load and the faults are over: first in silence, for what was stored
// during the run must arrive without a later event to reveal a gap; then
// after a last message in every chat, which must arrive live. It returns
// the connections still behind after cfg.Settle in either phase.
func (s *sim) settle(ctx context.Context) ([]violation, error) {
	behind, err := s.catchUp(ctx, "in silence")
	if err != nil {
		return nil, err
	}
	for _, id := range s.knownChats() {
		c, err := s.cl.store.GetChat(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("settle: %w", err)
		}
		if len(c.Members) == 0 {
			continue
		}
		if _, err := s.callRetrying(ctx, 30*time.Second, c.Members[0].UserID, "POST", "/chats/"+id+"/messages",
			map[string]any{"text": "last", "client_id": randomID()}, nil); err != nil {
			return nil, fmt.Errorf("settle: last message: %w", err)
		}
	}
	more, err := s.catchUp(ctx, "after a last message")
	return append(behind, more...), err
}

// catchUp waits until every device is connected and has every chat its
// user is in at the chat's last seq in the Store, and returns what is
// still behind after cfg.Settle.
func (s *sim) catchUp(ctx context.Context, phase string) ([]violation, error) {
	want := make(map[string]map[string]int64) // user → chat → last seq
	for _, d := range slices.Concat(s.users, s.probes) {
		ids, err := s.cl.store.ChatIDs(ctx, d.user)
		if err != nil {
			return nil, fmt.Errorf("settle: %w", err)
		}
		last, err := s.cl.store.LastSeqs(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("settle: %w", err)
		}
		want[d.user] = last
	}
	began := time.Now()
	deadline := began.Add(s.cfg.Settle)
	for {
		var behind []violation
		for _, d := range slices.Concat(s.users, s.probes) {
			d.mu.Lock()
			ready, clog := d.ready, d.log
			for id, last := range want[d.user] {
				if p := d.pos[id]; !ready || p < last {
					v := violation{class: classBehind, at: s.since(), user: d.user, conn: -1, node: -1, chat: id, seq: p, n: last - p,
						detail: fmt.Sprintf("%s, at %d after %v, the Store at %d", phase, p, s.cfg.Settle, last)}
					if clog != nil {
						v.conn, v.node = clog.id, clog.node
					}
					if !ready {
						v.detail = "not connected and resumed; " + v.detail
					}
					behind = append(behind, v)
				}
			}
			d.mu.Unlock()
		}
		if len(behind) == 0 {
			s.progress("every connection caught up %s, in %v", phase, time.Since(began).Round(time.Millisecond))
			return nil, nil
		}
		if time.Now().After(deadline) {
			s.progress("%d chats of connections still behind %s after %v", len(behind), phase, s.cfg.Settle)
			return behind, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// judge loads the Store's log of every chat the run touched and checks
// every connection against it.
func (s *sim) judge(ctx context.Context, behind []violation) (*report, error) {
	ids := make(map[string]bool)
	for _, id := range s.knownChats() {
		ids[id] = true
	}
	for _, d := range slices.Concat(s.users, s.probes) {
		mine, err := s.cl.store.ChatIDs(ctx, d.user)
		if err != nil {
			return nil, err
		}
		for _, id := range mine {
			ids[id] = true
		}
	}
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	adds := slices.Clone(s.adds)
	faults := slices.Clone(s.faults)
	s.mu.Unlock()
	for _, c := range conns {
		for _, r := range c.recs {
			if r.chat != "" {
				ids[r.chat] = true
			}
		}
	}
	truths := make(map[string]*truth)
	var stored int64
	for id := range ids {
		t, err := loadTruth(ctx, s.cl.store, id)
		if err != nil {
			return nil, fmt.Errorf("read chat %s from the Store: %w", id, err)
		}
		truths[id] = t
		stored += t.last
	}
	k := newChecker(truths, adds)
	closes := make(map[string]int)
	for _, c := range conns {
		k.check(c)
		closes[closeName(c.closeStatus)]++
	}
	for _, v := range behind {
		k.report(v)
	}
	sort.SliceStable(k.violations, func(i, j int) bool { return k.violations[i].at < k.violations[j].at })
	return &report{cfg: s.cfg, counts: &s.counts, stored: stored, chats: len(truths), conns: len(conns), closes: closes,
		checker: k, faults: faults, elapsed: s.since()}, nil
}
