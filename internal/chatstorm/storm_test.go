//go:build unix

package main

import (
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

// CI's storm is small: sixty users in three groups of ten each, all
// reconnecting at once to a fresh node. Every one must resume, and on
// PostgreSQL the node must stay within its pool.
func TestSmallStormResumesEveryone(t *testing.T) {
	for _, backend := range []string{"memory", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Backend = backend
			cfg.Users, cfg.Groups, cfg.GroupSize = 60, 3, 10
			cfg.Spread, cfg.Timeout, cfg.Pool = 0, 30*time.Second, 4
			cfg.RedisURL = ""
			if backend == "postgres" {
				cfg.PostgresURL = testenv.PostgresURL(t)
			}
			rep, err := run(t.Context(), cfg)
			require.NoError(t, err)
			var out strings.Builder
			rep.write(&out)
			t.Log("\n" + out.String())
			assert.True(t, rep.ok(), "every connection resumes")
			assert.Empty(t, rep.failures)
			assert.Zero(t, rep.calls["ChatIDs"], "chat ids are read in batches")
			if backend == "postgres" {
				assert.LessOrEqual(t, rep.pg.maxNodeConns, cfg.Pool)
			}
		})
	}
}
