package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// upload posts a file to a chat of the demo at base, as user.
func upload(t *testing.T, base, user, chatID string, body []byte) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/chats/"+chatID+"/attachments?name=note.txt", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-User", user)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// The demo keeps attachments in memory by default and in a directory with
// -blobs: either way a member uploads, sends and the other downloads.
func TestDemoAttachments(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]config{"memory": {}, "-blobs": {BlobsDir: dir}} {
		t.Run(name, func(t *testing.T) {
			base := runServer(t, cfg)
			alice, bob := identity{header: "alice"}, identity{header: "bob"}
			c := decode[chat.Chat](t, do(t, http.DefaultClient, alice, http.MethodPost, base+"/api/v1/chats", map[string]any{"kind": "group", "members": []string{"bob"}}))
			r := upload(t, base, "alice", c.ID, []byte("hello, file"))
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			a := decode[chat.Attachment](t, r)
			r = do(t, http.DefaultClient, alice, http.MethodPost, base+"/api/v1/chats/"+c.ID+"/messages", map[string]any{"text": "", "attachments": []string{a.ID}})
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			r = do(t, http.DefaultClient, bob, http.MethodGet, base+"/api/v1/chats/"+c.ID+"/attachments/"+a.ID, nil)
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "hello, file", string(r.body))
			require.Equal(t, "attachment; filename=note.txt", r.header.Get("Content-Disposition"))
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "-blobs kept the file in its directory")
}
