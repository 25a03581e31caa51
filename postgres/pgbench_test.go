package postgres

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/internal/testenv"
)

// TestPgbenchBaseline runs pgbench with the transaction a send boils down
// to (take the next seq and ordinal from the chat row, insert the message
// with them, commit; every message is from u0, so its sender ordinal is
// its ordinal) on the Store's own tables, with the same chats and
// concurrency as BenchmarkAppendMessage, so that the two can be compared.
// It takes a minute, so it only runs when CHAT_PG_PGBENCH=1:
//
//	CHAT_PG_PGBENCH=1 go test -run TestPgbenchBaseline -v ./postgres
//
// CHAT_PG_PGBENCH_SECONDS sets the length of each run (default 10).
func TestPgbenchBaseline(t *testing.T) {
	if os.Getenv("CHAT_PG_PGBENCH") != "1" {
		t.Skip("set CHAT_PG_PGBENCH=1 to run pgbench against the Store's tables")
	}
	seconds := os.Getenv("CHAT_PG_PGBENCH_SECONDS")
	if seconds == "" {
		seconds = "10"
	}
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		dir, ok := postgresBinDir()
		require.True(t, ok, "pgbench not found")
		pgbench = filepath.Join(dir, "pgbench")
	}
	dsn := testenv.PostgresURL(t)
	db := openTestDB(t, 1)
	s := newTestStore(t, db)
	benchChats(t, db, s, 1000, 1)

	dir := t.TempDir()
	scripts := map[int]string{
		1: s.q.fill(`
BEGIN;
UPDATE {schema}.chats SET last_seq = last_seq + 1, message_count = message_count + 1, last_activity_at = now() WHERE id = 'c0' RETURNING last_seq, message_count \gset
INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal) VALUES ('c0', :last_seq, 'u0', 'hello', now(), :message_count, :message_count);
END;
`),
		1000: s.q.fill(`
\set c random(0, 999)
BEGIN;
UPDATE {schema}.chats SET last_seq = last_seq + 1, message_count = message_count + 1, last_activity_at = now() WHERE id = 'c' || :c RETURNING last_seq, message_count \gset
INSERT INTO {schema}.messages (chat_id, seq, sender, text, created_at, ordinal, sender_ordinal) VALUES ('c' || :c, :last_seq, 'u0', 'hello', now(), :message_count, :message_count);
END;
`),
	}
	tps := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	for _, chats := range []int{1, 1000} {
		script := filepath.Join(dir, fmt.Sprintf("send-%d.sql", chats))
		require.NoError(t, os.WriteFile(script, []byte(scripts[chats]), 0o644))
		for _, clients := range []int{1, 8, 32} {
			out, err := exec.CommandContext(t.Context(), pgbench, "-n", "-M", "extended", "-f", script,
				"-c", strconv.Itoa(clients), "-j", "2", "-T", seconds, dsn).CombinedOutput()
			require.NoError(t, err, "%s", out)
			m := tps.FindSubmatch(out)
			require.NotNil(t, m, "%s", out)
			t.Logf("pgbench chats=%d clients=%d: %s tps", chats, clients, m[1])
		}
	}
}
