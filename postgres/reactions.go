package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

// reactionColumns are the columns of a reaction event in ListEvents.
type reactionColumns struct {
	MessageSeq sql.NullInt64  `db:"r_message_seq"`
	Emoji      sql.NullString `db:"r_emoji"`
	Count      sql.NullInt64  `db:"r_count"`
}

// reaction returns the reaction of a reaction event, or nil for another
// event.
func (r reactionColumns) reaction() *chat.ReactionEvent {
	if !r.MessageSeq.Valid {
		return nil
	}
	return &chat.ReactionEvent{MessageSeq: r.MessageSeq.Int64, Emoji: r.Emoji.String, Count: r.Count.Int64}
}

// React implements chat.Reactor. It is one call of the react function,
// which locks the chat's row before any check, so a refused reaction takes
// no seq, and keeps the emoji's count in reaction_counts as it changes.
// It is not batched with other writes.
func (s *Store) React(ctx context.Context, r chat.ReactionEdit) (chat.Event, bool, error) {
	const op = "react"
	var row struct {
		Status string        `db:"r_status"`
		Seq    sql.NullInt64 `db:"r_seq"`
		Count  sql.NullInt64 `db:"r_count"`
	}
	if err := s.db.GetContext(ctx, &row, s.q.react, r.ChatID, r.Seq, r.UserID, r.Emoji, r.Remove, r.At, r.MaxReactions); err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	switch row.Status {
	case "no_chat":
		return chat.Event{}, false, notFound(op, "chat %q", r.ChatID)
	case "not_member":
		return chat.Event{}, false, notFound(op, "member %q of chat %q", r.UserID, r.ChatID)
	case "no_message":
		return chat.Event{}, false, notFound(op, "message %d of chat %q", r.Seq, r.ChatID)
	case "deleted":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: message %d of chat %q was deleted: %w", op, r.Seq, r.ChatID, chat.ErrConflict)
	case "full":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: message %d of chat %q has %d emojis, the most allowed: %w", op, r.Seq, r.ChatID, r.MaxReactions, chat.ErrInvalid)
	case "changed", "unchanged":
		ev := chat.Event{Type: chat.EventReactionAdded, ChatID: r.ChatID, Seq: row.Seq.Int64, UserID: r.UserID,
			Reaction: &chat.ReactionEvent{MessageSeq: r.Seq, Emoji: r.Emoji, Count: row.Count.Int64}}
		if r.Remove {
			ev.Type = chat.EventReactionRemoved
		}
		return ev, row.Status == "changed", nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: react returned status %q", op, row.Status)
}

// UserReactions implements chat.Reactor: one scan of the primary key of
// reactions per message of seqs.
func (s *Store) UserReactions(ctx context.Context, chatID, userID string, seqs []int64) (map[int64][]string, error) {
	out := make(map[int64][]string)
	if len(seqs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.userReactions, chatID, userID, pq.Array(seqs))
	if err != nil {
		return nil, wrapErr("user reactions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var emoji string
		if err := rows.Scan(&seq, &emoji); err != nil {
			return nil, wrapErr("user reactions", err)
		}
		out[seq] = append(out[seq], emoji)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("user reactions", err)
	}
	return out, nil
}
