//go:build unix

package redisbroker_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/brokertest"
	"github.com/embedchat/chat/internal/redistest"
	"github.com/embedchat/chat/redisbroker"
)

func TestUnansweredPing(t *testing.T) {
	srv := redistest.StartServer(t)
	logs := new(logRecorder)
	b := newBroker(t, srv.Client(), redisbroker.Config{
		HealthCheckInterval: 100 * time.Millisecond,
		Logger:              slog.New(logs),
	})
	rec := new(brokertest.Recorder)
	sub := openSubscriber(t, b, rec)
	subscribe(t, sub, "a")

	// A stopped server keeps its connections open and answers nothing, as
	// a partitioned network does.
	require.NoError(t, srv.Pause())
	resumed := false
	defer func() {
		if !resumed {
			_ = srv.Resume()
		}
	}()
	logs.wait(t, "redisbroker: pub/sub connection lost")
	require.NoError(t, srv.Resume())
	resumed = true

	waitLost(t, rec, "a")
	publishT(t, b, "a", "after pause")
	waitCount(t, rec, "a", 1)
}
