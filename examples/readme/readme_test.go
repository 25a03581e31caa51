package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMESnippetsCompile holds README.md to this package: every ```go
// block there must appear here line for line (indentation aside), so that
// it compiles as written.
func TestREADMESnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README.md has no Go snippet")

	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var code []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		code = append(code, snippetLines(string(data))...)
	}
	for _, b := range blocks {
		lines := snippetLines(string(b[1]))
		require.True(t, containsRun(code, lines),
			"this README.md snippet is not in examples/readme, so nothing compiles it:\n%s", b[1])
	}
}

// The README states the minimum Go version that go.mod sets.
func TestREADMEGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	require.NotNil(t, m, "go.mod has no go line")
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "Go "+string(m[1])+" or later", "README.md must state go.mod's minimum Go version")
}

// snippetLines is s without indentation and blank lines.
func snippetLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(haystack, needle []string) bool {
	for i := 0; i+len(needle) <= len(haystack); i++ {
		match := true
		for j := range needle {
			if haystack[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
