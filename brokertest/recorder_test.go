package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRecorderWaitReturnsTheFirstN(t *testing.T) {
	var r Recorder
	r.HandleNotification("t", []byte("1"))
	r.HandleNotification("t", []byte("2"))
	r.HandleNotification("t", []byte("3"))

	got, err := r.Wait(t.Context(), "t", 2)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("1"), []byte("2")}, got)

	got, err = r.Wait(t.Context(), "t", 0)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestRecorderWaitBlocksUntilDelivered(t *testing.T) {
	var r Recorder
	done := make(chan [][]byte)
	go func() {
		got, err := r.Wait(t.Context(), "t", 3)
		assert.NoError(t, err)
		done <- got
	}()

	r.HandleNotification("other", []byte("x"))
	r.HandleLost([]string{"t"})
	for _, p := range []string{"a", "b", "c", "d"} {
		r.HandleNotification("t", []byte(p))
	}

	select {
	case got := <-done:
		assert.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, got)
	case <-time.After(waitTimeout):
		t.Fatal("Wait did not return")
	}
}

func TestRecorderWaitEndsWithContext(t *testing.T) {
	var r Recorder
	r.HandleNotification("t", []byte("only"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := r.Wait(ctx, "t", 2)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), `1 of 2 notifications arrived on topic "t"`)

	err = r.WaitLost(ctx, "t")
	require.ErrorIs(t, err, context.Canceled)
}

func TestRecorderWaitLost(t *testing.T) {
	var r Recorder
	done := make(chan error)
	go func() { done <- r.WaitLost(t.Context(), "b") }()

	r.HandleNotification("b", nil)
	r.HandleLost([]string{"a"})
	r.HandleLost([]string{"b", "c"})

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("WaitLost did not return")
	}
	assert.Equal(t, []string{"a", "b", "c"}, r.Lost())
}

func TestRecorderInspection(t *testing.T) {
	var r Recorder
	assert.Empty(t, r.Topics())
	assert.Empty(t, r.Lost())
	assert.Zero(t, r.Count("t"))

	r.HandleNotification("z", []byte("1"))
	r.HandleNotification("a", []byte("2"))
	r.HandleNotification("z", []byte("3"))

	assert.Equal(t, []string{"a", "z"}, r.Topics())
	assert.Equal(t, 2, r.Count("z"))
	assert.Equal(t, 3, r.Count("a", "z", "none"))

	got := r.Notifications("z")
	got[0] = nil
	assert.Equal(t, [][]byte{[]byte("1"), []byte("3")}, r.Notifications("z"), "Notifications returned the Recorder's own slice")
}
