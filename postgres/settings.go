package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

// Member settings are columns of members; a change is one call of the
// set_settings function (migrations/004_roles_settings_blocks.up.sql).

const setSettingsSQL = `
SELECT r_status, r_seq, r_muted, r_muted_until, r_archived, r_pinned
FROM {schema}.set_settings($1, $2, $3, $4, $5, $6, $7)`

const settingsSQL = `
SELECT chat_id, muted, muted_until, archived, pinned
FROM {schema}.members
WHERE user_id = $1 AND chat_id = ANY ($2::text[]) AND (muted OR archived OR pinned)`

const mutedMembersSQL = `
SELECT user_id FROM {schema}.members
WHERE chat_id = $1 AND muted AND (muted_until IS NULL OR muted_until > $2)`

// SetSettings implements chat.SettingsStore.
func (s *Store) SetSettings(ctx context.Context, c chat.SettingsChange) (chat.Event, bool, error) {
	const op = "set settings"
	var row struct {
		Status     string        `db:"r_status"`
		Seq        sql.NullInt64 `db:"r_seq"`
		Muted      sql.NullBool  `db:"r_muted"`
		MutedUntil sql.NullTime  `db:"r_muted_until"`
		Archived   sql.NullBool  `db:"r_archived"`
		Pinned     sql.NullBool  `db:"r_pinned"`
	}
	var until any
	if c.MutedUntil != nil {
		until = *c.MutedUntil
	}
	if err := s.db.GetContext(ctx, &row, s.q.fill(setSettingsSQL), c.ChatID, c.UserID, nullBool(c.Muted), until, nullBool(c.Archived), nullBool(c.Pinned), c.At); err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	if row.Status == "not_member" {
		return chat.Event{}, false, notFound(op, "member %q of chat %q", c.UserID, c.ChatID)
	}
	set := settingsOf(row.Muted.Bool, row.MutedUntil, row.Archived.Bool, row.Pinned.Bool)
	ev := chat.Event{Type: chat.EventMemberSettings, ChatID: c.ChatID, UserID: c.UserID, Settings: &set}
	switch row.Status {
	case "unchanged":
		return ev, false, nil
	case "changed":
		ev.Seq = row.Seq.Int64
		return ev, true, nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: set_settings returned status %q", op, row.Status)
}

func nullBool(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func settingsOf(muted bool, until sql.NullTime, archived, pinned bool) chat.MemberSettings {
	set := chat.MemberSettings{Muted: muted, Archived: archived, Pinned: pinned}
	if until.Valid {
		at := until.Time.UTC()
		set.MutedUntil = &at
	}
	return set
}

// Settings implements chat.SettingsStore. Settings all off are left out,
// as for a member who never set any.
func (s *Store) Settings(ctx context.Context, userID string, chatIDs []string) (map[string]chat.MemberSettings, error) {
	const op = "settings"
	out := make(map[string]chat.MemberSettings)
	if len(chatIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.fill(settingsSQL), userID, pq.Array(chatIDs))
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var muted, archived, pinned bool
		var until sql.NullTime
		if err := rows.Scan(&id, &muted, &until, &archived, &pinned); err != nil {
			return nil, wrapErr(op, err)
		}
		out[id] = settingsOf(muted, until, archived, pinned)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// MutedMembers implements chat.SettingsStore.
func (s *Store) MutedMembers(ctx context.Context, chatID string, at time.Time) ([]string, error) {
	var ids []string
	if err := s.db.SelectContext(ctx, &ids, s.q.fill(mutedMembersSQL), chatID, at); err != nil {
		return nil, wrapErr("muted members", err)
	}
	return ids, nil
}
