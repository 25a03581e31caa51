package postgres

import (
	"io/fs"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

func TestMigrateConcurrentlyFromSeveralPools(t *testing.T) {
	const pools, perPool = 4, 2
	dbs := make([]*sqlx.DB, pools)
	for i := range dbs {
		dbs[i] = openTestDB(t, perPool)
	}
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, dbs[0], cfg.Schema)

	errs := make(chan error, pools*perPool)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, db := range dbs {
		for range perPool {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- Migrate(t.Context(), db, cfg)
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireVersions(t, dbs[0], cfg.Schema)

	require.NoError(t, Migrate(t.Context(), dbs[1], cfg), "Migrate on an up-to-date schema")
	requireVersions(t, dbs[0], cfg.Schema)
}

// requireVersions checks that schema_migrations records every embedded
// migration exactly once.
func requireVersions(t *testing.T, db *sqlx.DB, schema string) {
	t.Helper()
	ms, err := loadMigrations()
	require.NoError(t, err)
	want := make([]int64, len(ms))
	for i, m := range ms {
		want[i] = m.version
	}
	var got []int64
	require.NoError(t, db.SelectContext(t.Context(), &got, `SELECT version FROM `+schema+`.schema_migrations ORDER BY version`))
	require.Equal(t, want, got)
}

func TestMigrationsAreNumbered(t *testing.T) {
	names, err := fs.Glob(Migrations(), "*")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Len(t, ms, len(names), "every file is a migration")
	for i, m := range ms {
		require.Equal(t, int64(i+1), m.version, "versions count up from 1 without holes")
	}
}

// A host that applies Migrations() with its own tool, as Migrations
// describes, gets tables in its schema, and only there, that the Store
// works with.
func TestMigrationsAppliedByHand(t *testing.T) {
	db := openTestDB(t, 1)
	schema := randomSchema(t)
	dropSchemaOnCleanup(t, db, schema)
	names, err := fs.Glob(Migrations(), "*.up.sql")
	require.NoError(t, err)
	for _, name := range names {
		sql, err := fs.ReadFile(Migrations(), name)
		require.NoError(t, err)
		tx, err := db.BeginTxx(t.Context(), nil)
		require.NoError(t, err)
		for _, stmt := range []string{`CREATE SCHEMA IF NOT EXISTS ` + schema, `SET LOCAL search_path TO ` + schema, string(sql)} {
			_, err := tx.ExecContext(t.Context(), stmt)
			require.NoError(t, err, name)
		}
		require.NoError(t, tx.Commit())
	}
	var tables []string
	require.NoError(t, db.SelectContext(t.Context(), &tables,
		`SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema IN ($1, 'public') AND table_name IN ('chats', 'members', 'messages')
		ORDER BY table_name`, schema))
	require.Equal(t, []string{schema + ".chats", schema + ".members", schema + ".messages"}, tables)

	s, err := New(db, Config{Schema: schema})
	require.NoError(t, err)
	_, _, err = s.CreateChat(t.Context(), testGroup("g", testNow(), "alice"), "")
	require.NoError(t, err)
	m, created, err := s.AppendMessage(t.Context(), chat.Message{ChatID: "g", Sender: "alice", Text: "hi", CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, int64(1), m.Seq)
}

func TestConfigSchemaMustBePlainIdentifier(t *testing.T) {
	db := sqlx.NewDb(nil, "postgres") // New and the check in Migrate do not touch it.
	for _, bad := range []string{"Chat", "1chat", "chat-x", `chat"; DROP TABLE x; --`, "a.b", " chat", string(make([]byte, 64))} {
		_, err := New(db, Config{Schema: bad})
		require.Error(t, err, "New with schema %q", bad)
		require.Error(t, Migrate(t.Context(), db, Config{Schema: bad}), "Migrate with schema %q", bad)
	}
	for _, good := range []string{"", "chat", "_chat", "chat_2", "app_chat_v1"} {
		_, err := New(db, Config{Schema: good})
		require.NoError(t, err, "New with schema %q", good)
	}
	_, err := New(nil, Config{})
	require.Error(t, err, "New with a nil db")
}

// A database that servers of the previous release filled (migrations 1
// and 2, sends through append_message) keeps its history through migration
// 3: messages get their ordinals, members start with everything read, and
// those servers can go on sending during a rolling deploy.
func TestMigrateFromVersion2KeepsHistoryAndOldServers(t *testing.T) {
	db := openTestDB(t, 2)
	ctx := t.Context()
	cfg := Config{Schema: randomSchema(t)}
	dropSchemaOnCleanup(t, db, cfg.Schema)
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, int64(2), ms[1].version)
	for _, m := range ms[:2] {
		require.NoError(t, applyMigration(ctx, db, cfg.Schema, m))
	}
	q := newQueries(cfg.Schema)
	oldSend := func(chatID, sender string) int64 {
		t.Helper()
		var row struct {
			Status string `db:"r_status"`
			Seq    int64  `db:"r_seq"`
		}
		require.NoError(t, db.GetContext(ctx, &row, q.fill(`SELECT r_status, r_seq FROM {schema}.append_message($1, $2, '', 'old', NULL, now())`), chatID, sender))
		require.Equal(t, "created", row.Status)
		return row.Seq
	}
	for _, c := range []chat.Chat{testGroup("g1", testNow(), "alice", "bob", "carol"), testGroup("g2", testNow(), "alice"), testGroup("g3", testNow(), "bob")} {
		var ids []string
		for _, m := range c.Members {
			ids = append(ids, m.UserID)
		}
		// The statement that CreateChat ran before migration 3 too.
		_, err := db.ExecContext(ctx, q.createChat, c.ID, string(c.Kind), c.Title, c.CreatedBy, c.CreatedAt, nil, pq.Array(ids))
		require.NoError(t, err)
	}
	for _, sender := range []string{"alice", "bob", "alice", "carol", "bob"} {
		oldSend("g1", sender)
	}
	oldSend("g2", "alice")
	oldSend("g2", "alice")

	require.NoError(t, Migrate(ctx, db, cfg))
	requireVersions(t, db, cfg.Schema)
	s, err := New(db, cfg)
	require.NoError(t, err)
	requireOrdinals(t, s)
	g1, err := s.GetChat(ctx, "g1")
	require.NoError(t, err)
	require.Equal(t, []chat.Member{{UserID: "alice", LastReadSeq: 5}, {UserID: "bob", LastReadSeq: 5}, {UserID: "carol", LastReadSeq: 5}}, g1.Members)
	require.NotNil(t, g1.LastMessage)
	require.Equal(t, chat.Message{ChatID: "g1", Seq: 5, Sender: "bob", Text: "old", CreatedAt: g1.LastMessage.CreatedAt}, *g1.LastMessage)
	g3, err := s.GetChat(ctx, "g3")
	require.NoError(t, err)
	require.Equal(t, []chat.Member{{UserID: "bob"}}, g3.Members, "a chat without messages has no history to have read")
	counts, err := s.UnreadCounts(ctx, "alice", []string{"g1", "g2"})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"g1": 0, "g2": 0}, counts, "the history before the upgrade counts as read")

	// A server of the previous release sends with append_message, this one
	// with AppendMessage: both number the messages.
	require.Equal(t, int64(6), oldSend("g1", "bob"))
	m, _, err := s.AppendMessage(ctx, chat.Message{ChatID: "g1", Sender: "carol", Text: "new", CreatedAt: testNow()})
	require.NoError(t, err)
	require.Equal(t, int64(7), m.Seq)
	require.Equal(t, int64(8), oldSend("g1", "alice"))
	requireOrdinals(t, s)
	for user, want := range map[string]int64{"alice": 2, "bob": 2, "carol": 2} {
		counts, err := s.UnreadCounts(ctx, user, []string{"g1"})
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"g1": want}, counts, "unread of %s", user)
	}
}
