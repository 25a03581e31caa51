// Package testenv finds the external services that integration tests use.
//
// Tests call PostgresURL or RedisURL. When the service cannot be reached the
// test is skipped with a message naming the variable to set, unless the
// environment variable CI is "true": in CI a missing service fails the test,
// so that a broken setup can never pass as a green run of skipped tests.
package testenv

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// Default addresses of the services on a developer machine.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379"
)

// PostgresURL returns CHAT_TEST_POSTGRES_URL, or DefaultPostgresURL, after
// checking that the server accepts TCP connections.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, "CHAT_TEST_POSTGRES_URL", DefaultPostgresURL, "5432")
}

// RedisURL returns CHAT_TEST_REDIS_URL, or DefaultRedisURL, after checking
// that the server accepts TCP connections.
func RedisURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, "CHAT_TEST_REDIS_URL", DefaultRedisURL, "6379")
}

// InCI reports whether the tests run in CI, where nothing may be skipped for
// lack of a service.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it in CI, because a service it needs
// is not there.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func serviceURL(t testing.TB, env, def, defaultPort string) string {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s=%q is not a URL: %v", env, raw, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		Unavailable(t, "%s unreachable at %s (%v); set %s to run this test", env, host, err, env)
		return ""
	}
	conn.Close()
	return raw
}
