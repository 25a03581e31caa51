package postgres

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/testenv"
)

func TestNewWarnsWhenThePoolChurns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*sqlx.DB)
		warning   string // "" for none
	}{
		{"database/sql defaults", func(*sqlx.DB) {}, "no bound on open connections"},
		{"bounded, default idle", func(db *sqlx.DB) { db.SetMaxOpenConns(16) }, "max_idle_conns=2"},
		{"bounded, fewer idle", func(db *sqlx.DB) { db.SetMaxOpenConns(16); db.SetMaxIdleConns(8) }, "max_idle_conns=8"},
		{"bounded, no idle", func(db *sqlx.DB) { db.SetMaxOpenConns(4); db.SetMaxIdleConns(-1) }, "max_idle_conns=0"},
		{"idle set first, then a bound", func(db *sqlx.DB) { db.SetMaxIdleConns(16); db.SetMaxOpenConns(16) }, ""},
		{"as many idle as open", func(db *sqlx.DB) { db.SetMaxOpenConns(16); db.SetMaxIdleConns(16) }, ""},
		{"more idle than open", func(db *sqlx.DB) { db.SetMaxOpenConns(2); db.SetMaxIdleConns(100) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlx.Open("postgres", "postgres://127.0.0.1:1/unused") // New does not connect.
			require.NoError(t, err)
			defer db.Close()
			tc.configure(db)
			var logged bytes.Buffer
			_, err = New(db, Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			require.NoError(t, err)
			if tc.warning == "" {
				require.Empty(t, logged.String())
				return
			}
			require.Contains(t, logged.String(), "level=WARN")
			require.Contains(t, logged.String(), tc.warning)
		})
	}
	db, err := sqlx.Open("postgres", "postgres://127.0.0.1:1/unused")
	require.NoError(t, err)
	defer db.Close()
	_, err = New(db, Config{}) // A nil Logger discards the warning.
	require.NoError(t, err)
}

// poolSessions reports what a pool did: the connections it holds and how
// many it has opened in all, as database/sql counts them (every connection
// it opened is open or was closed for one of these reasons, or was bad).
func poolSessions(db *sqlx.DB) (open, opened int64) {
	st := db.Stats()
	return int64(st.OpenConnections), int64(st.OpenConnections) + st.MaxIdleClosed + st.MaxIdleTimeClosed + st.MaxLifetimeClosed
}

// backendPIDs returns the server processes of the sessions whose
// application_name is app, sorted.
func backendPIDs(t *testing.T, db *sqlx.DB, app string) []int {
	t.Helper()
	var pids []int
	require.NoError(t, db.SelectContext(t.Context(), &pids,
		`SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid`, app))
	return pids
}

// sendConcurrently makes n requests as a server handles them, each reading
// the chat and its latest messages and then sending into chat c0, from
// senders goroutines. The sends are committed in groups through one
// connection; the reads are what keeps several connections busy at once.
func sendConcurrently(t testing.TB, s *Store, senders, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / senders {
				if _, err := s.GetChat(ctx, "c0"); err != nil {
					errs <- err
					return
				}
				if _, err := s.ListMessages(ctx, "c0", chat.MessageQuery{Limit: 20}); err != nil {
					errs <- err
					return
				}
				m := chat.Message{ChatID: "c0", Sender: fmt.Sprintf("u%d", g), Text: "steady", CreatedAt: testNow()}
				if _, _, err := s.AppendMessage(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// With as many idle connections as open ones, a steady load of 8
// concurrent requests (reads and a send each) opens no PostgreSQL session
// after the pool has warmed up: the same server processes serve every
// send. BenchmarkPoolSessions counts what database/sql's default of 2 idle
// connections opens under the same load.
func TestSteadyLoadOpensNoSessionsAfterWarmUp(t *testing.T) {
	const senders, warmUp, steady = 8, 200, 400
	admin := openTestDB(t, 1)
	cfg := newTestSchema(t, admin)
	app := randomSchema(t) // a unique application_name
	db := openSteadyPool(t, app, senders, senders)
	s, err := New(db, cfg)
	require.NoError(t, err)
	benchChats(t, admin, s, 1, senders)

	sendConcurrently(t, s, senders, warmUp)
	pidsBefore := backendPIDs(t, admin, app)
	_, openedBefore := poolSessions(db)
	sendConcurrently(t, s, senders, steady)
	pidsAfter := backendPIDs(t, admin, app)
	_, openedAfter := poolSessions(db)
	require.Equal(t, openedBefore, openedAfter, "sessions opened by the pool after warm-up")
	require.Equal(t, pidsBefore, pidsAfter, "server processes of the pool's sessions")
	require.LessOrEqual(t, len(pidsAfter), senders)
}

// openSteadyPool opens a pool of at most maxOpen connections named app,
// keeping maxIdle of them idle (0: database/sql's default).
func openSteadyPool(t testing.TB, app string, maxOpen, maxIdle int) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", withParam(t, testenv.PostgresURL(t), "application_name", app))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(maxOpen)
	if maxIdle > 0 {
		db.SetMaxIdleConns(maxIdle)
	}
	return db
}

// BenchmarkPoolSessions counts the PostgreSQL sessions a pool of 8 opens
// under the load of TestSteadyLoadOpensNoSessionsAfterWarmUp (8 concurrent
// requests, each reading a chat and its latest messages and sending), after
// a warm-up of 200 requests: new-sessions/1000req, with as many idle
// connections as open ones and with database/sql's default of 2. How often
// the default churns depends on scheduling, which is why this is measured
// here and not asserted.
//
//	go test -run '^$' -bench PoolSessions -benchtime 1000x ./postgres
func BenchmarkPoolSessions(b *testing.B) {
	const senders = 8
	admin := openTestDB(b, 1)
	cfg := newTestSchema(b, admin)
	seed, err := New(admin, cfg)
	require.NoError(b, err)
	benchChats(b, admin, seed, 1, senders)
	for _, pool := range []struct {
		name    string
		maxIdle int // 0: database/sql's default
	}{{"idle=open", senders}, {"idle=default", 0}} {
		b.Run(pool.name, func(b *testing.B) {
			db := openSteadyPool(b, randomSchema(b), senders, pool.maxIdle)
			s, err := New(db, cfg)
			require.NoError(b, err)
			sendConcurrently(b, s, senders, 200)
			_, openedBefore := poolSessions(db)
			b.ResetTimer()
			sendConcurrently(b, s, senders, max(b.N, senders))
			b.StopTimer()
			_, openedAfter := poolSessions(db)
			b.ReportMetric(float64(openedAfter-openedBefore)*1000/float64(b.N), "new-sessions/1000req")
		})
	}
}
