package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/internal/redistest"
)

// readAll reads conn until it has seen message.created seqs 1..total of
// every chat in chats, and reports the first gap, duplicate or reordering,
// or a wait longer than idle for the next frame. The bound is on silence,
// not on the whole read: the senders run meanwhile, and on a loaded
// machine sending everything can take longer than any total bound.
func readAll(conn *chattest.Conn, chats []string, total int64, idle time.Duration) error {
	next := make(map[string]int64, len(chats))
	for _, id := range chats {
		next[id] = 1
	}
	remaining := len(chats)
	for remaining > 0 {
		f, err := conn.ReadFrame(idle)
		if err != nil {
			return fmt.Errorf("nothing for %v: %w (next seqs %v)", idle, err, next)
		}
		want, ok := next[f.ChatID]
		if f.Type != chat.EventMessageCreated || !ok {
			continue
		}
		if f.Seq != want {
			return fmt.Errorf("chat %s: got seq %d, want %d", f.ChatID, f.Seq, want)
		}
		next[f.ChatID]++
		if want == total {
			remaining--
		}
	}
	return nil
}

// nextPastLateAnnouncements is conn.Next, past any chat.created of the
// chats the connection already follows: publishing is asynchronous, so the
// announcement of a chat created just before the connection was made may
// reach it after its resume, which docs/protocol.md calls harmless.
func nextPastLateAnnouncements(t *testing.T, conn *chattest.Conn, following ...string) chat.Event {
	t.Helper()
	for {
		ev := conn.Next()
		if ev.Type != chat.EventChatCreated || !slices.Contains(following, ev.ChatID) {
			return ev
		}
	}
}

// testMultiNode has members connected to every node while every node
// sends concurrently into several chats; each reader must see 1..N of
// each chat exactly once, in order. enough says whether the chats created
// so far cover what the test needs; more are created until they do.
func testMultiNode(t *testing.T, newClient func() redis.UniversalClient, enough func(prefix string, chats []string) bool) {
	prefix := randomName("it:") + ":"
	nodes := startNodes(t, 3, postgresStores(t), newClient, prefix)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	var ids []string
	for len(ids) < 3 || !enough(prefix, ids) {
		require.Less(t, len(ids), 100, "chats do not cover what the test needs")
		c := createChat(t, nodes[len(ids)%3], users[0], chat.CreateChatRequest{Kind: chat.KindGroup, Members: users[1:]})
		ids = append(ids, c.ID)
	}
	conns := make([]*chattest.Conn, len(users))
	for i, u := range users {
		conns[i], _ = nodes[i%3].srv.Connect(u, nil)
	}

	const perNode = 20
	var readers sync.WaitGroup
	for _, conn := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			assert.NoError(t, readAll(conn, ids, int64(3*perNode), 30*time.Second))
		}()
	}
	var senders sync.WaitGroup
	for i, n := range nodes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := 0; j < perNode; j++ {
				for _, id := range ids {
					send(t, n, users[i], id, fmt.Sprint("from node ", i))
				}
			}
		}()
	}
	senders.Wait()
	readers.Wait()
}

func TestMultiNodeStandaloneRedis(t *testing.T) {
	testMultiNode(t, redisClients(t, ""), func(string, []string) bool { return true })
}

// On a cluster the chats' channels must land on every shard for the test
// to mean anything.
func TestMultiNodeRedisCluster(t *testing.T) {
	newClient := clusterClients(t)
	client := newClient().(*redis.ClusterClient)
	testMultiNode(t, newClient, func(prefix string, chats []string) bool {
		shards := map[string]bool{}
		for _, id := range chats {
			// The Service names a chat's topic "c:<id>".
			master, err := client.MasterForKey(context.Background(), prefix+"c:"+id)
			require.NoError(t, err)
			shards[master.Options().Addr] = true
		}
		return len(shards) == 3
	})
}

