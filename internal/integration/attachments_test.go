package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/fsblob"
	"github.com/embedchat/chat/memory"
)

// Two nodes on one PostgreSQL schema and one blob directory, as
// examples/server runs with -postgres and -blobs: an upload to one node is
// sent there, delivered with its attachments on the other, downloaded
// there, and deleted with its message from either.
func TestMultiNodeAttachments(t *testing.T) {
	newStore := postgresStores(t)
	dir := t.TempDir()
	nodes := make([]node, 2)
	for i := range nodes {
		blobs, err := fsblob.New(dir)
		require.NoError(t, err)
		t.Cleanup(func() { blobs.Close() })
		svc := chattest.NewService(t, chat.Config{Store: newStore(), Broker: memory.NewBroker(), Blobs: blobs})
		nodes[i] = node{svc: svc, srv: chattest.NewServer(t, svc)}
	}
	a, b := nodes[0], nodes[1]
	group := createChat(t, a, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})

	body := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 100_000)...)
	resp := a.srv.As("alice").Do(http.MethodPost, "/chats/"+group.ID+"/attachments?name=report.pdf", body,
		chattest.WithHeader("Content-Type", "application/octet-stream"))
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var att chat.Attachment
	resp.Decode(t, &att)
	require.Equal(t, "application/pdf", att.ContentType)

	resp = a.srv.Do("alice", http.MethodPost, "/chats/"+group.ID+"/messages", chat.SendMessageRequest{Attachments: []string{att.ID}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var m chat.Message
	resp.Decode(t, &m)

	_, replay := b.srv.Connect("bob", map[string]int64{group.ID: 0})
	require.Equal(t, chat.EventMessageCreated, replay[0].Type)
	require.Len(t, replay[0].Message.Attachments, 1)
	require.Equal(t, att.ID, replay[0].Message.Attachments[0].ID)
	require.Equal(t, m.Seq, replay[0].Message.Attachments[0].MessageSeq)

	resp = b.srv.Do("bob", http.MethodGet, "/chats/"+group.ID+"/attachments/"+att.ID, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, body, resp.Body)

	// An upload never sent is swept by either node once stale.
	resp = b.srv.As("bob").Do(http.MethodPost, "/chats/"+group.ID+"/attachments", []byte("just text"),
		chattest.WithHeader("Content-Type", "application/octet-stream"))
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	resp = b.srv.Do("alice", http.MethodDelete, fmt.Sprintf("/chats/%s/messages/%d", group.ID, m.Seq), nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	resp = a.srv.Do("alice", http.MethodGet, "/chats/"+group.ID+"/attachments/"+att.ID, nil)
	require.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the unsent upload is left")
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	n, err := a.svc.SweepAttachments(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the unsent upload is not stale yet")
}
