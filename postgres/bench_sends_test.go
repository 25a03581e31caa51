package postgres

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/testenv"
)

// BenchmarkDurableSends measures durable sends per second (fsync and
// synchronous_commit as the server has them) through the Store's group
// commit, and, beside it in the same run, pgbench doing the transaction a
// send boils down to on the same tables:
//
//   - store: S goroutines call AppendMessage into 1 chat or 1,000 chats
//     (round robin), each send from its own sender, through a pool of at
//     most 4 connections (group commit needs few);
//   - pgbench: min(S, 16) clients each run the baseline transaction (take
//     the next seq and ordinal from the chat's row, insert the message,
//     commit), one connection each; not more than 16 because the server's
//     max_connections is shared;
//   - pgbench-16-per-tx: one client commits 16 such sends per
//     transaction, the floor that group commit is measured against.
//
// Every variant does b.N sends, so ns/op compare directly; sends/s is
// b.N over the elapsed time, and sends/commit the Store's mean batch. The pgbench variants are skipped when
// pgbench is not installed.
//
//	go test -run '^$' -bench DurableSends -benchtime 20000x ./postgres
func BenchmarkDurableSends(b *testing.B) {
	pgbench := pgbenchPath()
	for _, c := range []struct{ chats, senders int }{{1, 1}, {1000, 1}, {1, 64}, {1000, 64}} {
		b.Run(fmt.Sprintf("chats=%d/senders=%d/store", c.chats, c.senders), func(b *testing.B) {
			db := openTestDB(b, min(c.senders, 4))
			s := newTestStore(b, db)
			ids := benchChats(b, db, s, c.chats, c.senders)
			var writes, written atomic.Int64 // statements sent, and the sends they carried
			s.batch.beforeWrite = func(batch []*writeItem) {
				writes.Add(1)
				written.Add(int64(len(batch)))
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := range c.senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sender := fmt.Sprintf("u%d", g)
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						m := chat.Message{ChatID: ids[int(i)%len(ids)], Sender: sender, Text: "hello", CreatedAt: testNow()}
						if _, _, err := s.AppendMessage(b.Context(), m); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			b.ReportMetric(float64(written.Load())/float64(max(writes.Load(), 1)), "sends/commit")
		})
		if pgbench == "" {
			continue
		}
		clients := min(c.senders, 16)
		b.Run(fmt.Sprintf("chats=%d/senders=%d/pgbench", c.chats, c.senders), func(b *testing.B) {
			runPgbench(b, pgbench, c.chats, clients, 1)
		})
	}
	if pgbench != "" {
		b.Run("chats=1000/senders=1/pgbench-16-per-tx", func(b *testing.B) {
			runPgbench(b, pgbench, 1000, 1, 16)
		})
	}
}

// pgbenchPath returns the pgbench binary, or "" if there is none.
func pgbenchPath() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	if dir, ok := postgresBinDir(); ok {
		p := filepath.Join(dir, "pgbench")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// pgbenchScript is the transaction a send boils down to, perTx times in
// one transaction, into chat 'c0' or a random one of 1,000.
func pgbenchScript(s *Store, chats, perTx int) string {
	var script strings.Builder
	script.WriteString("BEGIN;\n")
	for range perTx {
		chatExpr := "'c0'"
		if chats > 1 {
			script.WriteString(`\set c random(0, 999)` + "\n")
			chatExpr = "'c' || :c"
		}
		script.WriteString(s.q.fill(`UPDATE {schema}.chats SET last_seq = last_seq + 1, message_count = message_count + 1, last_activity_at = now() WHERE id = ` + chatExpr + ` RETURNING last_seq, message_count \gset` + "\n"))
		script.WriteString(s.q.fill(`INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal) VALUES (` + chatExpr + `, :last_seq, 'u0', 'hello', now(), :message_count, :message_count);` + "\n"))
	}
	script.WriteString("END;\n")
	return script.String()
}

// runPgbench runs b.N sends as pgbench transactions of perTx sends each,
// spread over clients connections, and reports them as sends.
func runPgbench(b *testing.B, pgbench string, chats, clients, perTx int) {
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	benchChats(b, db, s, chats, 1)
	script := filepath.Join(b.TempDir(), "send.sql")
	require.NoError(b, os.WriteFile(script, []byte(pgbenchScript(s, chats, perTx)), 0o644))
	perClient := max(1, b.N/(clients*perTx))
	b.ResetTimer()
	out, err := exec.CommandContext(b.Context(), pgbench, "-n", "-M", "extended", "-f", script,
		"-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)), "-t", strconv.Itoa(perClient),
		testenv.PostgresURL(b)).CombinedOutput()
	b.StopTimer()
	require.NoError(b, err, "%s", out)
	tps := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	require.NotNil(b, tps, "%s", out)
	t, err := strconv.ParseFloat(string(tps[1]), 64)
	require.NoError(b, err)
	b.ReportMetric(t*float64(perTx), "sends/s")
}

// BenchmarkWriteBatchVersions times one batch of 33 sends (the mean batch
// of BenchmarkDurableSends with 64 senders), in autocommit as the Store
// sends it, through write_batch as migration 008 made it and as migration
// 002 had it (created beside it under another name), one after the other
// in the same schema and run: into 33 chats of 1,000 and into one chat. One op is one batch; sends/s is 33 over its mean time.
//
//	go test -run '^$' -bench WriteBatchVersions -benchtime 200x ./postgres
func BenchmarkWriteBatchVersions(b *testing.B) {
	const n = 33
	db := openTestDB(b, 1)
	s := newTestStore(b, db)
	ids := benchChats(b, db, s, 1000, n)
	v002, err := Migrations().Open("002_write_batch.up.sql")
	require.NoError(b, err)
	sql002, err := io.ReadAll(v002)
	require.NoError(b, err)
	_, err = db.ExecContext(b.Context(), s.q.fill(`SET search_path TO {schema}; `)+
		strings.Replace(string(sql002), "CREATE FUNCTION write_batch(", "CREATE FUNCTION write_batch_002(", 1)+`; RESET search_path`)
	require.NoError(b, err)
	versions := map[string]string{
		"008": s.q.writeBatch,
		"002": strings.Replace(s.q.writeBatch, "write_batch(", "write_batch_002(", 1),
	}
	for _, chats := range []int{n, 1} {
		var round atomic.Int64
		batch := func() []any {
			r := int(round.Add(1))
			items := make([]*writeItem, n)
			for i := range items {
				chatID := ids[0]
				if chats > 1 {
					chatID = ids[(r*n+i)%len(ids)]
				}
				items[i] = &writeItem{kind: writeAppend, chatID: chatID, userID: fmt.Sprintf("u%d", i), text: "hello", at: testNow()}
			}
			return writeBatchArgs(items)
		}
		for _, v := range []string{"002", "008"} {
			b.Run(fmt.Sprintf("chats=%d/write_batch=%s", chats, v), func(b *testing.B) {
				for b.Loop() {
					var rows []writeRow
					if err := db.SelectContext(b.Context(), &rows, versions[v], batch()...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sends/s")
			})
		}
	}
}