// A message sent right after its chat is created reaches members on every
// node.
func TestMultiNodeMessageRightAfterCreate(t *testing.T) {
	nodes := startNodes(t, 3, postgresStores(t), redisClients(t, ""), randomName("it:")+":")
	alice, _ := nodes[0].srv.Connect("alice", nil)
	bob, _ := nodes[1].srv.Connect("bob", nil)
	carol, _ := nodes[2].srv.Connect("carol", nil)
	for i := 0; i < 5; i++ {
		c := createChat(t, nodes[i%3], "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob", "carol"}})
		send(t, nodes[i%3], "alice", c.ID, "first")
		for _, conn := range []*chattest.Conn{alice, bob, carol} {
			ev := conn.Next()
			require.Equal(t, chat.EventChatCreated, ev.Type)
			require.Equal(t, c.ID, ev.ChatID)
			ev = conn.Next()
			require.Equal(t, chat.EventMessageCreated, ev.Type)
			require.Equal(t, c.ID, ev.ChatID)
			require.Equal(t, int64(1), ev.Seq)
		}
	}
}

// faultTest keeps sending from every node while breakRedis runs, and
// checks that every reader on every node ends with every message once and
// in order, without reconnecting.
func faultTest(t *testing.T, breakRedis func(*redistest.Server)) {
	srv := redistest.StartServer(t)
	nodes := startNodes(t, 3, postgresStores(t), redisClients(t, srv.Addr()), randomName("it:")+":")
	users := []string{"u0", "u1", "u2"}
	c := createChat(t, nodes[0], "u0", chat.CreateChatRequest{Kind: chat.KindGroup, Members: users[1:]})
	conns := make([]*chattest.Conn, len(users))
	for i, u := range users {
		conns[i], _ = nodes[i].srv.Connect(u, map[string]int64{c.ID: 0})
	}
	const perNode = 40
	var readers sync.WaitGroup
	for _, conn := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			assert.NoError(t, readAll(conn, []string{c.ID}, 3*perNode, 30*time.Second))
		}()
	}
	var senders sync.WaitGroup
	for i, n := range nodes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := 0; j < perNode; j++ {
				resp := n.srv.Do(users[i], http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "x"})
				assert.Equal(t, http.StatusCreated, resp.Status, "sends succeed while Redis is down")
				if j == perNode/4 && i == 0 {
					breakRedis(srv)
				}
				time.Sleep(5 * time.Millisecond) // spread the sends over the outage
			}
		}()
	}
	senders.Wait()
	readers.Wait()
}

func TestRedisKilledMidStream(t *testing.T) {
	faultTest(t, func(srv *redistest.Server) {
		srv.Kill()
		time.Sleep(300 * time.Millisecond) // an outage long enough for sends to miss Redis
		require.NoError(t, srv.Restart())
	})
}

func TestRedisClientKill(t *testing.T) {
	faultTest(t, func(srv *redistest.Server) {
		ctx := context.Background()
		admin := srv.Client()
		require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
		require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err())
	})
}

// A host writes a message in its own transaction through the PostgreSQL
// Store and announces it after commit: members on another node get it; a
// rolled-back one is neither stored, nor delivered, nor takes a seq.
func TestSendInHostTransaction(t *testing.T) {
	open := postgresPools(t)
	newStore := func() chat.Store {
		_, s := open()
		return s
	}
	nodes := startNodes(t, 2, newStore, redisClients(t, ""), randomName("it:")+":")
	c := createChat(t, nodes[0], "shop-bot", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"alice"}})
	alice, _ := nodes[1].srv.Connect("alice", map[string]int64{c.ID: 0})

	db, store := open()
	ctx := context.Background()
	appendInTx := func(text string, commit bool) {
		m, err := nodes[0].svc.NewMessage("shop-bot", c.ID, chat.SendMessageRequest{Text: text})
		require.NoError(t, err)
		tx, err := db.BeginTxx(ctx, nil)
		require.NoError(t, err)
		m, created, err := store.AppendMessageTx(ctx, tx, m)
		require.NoError(t, err)
		require.True(t, created)
		if !commit {
			require.NoError(t, tx.Rollback())
			return
		}
		require.NoError(t, tx.Commit())
		nodes[0].svc.Announce(ctx, m)
	}
	appendInTx("rolled back", false)
	appendInTx("your order has shipped", true)

	ev := nextPastLateAnnouncements(t, alice, c.ID)
	require.Equal(t, chat.EventMessageCreated, ev.Type)
	require.Equal(t, int64(1), ev.Seq, "the rolled-back message took no seq")
	require.Equal(t, "your order has shipped", ev.Message.Text)
}
