package chatprom_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat/chatprom"
)

// metricNames returns the names of every metric Metrics describes.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		chatprom.New().Describe(ch)
		close(ch)
	}()
	nameRe := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := nameRe.FindStringSubmatch(d.String())
		require.NotNil(t, m, d.String())
		names[m[1]] = true
	}
	return names
}

// docs/operations.md lists every metric, and lists no metric that does not
// exist.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	names := metricNames(t)
	doc, err := os.ReadFile("../docs/operations.md")
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(chat_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	require.Equal(t, names, documented)
}

// The Grafana dashboard queries only metrics that exist.
func TestDashboardQueriesKnownMetrics(t *testing.T) {
	names := metricNames(t)
	dash, err := os.ReadFile("../docs/grafana/embedchat.json")
	require.NoError(t, err)
	used := regexp.MustCompile(`chat_[a-z_]+`).FindAllString(string(dash), -1)
	require.NotEmpty(t, used)
	for _, u := range used {
		base := u
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if trimmed, ok := strings.CutSuffix(u, suffix); ok && names[trimmed] {
				base = trimmed
			}
		}
		require.True(t, names[base], "the dashboard queries %s, which chatprom does not export", u)
	}
}
