package chat

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Buckets of users who went quiet are forgotten, so a limiter's memory
// follows the recently active users, not everyone ever seen.
func TestUserLimiterForgetsRefilledBuckets(t *testing.T) {
	now := time.Unix(0, 0)
	l := newUserLimiter("send", Rate{Events: 2, Per: time.Second}, func() time.Time { return now })
	for i := 0; i < 1000; i++ {
		require.NoError(t, l.allow(fmt.Sprint("user-", i)))
	}
	require.NoError(t, l.allow("busy"))
	require.NoError(t, l.allow("busy"))
	var limited *RateLimitError
	require.ErrorAs(t, l.allow("busy"), &limited)
	require.Equal(t, 500*time.Millisecond, limited.RetryAfter)
	require.Len(t, l.buckets, 1001)

	now = now.Add(2 * time.Second)
	require.NoError(t, l.allow("busy"))
	require.Len(t, l.buckets, 1, "only the bucket just used is left")
}

func TestUserLimiterDisabled(t *testing.T) {
	require.Nil(t, newUserLimiter("send", Rate{}, time.Now))
	var l *userLimiter
	require.NoError(t, l.allow("anyone"))
}
