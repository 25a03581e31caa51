package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

var _ chat.MessageSearcher = (*Store)(nil)

// DefaultSearchConfig is the text search configuration of message search
// when Config.SearchConfig is empty: 'simple' lower-cases words and
// neither stems them nor drops stop words, so it works for every language
// and finds exactly what chat.MessageSearcher describes. Migration 005
// indexes messages for it.
const DefaultSearchConfig = "simple"

// searchConfigName is a text search configuration's name, optionally
// qualified by its schema.
var searchConfigName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$`)

func (c Config) searchConfig() (string, error) {
	if c.SearchConfig == "" {
		return DefaultSearchConfig, nil
	}
	if !searchConfigName.MatchString(c.SearchConfig) {
		return "", fmt.Errorf("postgres: search config %q is not a plain lower-case name, optionally qualified by its schema", c.SearchConfig)
	}
	return c.SearchConfig, nil
}

// searchQueries holds the SQL of SearchMessages, one statement per
// combination of its optional conditions, so that each is planned with
// only the conditions it has.
type searchQueries struct {
	all, allAfter, chat, chatAfter string
}

// searchSQL finds messages of $1's chats whose words match the tsquery $2,
// newest first. The tsvector expression is the one messages_search_idx
// indexes, with the configuration inlined, so that the planner can use an
// index built for it; the query is parsed with the same configuration.
// {chat} and {after} are the optional conditions; the remaining parameters
// are numbered in the order they are added.
const searchSQL = `
SELECT {message}
FROM {schema}.members mb
JOIN {schema}.messages m ON m.chat_id = mb.chat_id
WHERE mb.user_id = $1
  AND to_tsvector({config}, m.text) @@ to_tsquery({config}, $2)
  AND NOT m.deleted{chat}{after}
ORDER BY m.created_at DESC, m.chat_id DESC, m.seq DESC
LIMIT $3`

func newSearchQueries(fill func(string) string, config string) searchQueries {
	base := strings.ReplaceAll(fill(searchSQL), "{config}", pq.QuoteLiteral(config)+"::regconfig")
	build := func(chat, after string) string {
		return strings.NewReplacer("{chat}", chat, "{after}", after).Replace(base)
	}
	const (
		inChat      = "\n  AND mb.chat_id = $4"
		after4      = "\n  AND (m.created_at, m.chat_id, m.seq) < ($4, $5, $6)"
		afterInChat = "\n  AND (m.created_at, m.chat_id, m.seq) < ($5, $6, $7)"
	)
	return searchQueries{
		all:       build("", ""),
		allAfter:  build("", after4),
		chat:      build(inChat, ""),
		chatAfter: build(inChat, afterInChat),
	}
}

// tsquery returns the text search query that matches messages having
// every term at the start of a word: each term quoted as a lexeme, with
// :* for a prefix match, joined with &. Terms are runs of letters, marks
// and digits, so the quoting is for safety, not for need.
func tsquery(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), "'", "''") + "':*"
	}
	return strings.Join(parts, " & ")
}

// SearchMessages implements chat.MessageSearcher with PostgreSQL's full
// text search: the words of each message's text as Config.SearchConfig
// splits and normalises them, indexed by messages_search_idx, each term
// matched as a prefix of a word. Membership is a join in the same
// statement, so it is the membership at the time of the call.
func (s *Store) SearchMessages(ctx context.Context, userID string, q chat.MessageSearch) ([]chat.Message, error) {
	const op = "search messages"
	if q.Limit <= 0 || len(q.Terms) == 0 {
		return []chat.Message{}, nil
	}
	query, args := s.searchStatement(userID, q)
	var rows []messageRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, wrapErr(op, err)
	}
	msgs := make([]chat.Message, len(rows))
	for i, r := range rows {
		msgs[i] = r.message()
	}
	return msgs, nil
}

// searchStatement returns the statement and arguments of SearchMessages.
func (s *Store) searchStatement(userID string, q chat.MessageSearch) (string, []any) {
	args := []any{userID, tsquery(q.Terms), q.Limit}
	var query string
	switch {
	case q.ChatID == "" && q.After == nil:
		query = s.search.all
	case q.ChatID == "":
		query = s.search.allAfter
	case q.After == nil:
		query = s.search.chat
		args = append(args, q.ChatID)
	default:
		query = s.search.chatAfter
		args = append(args, q.ChatID)
	}
	if q.After != nil {
		args = append(args, q.After.CreatedAt, q.After.ChatID, q.After.Seq)
	}
	return query, args
}
