package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
)

func TestHookBeforeSendRejectsAndRewrites(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		BeforeSend: func(ctx context.Context, d *chat.Draft) error {
			switch {
			case strings.Contains(d.Text, "http://"):
				return chat.Reject("links are not allowed here")
			case strings.Contains(d.Text, "boom"):
				return errors.New("moderation service down")
			case strings.Contains(d.Text, "empty"):
				d.Text = " "
			}
			d.Text = strings.ReplaceAll(d.Text, "darn", "d**n")
			return nil
		},
	}})
	srv := chattest.NewServer(t, svc)
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})

	resp := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "see http://spam"})
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	require.Equal(t, "rejected", resp.ErrorCode())
	require.Contains(t, string(resp.Body), "links are not allowed here")

	resp = srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "boom"})
	require.Equal(t, http.StatusInternalServerError, resp.Status, "a failing hook fails closed")
	require.NotContains(t, string(resp.Body), "moderation service down")

	resp = srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "empty"})
	require.Equal(t, http.StatusInternalServerError, resp.Status, "a hook's invalid rewrite is the host's bug")

	m := mustSend(t, srv, "alice", c.ID, "darn it")
	require.Equal(t, "d**n it", m.Text)
	require.Equal(t, int64(1), m.Seq, "rejected messages consumed no seq")
}

func TestHookAfterSendRunsOffThePath(t *testing.T) {
	var mu sync.Mutex
	var got []chat.Message
	release := make(chan struct{})
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		AfterSendWorkers: 1,
		AfterSend: func(ctx context.Context, m chat.Message) {
			<-release // a slow webhook
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
		},
	}})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		// Returns although the hook is blocked.
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "x"})
		require.NoError(t, err)
	}
	close(release)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 3
	}, chattest.Timeout, time.Millisecond)
}

type directory map[string]string

func (d directory) LookupUsers(_ context.Context, ids []string) (map[string]chat.User, error) {
	out := map[string]chat.User{}
	for _, id := range ids {
		if name, ok := d[id]; ok {
			out[id] = chat.User{DisplayName: name}
		}
	}
	return out, nil
}

func TestHookAuthorizeAndUserDirectory(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		Users: directory{"alice": "Alice A.", "bob": "Bob B.", "carol": "Carol C."},
		Authorize: func(ctx context.Context, a chat.Action) error {
			for _, m := range a.Members {
				if m == "carol" && a.UserID != "bob" {
					return chat.Deny("carol only talks to bob")
				}
			}
			return nil
		},
	}})
	srv := chattest.NewServer(t, svc)

	resp := srv.Do("alice", http.MethodPost, "/chats", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"carol"}})
	require.Equal(t, http.StatusForbidden, resp.Status)
	require.Contains(t, string(resp.Body), "carol only talks to bob")

	resp = srv.Do("alice", http.MethodPost, "/chats", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"nobody"}})
	require.Equal(t, http.StatusBadRequest, resp.Status)
	require.Contains(t, string(resp.Body), "unknown user")

	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.Equal(t, []chat.Member{{UserID: "alice", DisplayName: "Alice A."}, {UserID: "bob", DisplayName: "Bob B."}}, c.Members)
	got, err := svc.GetChat(context.Background(), "bob", c.ID)
	require.NoError(t, err)
	require.Equal(t, "Alice A.", got.Members[0].DisplayName)
}

func TestRateLimit(t *testing.T) {
	svc := chattest.NewService(t, chat.Config{RateLimit: chat.RateLimit{
		Sends:       chat.Rate{Events: 3, Per: time.Hour},
		ChatCreates: chat.Rate{Events: 1, Per: time.Hour},
	}})
	srv := chattest.NewServer(t, svc)
	c := mustCreateChat(t, srv, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})

	resp := srv.Do("alice", http.MethodPost, "/chats", chat.CreateChatRequest{Kind: chat.KindGroup})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	require.Equal(t, "rate_limited", resp.ErrorCode())
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Greater(t, secs, 3000, "the bucket refills in an hour")

	for i := 0; i < 3; i++ {
		mustSend(t, srv, "alice", c.ID, "ok")
	}
	resp = srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", chat.SendMessageRequest{Text: "one too many"})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	var limited *chat.RateLimitError
	_, _, err = svc.SendMessage(context.Background(), "alice", c.ID, chat.SendMessageRequest{Text: "x"})
	require.ErrorAs(t, err, &limited)
	require.ErrorIs(t, err, chat.ErrRateLimited)

	mustSend(t, srv, "bob", c.ID, "other users have their own bucket")
}

// TestHookAfterSendDrainsOnShutdown checks that Shutdown makes the
// AfterSend calls still queued, and lets the one in flight finish with a
// live ctx, instead of dropping them.
func TestHookAfterSendDrainsOnShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	var mu sync.Mutex
	var got []int64
	var ctxErrs []error
	svc := chattest.NewService(t, chat.Config{Hooks: chat.Hooks{
		AfterSendWorkers: 1,
		AfterSend: func(ctx context.Context, m chat.Message) {
			started <- struct{}{}
			<-release // a push service that takes its time
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m.Seq)
			ctxErrs = append(ctxErrs, ctx.Err())
		},
	}})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	for range 3 {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "x"})
		require.NoError(t, err)
	}
	<-started // one call in flight, two queued

	shutdown := make(chan error, 1)
	go func() { shutdown <- svc.Shutdown(ctx) }()
	require.Eventually(t, func() bool {
		_, err := svc.ListChats(ctx, "alice", chat.ChatListQuery{})
		return errors.Is(err, chat.ErrClosed)
	}, chattest.Timeout, time.Millisecond, "Shutdown has begun")
	close(release)

	require.NoError(t, <-shutdown)
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []int64{1, 2, 3}, got, "every stored message's AfterSend call is made")
	assert.Equal(t, []error{nil, nil, nil}, ctxErrs, "no call is cancelled while Shutdown's ctx lasts")
}

// TestHookAfterSendLogsCallsShutdownGaveUpOn checks that when Shutdown's
// ctx ends first, the in-flight call's ctx ends and every queued call that
// was not made is logged with its message.
func TestHookAfterSendLogsCallsShutdownGaveUpOn(t *testing.T) {
	logs := &logRecorder{}
	started := make(chan struct{}, 3)
	svc := chattest.NewService(t, chat.Config{Logger: slog.New(logs), Hooks: chat.Hooks{
		AfterSendWorkers: 1,
		AfterSend: func(ctx context.Context, m chat.Message) {
			started <- struct{}{}
			<-ctx.Done() // a push service that never answers
		},
	}})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindDirect, Members: []string{"bob"}})
	require.NoError(t, err)
	for range 3 {
		_, _, err := svc.SendMessage(ctx, "alice", c.ID, chat.SendMessageRequest{Text: "x"})
		require.NoError(t, err)
	}
	<-started

	expired, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, svc.Shutdown(expired), context.Canceled)
	const notMade = "chat: AfterSend hook call not made: Shutdown's ctx ended first"
	require.Eventually(t, func() bool { return len(logs.at(slog.LevelError)) == 2 }, chattest.Timeout, time.Millisecond)
	assert.Equal(t, []string{notMade, notMade}, logs.at(slog.LevelError))
	assert.Len(t, started, 0, "no queued call was started after Shutdown gave up")
}
