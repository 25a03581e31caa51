package origin

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		origin   string
		patterns []string
		want     bool
	}{
		{"https://app.example.com", []string{"app.example.com"}, true},
		{"https://APP.example.com", []string{"app.EXAMPLE.com"}, true},
		{"https://x.example.com", []string{"*.example.com"}, true},
		{"https://example.com", []string{"*.example.com"}, false},
		{"https://evil.com", []string{"*.example.com"}, false},
		{"https://app.example.com:8443", []string{"app.example.com"}, false},
		{"https://app.example.com:8443", []string{"app.example.com:*"}, true},
		{"https://app.example.com", []string{"https://app.example.com"}, true},
		{"http://app.example.com", []string{"https://app.example.com"}, false},
		{"null", []string{"*"}, false},
		{"", []string{"*"}, false},
		{"https://app.example.com", nil, false},
	} {
		got, err := Match(tc.origin, tc.patterns)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%q against %q", tc.origin, tc.patterns)
	}
	_, err := Match("https://a.example", []string{"[", "a.example"})
	assert.Error(t, err, "a malformed pattern before a match")
	assert.Error(t, Validate([]string{"ok.example", "["}))
	assert.NoError(t, Validate([]string{"ok.example", "*.example"}))
}

func TestCheck(t *testing.T) {
	r := httptest.NewRequest("GET", "http://api.example.com/ws", nil)
	assert.NoError(t, Check(r, nil), "no Origin: not a browser")
	r.Header.Set("Origin", "https://api.example.com")
	assert.NoError(t, Check(r, nil), "same host")
	r.Header.Set("Origin", "https://evil.example")
	assert.Error(t, Check(r, nil))
	assert.NoError(t, Check(r, []string{"*.example"}))
	r.Header.Set("Origin", "null")
	assert.Error(t, Check(r, []string{"*"}))
}
