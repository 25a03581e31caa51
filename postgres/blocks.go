package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/embedchat/chat"
)

const blockSQL = `
INSERT INTO {schema}.blocks (user_id, blocked, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`

const unblockSQL = `
DELETE FROM {schema}.blocks WHERE user_id = $1 AND blocked = $2`

const listBlocksSQL = `
SELECT blocked, at FROM {schema}.blocks WHERE user_id = $1 ORDER BY blocked`

const blockingSQL = `
SELECT EXISTS (SELECT FROM {schema}.blocks WHERE user_id = $1 AND blocked = $2),
	EXISTS (SELECT FROM {schema}.blocks WHERE user_id = $2 AND blocked = $1)`

// directBlockingSQL tells whether chat $1 is a group and, for a direct
// chat that $2 is in, the blocks between $2 and the other member; no row
// when there is no such chat.
const directBlockingSQL = `
SELECT c.kind = 'group',
	c.kind = 'direct' AND EXISTS (SELECT FROM {schema}.members me WHERE me.chat_id = c.id AND me.user_id = $2)
		AND EXISTS (SELECT FROM {schema}.members o JOIN {schema}.blocks b ON b.user_id = $2 AND b.blocked = o.user_id
			WHERE o.chat_id = c.id AND o.user_id <> $2),
	c.kind = 'direct' AND EXISTS (SELECT FROM {schema}.members me WHERE me.chat_id = c.id AND me.user_id = $2)
		AND EXISTS (SELECT FROM {schema}.members o JOIN {schema}.blocks b ON b.user_id = o.user_id AND b.blocked = $2
			WHERE o.chat_id = c.id AND o.user_id <> $2)
FROM {schema}.chats c
WHERE c.id = $1`

// Block implements chat.BlockStore.
func (s *Store) Block(ctx context.Context, userID, blocked string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q.fill(blockSQL), userID, blocked, at)
	if err != nil {
		return false, wrapErr("block", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrapErr("block", err)
	}
	return n == 1, nil
}

// Unblock implements chat.BlockStore.
func (s *Store) Unblock(ctx context.Context, userID, blocked string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q.fill(unblockSQL), userID, blocked)
	if err != nil {
		return false, wrapErr("unblock", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrapErr("unblock", err)
	}
	return n == 1, nil
}

// ListBlocks implements chat.BlockStore.
func (s *Store) ListBlocks(ctx context.Context, userID string) ([]chat.Block, error) {
	rows, err := s.db.QueryContext(ctx, s.q.fill(listBlocksSQL), userID)
	if err != nil {
		return nil, wrapErr("list blocks", err)
	}
	defer rows.Close()
	out := []chat.Block{}
	for rows.Next() {
		var b chat.Block
		if err := rows.Scan(&b.UserID, &b.At); err != nil {
			return nil, wrapErr("list blocks", err)
		}
		b.At = b.At.UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list blocks", err)
	}
	return out, nil
}

// Blocking implements chat.BlockStore.
func (s *Store) Blocking(ctx context.Context, a, b string) (bool, bool, error) {
	var ab, ba bool
	if err := s.db.QueryRowContext(ctx, s.q.fill(blockingSQL), a, b).Scan(&ab, &ba); err != nil {
		return false, false, wrapErr("blocking", err)
	}
	return ab, ba, nil
}

// DirectBlocking implements chat.BlockStore.
func (s *Store) DirectBlocking(ctx context.Context, chatID, userID string) (bool, bool, bool, error) {
	var group, blocks, blockedBy bool
	err := s.db.QueryRowContext(ctx, s.q.fill(directBlockingSQL), chatID, userID).Scan(&group, &blocks, &blockedBy)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, false, false, wrapErr("direct blocking", err)
	}
	return group, blocks, blockedBy, nil
}
