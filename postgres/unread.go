package postgres

import (
	"context"

	"github.com/lib/pq"
)

// UnreadCounts implements chat.Store in one statement whose cost per chat
// does not grow with the chat's history or with how far behind the user
// is: each count is a difference of ordinals found by index lookups (see
// unreadCountsSQL and docs/postgres.md). Only the deleted messages after
// the marker are read one by one.
func (s *Store) UnreadCounts(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error) {
	const op = "unread counts"
	counts := make(map[string]int64, len(chatIDs))
	if len(chatIDs) == 0 {
		return counts, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.unreadCounts, userID, pq.Array(chatIDs))
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, wrapErr(op, err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return counts, nil
}
