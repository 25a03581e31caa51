package chat_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/chattest"
	"github.com/embedchat/chat/memory"
)

// restSearch runs GET /search as user with the query parameters of q and
// checks the wire form of the page.
func restSearch(t *testing.T, srv *chattest.Server, user string, q url.Values) chat.SearchPage {
	t.Helper()
	r := srv.Do(user, http.MethodGet, "/search?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, r.Status, "GET /search?%s: %s", q.Encode(), r.Body)
	raw := restFields(t, "search page", r.Body, "hits", "next_cursor")
	require.NotEqual(t, "null", string(raw["hits"]), "hits must be a list")
	var hits []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw["hits"], &hits))
	for _, h := range hits {
		require.Contains(t, h, "message")
		require.Contains(t, h, "highlights")
		require.NotEqual(t, "null", string(h["highlights"]), "highlights must be a list")
		restMessageObject(t, h["message"])
	}
	var page chat.SearchPage
	r.Decode(t, &page)
	return page
}

// searchTexts returns the texts of the hits, in order.
func searchTexts(page chat.SearchPage) []string {
	out := []string{}
	for _, h := range page.Hits {
		out = append(out, h.Message.Text)
	}
	return out
}

func TestRESTSearch(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	mine := restCreateChat(t, srv, "alice", restGroup("bob"))
	theirs := restCreateChat(t, srv, "bob", restGroup("carol"))
	restSend(t, srv, "bob", mine.ID, map[string]any{"text": "🎉 Party time, PARTY!"})
	restSend(t, srv, "bob", mine.ID, map[string]any{"text": "a partial party-goer <b>here</b>"})
	restSend(t, srv, "bob", theirs.ID, map[string]any{"text": "party elsewhere"})
	restSend(t, srv, "bob", mine.ID, map[string]any{"text": "nothing to see"})

	page := restSearch(t, srv, "alice", url.Values{"q": {"PART"}})
	require.Equal(t, []string{"a partial party-goer <b>here</b>", "🎉 Party time, PARTY!"}, searchTexts(page),
		"the caller's chats only, newest first")
	assert.Empty(t, page.NextCursor)
	// Offsets count UTF-16 code units: the emoji is two.
	assert.Equal(t, []chat.TextRange{{Start: 3, End: 7}, {Start: 15, End: 19}}, page.Hits[1].Highlights)
	assert.Equal(t, []chat.TextRange{{Start: 2, End: 6}, {Start: 10, End: 14}}, page.Hits[0].Highlights)
	hit := page.Hits[1]
	assert.Equal(t, "Party", hit.Message.Text[5:10], "the byte form of the first range")

	page = restSearch(t, srv, "alice", url.Values{"q": {"party go"}})
	require.Equal(t, []string{"a partial party-goer <b>here</b>"}, searchTexts(page), "every word must match")
	assert.Equal(t, []chat.TextRange{{Start: 10, End: 15}, {Start: 16, End: 18}}, page.Hits[0].Highlights,
		"the longest matching word wins where several match")

	page = restSearch(t, srv, "bob", url.Values{"q": {"party"}, "chat_id": {theirs.ID}})
	assert.Equal(t, []string{"party elsewhere"}, searchTexts(page), "chat_id restricts the search to one chat")
	assert.Empty(t, restSearch(t, srv, "alice", url.Values{"q": {"elsewhere"}}).Hits)
}

