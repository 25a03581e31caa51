//go:build unix

package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/embedchat/chat/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// CI's soak: three nodes, twenty users and about fifty actions a second
// for twenty-odd seconds, with every kind of fault injected at least once.
// No connection may lose, repeat, reorder or leak an event, and every one
// must catch up with the Store at the end.
func TestShortSoakKeepsTheInvariant(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for about half a minute")
	}
	cfg := defaultConfig()
	cfg.PostgresURL = testenv.PostgresURL(t)
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Unavailable(t, "%s is not installed: %v", bin, err)
		}
	}
	cfg.Duration = 20 * time.Second
	cfg.FaultEvery = 2 * time.Second

	rep, err := run(t.Context(), cfg)
	require.NoError(t, err)
	var out strings.Builder
	rep.write(&out)
	t.Log("\n" + out.String())

	injected := make(map[string]int)
	for _, f := range rep.faults {
		injected[f.kind]++
	}
	for _, kind := range allFaults {
		assert.NotZero(t, injected[kind], "no %s fault was injected", kind)
	}
	assert.True(t, rep.ok(), "the soak broke the invariant; rerun with the command above")
}
