package chat

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/embedchat/chat/internal/textsearch"
)

// MessageSearcher is an optional ability of a Store: finding messages by
// the words of their text. Service.Search (GET /search) uses it; with a
// Store that lacks it, Search fails with ErrNotImplemented (HTTP 501).
// Package searchtest checks an implementation.
//
// Matching: a word is a maximal run of Unicode letters, marks and digits.
// A message matches when each of the terms begins a word of its current
// text, compared case-insensitively ("wor" finds "World"). Deleted
// messages never match, and an edited message matches by its current text
// only. A Store may split words differently around punctuation inside a
// token (PostgreSQL keeps "3.14" and "a@b.example" whole), and one
// configured to stem words or drop stop words (a PostgreSQL text search
// configuration such as 'english') may also find other forms of a word
// and ignore common ones; with its default settings a Store finds exactly
// the messages this rule matches, in texts of plain words.
type MessageSearcher interface {
	// SearchMessages returns up to q.Limit messages that match q.Terms,
	// from the chats userID is a member of at the time of the call (of
	// q.ChatID alone, if it is set), newest first: by CreatedAt
	// descending, then ChatID descending (byte-wise), then Seq
	// descending. When q.After is not nil it returns only messages that
	// sort strictly after that position. Membership is checked by the
	// same query that searches: a user removed from a chat finds none of
	// its messages, whenever they were sent, and a user added to one finds
	// all of them, as its history shows them. A chat that does not exist,
	// or that userID is not a member of, gives no messages and no error.
	SearchMessages(ctx context.Context, userID string, q MessageSearch) ([]Message, error)
}

// MessageSearch selects a page of search results for
// MessageSearcher.SearchMessages.
type MessageSearch struct {
	// Terms are the words to find: at least one, at most MaxSearchTerms,
	// each a non-empty run of lower-case letters, marks and digits.
	Terms []string
	// ChatID, if not empty, restricts the search to that chat.
	ChatID string
	// Limit is the largest number of messages to return; always positive.
	Limit int
	// After, if not nil, is the position of the last message of the
	// previous page.
	After *SearchPosition
}

// SearchPosition is a place in search results, which are ordered by
// CreatedAt descending, then ChatID descending, then Seq descending.
type SearchPosition struct {
	CreatedAt time.Time
	ChatID    string
	Seq       int64
}

// Search bounds.
const (
	// MaxSearchQueryRunes bounds a search query, in code points.
	MaxSearchQueryRunes = 200
	// MaxSearchTerms bounds the distinct words of a search query.
	MaxSearchTerms = 16
)

// SearchQuery is a search for Service.Search: the query parameters of
// GET /search.
type SearchQuery struct {
	// Text is what the user typed: its words are the terms to find.
	Text string
	// ChatID, if not empty, searches that chat only.
	ChatID string
	// Limit is the page size: 0 means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first.
	Cursor string
}

// SearchPage is a page of search results, newest first.
type SearchPage struct {
	Hits []SearchHit `json:"hits"`
	// NextCursor continues the results; "" at the end.
	NextCursor string `json:"next_cursor"`
}

// SearchHit is a message found by Search and where its text matched.
type SearchHit struct {
	Message Message `json:"message"`
	// Highlights are the parts of Message.Text that the query's words
	// matched, in order and without overlap. They are offsets, not
	// markup, so that a client renders the text as text and a message
	// can never inject HTML into the page that shows it.
	Highlights []TextRange `json:"highlights"`
}

// TextRange is the part of a text from Start (inclusive) to End
// (exclusive), counted in UTF-16 code units, as JavaScript's
// String.prototype.slice counts them.
type TextRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// errSearchUnsupported is Search's answer when the Store cannot search.
var errSearchUnsupported = &requestError{kind: ErrNotImplemented, msg: "search is not available: this server's Store does not implement chat.MessageSearcher"}

