package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

// messageExtras are the columns of a message that replies, mentions and
// reactions added (see messageExtrasSQL): the same names wherever a
// message is read, since no other row read with one has them.
type messageExtras struct {
	ReplyTo   sql.NullInt64  `db:"reply_to"`
	Mentions  pq.StringArray `db:"mentions"`
	Quote     []byte         `db:"quote"`
	Thread    []byte         `db:"thread"`
	Reactions []byte         `db:"reactions"`
}

// threadCounters is the JSON of a message's thread column.
type threadCounters struct {
	ReplyCount   int64     `json:"reply_count"`
	LastReplySeq int64     `json:"last_reply_seq"`
	LastReplyAt  time.Time `json:"last_reply_at"`
}

// apply sets the fields of m that x holds. The JSON columns are built by
// the Store's own queries, so they always decode; one that did not would
// leave its fields out rather than fail a read.
func (x messageExtras) apply(m *chat.Message) {
	m.ReplyTo = x.ReplyTo.Int64
	if len(x.Mentions) > 0 {
		m.Mentions = []string(x.Mentions)
	}
	if x.Quote != nil {
		var q chat.Quote
		if json.Unmarshal(x.Quote, &q) == nil {
			m.Quote = &q
		}
	}
	if x.Thread != nil {
		var t threadCounters
		if json.Unmarshal(x.Thread, &t) == nil {
			at := t.LastReplyAt.UTC()
			m.ReplyCount, m.LastReplySeq, m.LastReplyAt = t.ReplyCount, t.LastReplySeq, &at
		}
	}
	if x.Reactions != nil {
		_ = json.Unmarshal(x.Reactions, &m.Reactions)
	}
}

// sendMessage is AppendMessage for a message with a reply or mentions: one
// call of send_message, through db (the Store's pool, or the caller's
// transaction for AppendMessageTx). It is not batched with other writes.
func (s *Store) sendMessage(ctx context.Context, db sqlx.QueryerContext, m chat.Message) (chat.Message, bool, error) {
	const op = "append message"
	var replyTo any // NULL: no reply
	if m.ReplyTo != 0 {
		replyTo = m.ReplyTo
	}
	var mentions any // NULL: no mentions
	if len(m.Mentions) > 0 {
		mentions = pq.Array(m.Mentions)
	}
	var row writeRow
	err := sqlx.GetContext(ctx, db, &row, s.q.sendMessage,
		m.ChatID, m.Sender, m.ClientID, m.Text, metadataArg(m.Metadata), m.CreatedAt, replyTo, mentions)
	if err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	switch row.Status {
	case "no_parent", "bad_mention":
		return chat.Message{}, false, fmt.Errorf("postgres: %s: %s: %w", op, row.Status, chat.ErrInvalid)
	case "deleted_parent":
		return chat.Message{}, false, fmt.Errorf("postgres: %s: message %d of chat %q was deleted: %w", op, m.ReplyTo, m.ChatID, chat.ErrConflict)
	case "created":
		if m.ReplyTo != 0 {
			// The new reply's quote: read in a statement of its own, it
			// shows the parent as it is now, as every read does.
			var quoted messageRow
			if err := sqlx.GetContext(ctx, db, &quoted, s.q.messageBySeq, m.ChatID, row.Seq.Int64); err != nil {
				return chat.Message{}, false, wrapErr(op, fmt.Errorf("read the new message %d: %w", row.Seq.Int64, err))
			}
			return quoted.message(), true, nil
		}
	}
	return s.appended(ctx, db, m, row)
}

// ListReplies implements chat.ThreadStore.
func (s *Store) ListReplies(ctx context.Context, chatID string, parentSeq int64, q chat.MessageQuery) ([]chat.Message, error) {
	rows := []messageRow{}
	if q.Limit <= 0 {
		return []chat.Message{}, nil // LIMIT would reject a negative limit.
	}
	var err error
	if q.Forward {
		err = s.db.SelectContext(ctx, &rows, s.q.repliesAfter, chatID, parentSeq, q.After, q.Limit)
	} else {
		before := q.Before
		if before <= 0 {
			before = math.MaxInt64
		}
		err = s.db.SelectContext(ctx, &rows, s.q.repliesBefore, chatID, parentSeq, before, q.Limit)
	}
	if err != nil {
		return nil, wrapErr("list replies", err)
	}
	ms := make([]chat.Message, len(rows))
	for i, r := range rows {
		ms[i] = r.message()
	}
	return ms, nil
}

// UnreadMentions implements chat.MentionStore in one statement whose cost
// per chat does not grow with the chat's history: see unreadMentionsSQL.
func (s *Store) UnreadMentions(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error) {
	counts := make(map[string]int64, len(chatIDs))
	if len(chatIDs) == 0 {
		return counts, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.unreadMentions, userID, pq.Array(chatIDs))
	if err != nil {
		return nil, wrapErr("unread mentions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, wrapErr("unread mentions", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("unread mentions", err)
	}
	return counts, nil
}
