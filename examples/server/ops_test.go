package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// With -metrics the demo serves Prometheus metrics that move as it works,
// and its health endpoints answer.
func TestMetricsAndHealthEndpoints(t *testing.T) {
	base := runServer(t, config{Metrics: true})
	client := &http.Client{}
	defer client.CloseIdleConnections()

	for _, path := range []string{"/healthz/livez", "/healthz/readyz"} {
		resp, err := client.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	alice := identity{header: "alice"}
	c := decode[chat.Chat](t, do(t, client, alice, http.MethodPost, base+"/api/v1/chats",
		map[string]any{"kind": "direct", "members": []string{"bob"}}))
	connect(t, base, identity{header: "bob"})
	do(t, client, alice, http.MethodPost, base+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "hi"})

	resp, err := client.Get(base + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(body)
	for _, want := range []string{
		`chat_http_requests_total{method="POST",route="/chats/{chat_id}/messages",status="201"} 1`,
		`chat_send_duration_seconds_count 1`,
		`chat_store_call_duration_seconds_count{method="AppendMessage"} 1`,
		`chat_connections 1`,
		`go_goroutines`,
	} {
		require.True(t, strings.Contains(text, want), "metrics lack %q:\n%s", want, text)
	}
}
