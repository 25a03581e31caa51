package postgres

import (
	"context"

	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

var _ chat.ChatIDsBatcher = (*Store)(nil)

// chatIDsOfSQL is an index-only scan of members_user_id_chat_id_idx, as
// chatIDsSQL is for one user.
const chatIDsOfSQL = `
SELECT user_id, chat_id FROM {schema}.members WHERE user_id = ANY ($1::text[])`

// ChatIDsOf implements chat.ChatIDsBatcher: one query for every user.
func (s *Store) ChatIDsOf(ctx context.Context, userIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.fill(chatIDsOfSQL), pq.Array(userIDs))
	if err != nil {
		return nil, wrapErr("chat ids of users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var user, id string
		if err := rows.Scan(&user, &id); err != nil {
			return nil, wrapErr("chat ids of users", err)
		}
		out[user] = append(out[user], id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("chat ids of users", err)
	}
	return out, nil
}