func TestRESTSearchMembershipAtQueryTime(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "bob", restGroup("alice"))
	restSend(t, srv, "bob", c.ID, map[string]any{"text": "plans before"})
	require.Len(t, restSearch(t, srv, "alice", url.Values{"q": {"plans"}}).Hits, 1)

	r := srv.Do("bob", http.MethodDelete, "/chats/"+c.ID+"/members/alice", nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	restSend(t, srv, "bob", c.ID, map[string]any{"text": "plans after"})
	assert.Empty(t, restSearch(t, srv, "alice", url.Values{"q": {"plans"}}).Hits,
		"a removed member finds nothing of the chat, as its history answers 404")
	restRequireError(t, srv.Do("alice", http.MethodGet, "/search?q=plans&chat_id="+c.ID, nil), http.StatusNotFound, "not_found")

	r = srv.Do("bob", http.MethodPost, "/chats/"+c.ID+"/members", map[string]any{"user_id": "alice"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	assert.Equal(t, []string{"plans after", "plans before"}, searchTexts(restSearch(t, srv, "alice", url.Values{"q": {"plans"}})),
		"a member added back finds what the chat's history shows them")
}

func TestRESTSearchDeletedAndEdited(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	gone := restSend(t, srv, "bob", c.ID, map[string]any{"text": "oops wrong chat"})
	edited := restSend(t, srv, "bob", c.ID, map[string]any{"text": "teh typo"})
	r := srv.Do("bob", http.MethodDelete, "/chats/"+c.ID+"/messages/"+itoa(gone.Seq), nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = srv.Do("bob", http.MethodPatch, "/chats/"+c.ID+"/messages/"+itoa(edited.Seq), map[string]any{"text": "the typo fixed"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	assert.Empty(t, restSearch(t, srv, "alice", url.Values{"q": {"oops"}}).Hits, "deleted messages are never found")
	assert.Empty(t, restSearch(t, srv, "alice", url.Values{"q": {"teh"}}).Hits, "edited messages are not found by their old text")
	page := restSearch(t, srv, "alice", url.Values{"q": {"fixed"}})
	require.Len(t, page.Hits, 1)
	assert.Equal(t, "the typo fixed", page.Hits[0].Message.Text)
	assert.NotNil(t, page.Hits[0].Message.EditedAt)
	assert.Equal(t, []chat.TextRange{{Start: 9, End: 14}}, page.Hits[0].Highlights)
}

func TestRESTSearchPaging(t *testing.T) {
	t.Parallel()
	svc, srv := newRESTServer(t)
	a := restCreateChat(t, srv, "alice", restGroup("bob"))
	b := restCreateChat(t, srv, "alice", restGroup("carol"))
	restSeed(t, svc, "bob", a.ID, 5)
	restSeed(t, svc, "carol", b.ID, 4)
	all := restSearch(t, srv, "alice", url.Values{"q": {"message"}})
	require.Len(t, all.Hits, 9)
	for i := 1; i < len(all.Hits); i++ {
		assert.False(t, all.Hits[i].Message.CreatedAt.After(all.Hits[i-1].Message.CreatedAt), "newest first")
	}

	var walked []chat.SearchHit
	cursor := ""
	for range 10 {
		q := url.Values{"q": {"message"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page := restSearch(t, srv, "alice", q)
		require.LessOrEqual(t, len(page.Hits), 2)
		walked = append(walked, page.Hits...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	assert.Equal(t, all.Hits, walked, "pages walk every hit once, in order")
}

func TestRESTSearchBadInput(t *testing.T) {
	t.Parallel()
	_, srv := newRESTServer(t)
	c := restCreateChat(t, srv, "alice", restGroup("bob"))
	other := restCreateChat(t, srv, "bob", restGroup("carol"))
	cursor := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

	for _, tc := range []struct {
		name   string
		query  string
		status int
		code   string
	}{
		{"no q", "", 400, "invalid_request"},
		{"empty q", "q=", 400, "invalid_request"},
		{"q without a word", "q=" + url.QueryEscape(" -- !? "), 400, "invalid_request"},
		{"q too long", "q=" + strings.Repeat("é", chat.MaxSearchQueryRunes+1), 400, "invalid_request"},
		{"q with too many words", "q=" + url.QueryEscape(manyWords(chat.MaxSearchTerms+1)), 400, "invalid_request"},
		{"q not UTF-8", "q=%FF%FE", 400, "invalid_request"},
		{"q with NUL", "q=a%00b", 400, "invalid_request"},
		{"limit zero", "q=a&limit=0", 400, "invalid_request"},
		{"limit not a number", "q=a&limit=x", 400, "invalid_request"},
		{"cursor not base64", "q=a&cursor=%21%21", 400, "invalid_request"},
		{"cursor without fields", "q=a&cursor=" + cursor("123"), 400, "invalid_request"},
		{"cursor with a bad seq", "q=a&cursor=" + cursor("1700000000000000:0:c"), 400, "invalid_request"},
		{"cursor with a bad time", "q=a&cursor=" + cursor("999999999999999999:1:c"), 400, "invalid_request"},
		{"cursor without chat", "q=a&cursor=" + cursor("1700000000000000:1:"), 400, "invalid_request"},
		{"cursor with a NUL chat", "q=a&cursor=" + cursor("1700000000000000:1:\x00"), 400, "invalid_request"},
		{"chat that does not exist", "q=a&chat_id=nope", 404, "not_found"},
		{"chat of others", "q=a&chat_id=" + other.ID, 404, "not_found"},
		{"malformed chat id", "q=a&chat_id=" + strings.Repeat("x", chat.DefaultMaxIDBytes+1), 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restRequireError(t, srv.Do("alice", http.MethodGet, "/search?"+tc.query, nil), tc.status, tc.code)
		})
	}
	restRequireError(t, srv.Do("", http.MethodGet, "/search?q=a", nil), http.StatusUnauthorized, "unauthenticated")
	r := srv.Do("alice", http.MethodPost, "/search?q=a", map[string]any{})
	require.Equal(t, http.StatusMethodNotAllowed, r.Status, "body: %s", r.Body)
	assert.Equal(t, "GET", r.Header.Get("Allow"))
	restRequireError(t, srv.Do("alice", http.MethodGet, "/search/x?q=a", nil), http.StatusNotFound, "not_found")
	// A search within the limits is fine, and a member's chat_id too.
	restSearch(t, srv, "alice", url.Values{"q": {strings.Repeat("é", chat.MaxSearchQueryRunes)}, "chat_id": {c.ID}})
	restSearch(t, srv, "alice", url.Values{"q": {manyWords(chat.MaxSearchTerms) + " w0 W1"}})
}

// manyWords returns n distinct words.
func manyWords(n int) string {
	words := make([]string, n)
	for i := range words {
		words[i] = "w" + strconv.Itoa(i)
	}
	return strings.Join(words, " ")
}

// storeWithoutSearch hides every optional ability of its Store.
type storeWithoutSearch struct{ chat.Store }

func TestRESTSearchWithoutSearcherIs501(t *testing.T) {
	t.Parallel()
	svc := chattest.NewService(t, chat.Config{Store: storeWithoutSearch{memory.NewStore()}})
	srv := chattest.NewServer(t, svc)
	validateAgainstOpenAPI(t, srv)
	r := srv.Do("alice", http.MethodGet, "/search?q=hello", nil)
	restRequireError(t, r, http.StatusNotImplemented, "not_implemented")
	assert.Contains(t, string(r.Body), "search is not available")

	_, err := svc.Search(context.Background(), "alice", chat.SearchQuery{Text: "hello"})
	require.ErrorIs(t, err, chat.ErrNotImplemented)
	// The rest of the API works as before.
	restCreateChat(t, srv, "alice", restGroup("bob"))
}

// searchObserver records the Store methods the Service calls.
type searchObserver struct {
	mu      sync.Mutex
	methods []string
}

func (o *searchObserver) Observe(obs chat.Observation) {
	if sc, ok := obs.(chat.StoreCallObserved); ok {
		o.mu.Lock()
		o.methods = append(o.methods, sc.Method)
		o.mu.Unlock()
	}
}

// An observed Service reaches the optional ability through its wrapper.
func TestSearchObserved(t *testing.T) {
	t.Parallel()
	obs := &searchObserver{}
	svc := chattest.NewService(t, chat.Config{Observer: obs})
	ctx := context.Background()
	c, _, err := svc.CreateChat(ctx, "alice", chat.CreateChatRequest{Kind: chat.KindGroup, Members: []string{"bob"}})
	require.NoError(t, err)
	_, _, err = svc.SendMessage(ctx, "bob", c.ID, chat.SendMessageRequest{Text: "observed words"})
	require.NoError(t, err)
	page, err := svc.Search(ctx, "alice", chat.SearchQuery{Text: "word"})
	require.NoError(t, err)
	require.Len(t, page.Hits, 1)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	assert.Contains(t, obs.methods, "SearchMessages")
}
