package chat_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests hold claims of docs/protocol.md that once were false (issue
// 12 item 6), over real HTTP.

// Unknown paths below a chat are 404 before authentication, as every
// unknown path is.
func TestDocUnknownPathsBelowAChatAre404BeforeAuthentication(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	for _, path := range []string{
		"/chats/" + c.ID + "/foo",
		"/chats/" + c.ID + "/foo/1",
		"/chats/" + c.ID + "/read/1",
		"/chats/nope/foo",
	} {
		for _, user := range []string{"", "alice"} {
			restRequireError(t, srv.Do(user, http.MethodGet, path, nil), http.StatusNotFound, "not_found")
			restRequireError(t, srv.Do(user, http.MethodPost, path, map[string]any{}), http.StatusNotFound, "not_found")
		}
	}
	// The documented routes still need a user.
	restRequireError(t, srv.Do("", http.MethodGet, "/chats/"+c.ID+"/messages", nil), http.StatusUnauthorized, "unauthenticated")
	restRequireError(t, srv.Do("", http.MethodDelete, "/chats/"+c.ID+"/members/bob", nil), http.StatusUnauthorized, "unauthenticated")
}

// Removing from a direct chat is 400 before the removed user id is looked
// at, valid or not, and 404 for callers who are not in the chat.
func TestDocRemoveFromDirectChatChecksInOrder(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	d := restCreateChat(t, srv, "alice", map[string]any{"kind": "direct", "members": []string{"bob"}})
	g := restCreateChat(t, srv, "alice", restGroup("bob"))
	invalid := "%01" // a control character: no valid user id
	for _, member := range []string{"bob", "carol", invalid} {
		restRequireError(t, srv.Do("alice", http.MethodDelete, "/chats/"+d.ID+"/members/"+member, nil), http.StatusBadRequest, "invalid_request")
		restRequireError(t, srv.Do("carol", http.MethodDelete, "/chats/"+d.ID+"/members/"+member, nil), http.StatusNotFound, "not_found")
	}
	restRequireError(t, srv.Do("alice", http.MethodDelete, "/chats/"+g.ID+"/members/"+invalid, nil), http.StatusNotFound, "not_found")
	restRequireError(t, srv.Do("carol", http.MethodDelete, "/chats/"+g.ID+"/members/"+invalid, nil), http.StatusNotFound, "not_found")
}

// A retry is validated like any send, then its text and metadata are
// ignored.
func TestDocRetryIsValidatedThenIgnored(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	first := restSend(t, srv, "alice", c.ID, map[string]any{"text": "hi", "client_id": "k", "metadata": map[string]any{"a": 1}})

	r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "changed", "client_id": "k", "metadata": map[string]any{"b": 2}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	again := restMessageObject(t, r.Body)
	assert.Equal(t, first.Seq, again.Seq)
	assert.Equal(t, "hi", again.Text)
	assert.JSONEq(t, `{"a":1}`, string(again.Metadata))

	restRequireError(t, srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "", "client_id": "k"}),
		http.StatusBadRequest, "invalid_request")
	restRequireError(t, srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", map[string]any{"text": "hi", "client_id": "k", "metadata": []int{1}}),
		http.StatusBadRequest, "invalid_request")
}

// Metadata comes back as the same JSON value, with the whitespace and
// escaping the doc describes.
func TestDocMetadataIsTheSameValueNotTheSameBytes(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	sent := `{ "html": "<b>&</b>",  "n": [1, 2.50, 1e3] }`
	r := srv.Do("alice", http.MethodPost, "/chats/"+c.ID+"/messages", `{"text":"hi","metadata":`+sent+`}`)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var raw struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	assert.JSONEq(t, sent, string(raw.Metadata))
	assert.Equal(t, `{"html":"\u003cb\u003e\u0026\u003c/b\u003e","n":[1,2.50,1e3]}`, string(raw.Metadata))
	page := restListMessages(t, srv, "bob", c.ID, "")
	require.Len(t, page.Messages, 1)
	assert.JSONEq(t, sent, string(page.Messages[0].Metadata))
}
