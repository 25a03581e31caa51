package redisbroker_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/memory"
	"github.com/embedchat/chat/redisbroker"
)

// presenceTTL is the lease of the nodes of these tests: short, so that a
// killed node's users go offline quickly; every wait for it is generous.
const presenceTTL = 600 * time.Millisecond

const (
	helperRedisEnv  = "CHAT_PRESENCE_HELPER_REDIS"
	helperPrefixEnv = "CHAT_PRESENCE_HELPER_PREFIX"
)

// presenceService returns a node on client under prefix, with a memory
// Store of its own.
func presenceService(t testing.TB, store chat.Store, client redis.UniversalClient, prefix string) *chat.Service {
	t.Helper()
	b, err := redisbroker.New(client, redisbroker.Config{Prefix: prefix})
	require.NoError(t, err)
	svc, err := chat.New(chat.Config{Store: store, Broker: b,
		Presence: chat.PresenceConfig{Enabled: true, Grace: time.Millisecond, TTL: presenceTTL}})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, svc.Shutdown(ctx))
	})
	return svc
}

func presenceSubscribe(t testing.TB, svc *chat.Service, user string) *chat.Subscription {
	t.Helper()
	sub, err := svc.Subscribe(context.Background(), user, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	require.Equal(t, chat.EventResumed, nextPresenceEvent(t, sub).Type)
	return sub
}

// nextPresenceEvent returns sub's next event but chat.created.
func nextPresenceEvent(t testing.TB, sub *chat.Subscription) chat.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ev, err := sub.Next(ctx)
		require.NoError(t, err)
		if ev.Type != chat.EventChatCreated {
			return ev
		}
	}
}

func memberOnline(t testing.TB, svc *chat.Service, viewer, chatID, user string) bool {
	t.Helper()
	page, err := svc.ChatPresence(context.Background(), viewer, chatID, chat.MemberQuery{})
	require.NoError(t, err)
	for _, p := range page.Presence {
		if p.UserID == user {
			return p.Online
		}
	}
	return false
}

// TestPresenceHelperNode is not a test: TestPresenceNodeKilled runs the
// test binary with it as a node process, which it then kills with SIGKILL.
// It connects alice, says "ready" and waits to be killed.
func TestPresenceHelperNode(t *testing.T) {
	addr := os.Getenv(helperRedisEnv)
	if addr == "" {
		t.Skip("a node process for TestPresenceNodeKilled")
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	svc := presenceService(t, memory.NewStore(), client, os.Getenv(helperPrefixEnv))
	presenceSubscribe(t, svc, "alice")
	b, err := redisbroker.New(client, redisbroker.Config{Prefix: os.Getenv(helperPrefixEnv)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ps, err := b.Presence(context.Background(), []string{"alice"})
		return err == nil && ps[0].Online
	}, 20*time.Second, 10*time.Millisecond)
	os.Stdout.WriteString("ready\n")
	select {}
}

// A node killed with SIGKILL leaves its users' entries behind; they
// expire, and another node tells the members alice went offline within
// TTL + TTL/3 of the dead node's last renewal.
func TestPresenceNodeKilled(t *testing.T) {
	srv := redistest.StartServer(t)
	client := srv.Client()
	pfx := presencePrefix(t)
	store := memory.NewStore()
	node := presenceService(t, store, client, pfx)
	g, _, err := node.CreateChat(t.Context(), "bob", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"alice"}})
	require.NoError(t, err)
	bob := presenceSubscribe(t, node, "bob")

	cmd := exec.Command(os.Args[0], "-test.run=^TestPresenceHelperNode$", "-test.v")
	cmd.Env = append(os.Environ(), helperRedisEnv+"="+srv.Addr(), helperPrefixEnv+"="+pfx)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	ready := make(chan struct{})
	lines := bufio.NewScanner(out)
	go func() {
		defer close(exited)
		for lines.Scan() {
			if strings.TrimSpace(lines.Text()) == "ready" {
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatal("the node process exited before it was ready")
	case <-time.After(60 * time.Second):
		t.Fatal("the node process never got ready")
	}
	require.True(t, memberOnline(t, node, "bob", g.ID, "alice"), "alice is connected to the node process")

	require.NoError(t, cmd.Process.Kill())
	killed := time.Now()
	ev := nextPresenceEvent(t, bob)
	require.Equal(t, chat.EventPresence, ev.Type)
	require.Equal(t, "alice", ev.UserID)
	require.False(t, ev.Presence.Online)
	t.Logf("offline %v after SIGKILL (bound: TTL + TTL/3 = %v after the last renewal)", time.Since(killed), presenceTTL+presenceTTL/3)
	assert.False(t, memberOnline(t, node, "bob", g.ID, "alice"))
}

// A Redis restart loses every entry: reads show users offline until
// their nodes' next renewal records them again, at most TTL/3 later.
func TestPresenceSurvivesRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	client := srv.Client()
	node := presenceService(t, memory.NewStore(), client, presencePrefix(t))
	g, _, err := node.CreateChat(t.Context(), "bob", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"alice"}})
	require.NoError(t, err)
	presenceSubscribe(t, node, "bob")
	presenceSubscribe(t, node, "alice")
	require.Eventually(t, func() bool { return memberOnline(t, node, "bob", g.ID, "alice") }, 20*time.Second, 10*time.Millisecond)

	require.NoError(t, srv.Restart())
	require.Eventually(t, func() bool {
		page, err := node.ChatPresence(t.Context(), "bob", g.ID, chat.MemberQuery{})
		return err == nil && page.Presence[0].Online && page.Presence[1].Online
	}, 20*time.Second, 10*time.Millisecond, "the renewals record alice and bob again")
}