// Search returns the messages of userID's chats (or of q.ChatID alone)
// whose text has every word of q.Text at the start of one of its words,
// newest first, each with the ranges that matched. Deleted messages are
// never found, edited ones by their current text. Membership is checked
// when the search runs: a user finds the messages of the chats they are in
// at that moment, as their history shows them, and none of a chat they
// have left. A ChatID that does not exist or that userID is not a member
// of is ErrNotFound. With a Store that is no MessageSearcher, Search fails
// with ErrNotImplemented.
func (s *Service) Search(ctx context.Context, userID string, q SearchQuery) (SearchPage, error) {
	if err := s.checkOpen(); err != nil {
		return SearchPage{}, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return SearchPage{}, err
	}
	searcher, ok := s.backend.(MessageSearcher)
	if !ok {
		return SearchPage{}, errSearchUnsupported
	}
	terms, err := searchTerms(q.Text)
	if err != nil {
		return SearchPage{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return SearchPage{}, err
	}
	ms := MessageSearch{Terms: terms, ChatID: q.ChatID, Limit: limit + 1}
	if q.Cursor != "" {
		pos, err := decodeSearchCursor(q.Cursor)
		if err != nil {
			return SearchPage{}, err
		}
		ms.After = &pos
	}
	if q.ChatID != "" {
		if err := s.checkMember(ctx, userID, q.ChatID); err != nil {
			return SearchPage{}, err
		}
	}
	var msgs []Message
	if o, observed := s.store.(*observedStore); observed {
		msgs, err = o.searchMessages(ctx, searcher, userID, ms)
	} else {
		msgs, err = searcher.SearchMessages(ctx, userID, ms)
	}
	if err != nil {
		return SearchPage{}, fmt.Errorf("chat: search messages: %w", err)
	}
	page := SearchPage{Hits: make([]SearchHit, 0, min(len(msgs), limit))}
	if len(msgs) > limit {
		msgs = msgs[:limit]
		last := msgs[limit-1]
		page.NextCursor = encodeSearchCursor(SearchPosition{CreatedAt: last.CreatedAt, ChatID: last.ChatID, Seq: last.Seq})
	}
	for _, m := range msgs {
		page.Hits = append(page.Hits, SearchHit{Message: m, Highlights: highlights(m.Text, terms)})
	}
	return page, nil
}

// searchTerms returns the words of a search query, or why it is refused.
func searchTerms(text string) ([]string, error) {
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return nil, invalidf("q is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(text); n > MaxSearchQueryRunes {
		return nil, invalidf("q has %d characters, more than %d", n, MaxSearchQueryRunes)
	}
	terms := textsearch.Terms(text)
	if len(terms) == 0 {
		return nil, invalidf("q must contain a word: a letter or a digit")
	}
	if len(terms) > MaxSearchTerms {
		return nil, invalidf("q has %d words, more than %d", len(terms), MaxSearchTerms)
	}
	return terms, nil
}

// highlights returns the ranges of text that terms match, in UTF-16 code
// units.
func highlights(text string, terms []string) []TextRange {
	spans := textsearch.Highlights(text, terms)
	out := make([]TextRange, 0, len(spans))
	units, at := 0, 0 // UTF-16 length of text[:at]
	toUnits := func(offset int) int {
		for _, r := range text[at:offset] {
			units += utf16.RuneLen(r)
		}
		at = offset
		return units
	}
	for _, sp := range spans {
		start := toUnits(sp.Start)
		out = append(out, TextRange{Start: start, End: toUnits(sp.End)})
	}
	return out
}

// A search cursor is the position of the last message of a page: its
// creation time in Unix microseconds, its seq and its chat id, opaque to
// clients.
func encodeSearchCursor(p SearchPosition) string {
	raw := strconv.FormatInt(p.CreatedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(p.Seq, 10) + ":" + p.ChatID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeSearchCursor(cursor string) (SearchPosition, error) {
	bad := invalidf("cursor is not valid")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return SearchPosition{}, bad
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 {
		return SearchPosition{}, bad
	}
	us, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	id := parts[2]
	if err1 != nil || err2 != nil || us < minCursorMicros || us > maxCursorMicros || seq <= 0 || id == "" {
		return SearchPosition{}, bad
	}
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return SearchPosition{}, bad
	}
	return SearchPosition{CreatedAt: time.UnixMicro(us).UTC(), ChatID: id, Seq: seq}, nil
}

// searchMessages is SearchMessages of the optional MessageSearcher,
// observed.
func (o *observedStore) searchMessages(ctx context.Context, ms MessageSearcher, userID string, q MessageSearch) (_ []Message, err error) {
	ctx, done := o.begin(ctx, "SearchMessages")
	defer func() { done(err) }()
	return ms.SearchMessages(ctx, userID, q)
}

// search answers GET /search.
func (h *restHandler) search(w http.ResponseWriter, r *http.Request, user string) {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	page, err := h.svc.Search(r.Context(), user, SearchQuery{
		Text:   q.Get("q"),
		ChatID: q.Get("chat_id"),
		Limit:  limit,
		Cursor: q.Get("cursor"),
	})
	if err != nil {
		writeServiceError(w, h.svc.log, err)
		return
	}
	writeJSON(w, h.svc.log, http.StatusOK, page)
}
