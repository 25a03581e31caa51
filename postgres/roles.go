package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/embedchat/chat"
)

// The writes of roles and moderation are one call each of a function that
// migrations/004_roles_settings_blocks.up.sql creates, which locks the
// chat's row before any check, as every write of the log does. They are
// not batched: they are rare next to sends.

const removeMemberAsSQL = `
SELECT r_status, r_seq, r_heir, r_heir_seq FROM {schema}.remove_member_2($1, $2, $3, $4)`

const setRoleSQL = `
SELECT r_status, r_seq FROM {schema}.set_role($1, $2, $3, $4, $5)`

const banSQL = `
SELECT r_status, r_seq, r_removed_seq, r_heir, r_heir_seq FROM {schema}.ban_user($1, $2, $3, $4)`

const unbanSQL = `
SELECT r_status, r_seq FROM {schema}.unban_user($1, $2, $3, $4)`

const listBansSQL = `
SELECT b.user_id, b.banned_by, b.at
FROM {schema}.bans b
WHERE b.chat_id = $1 AND EXISTS (SELECT FROM {schema}.members m WHERE m.chat_id = $1 AND m.user_id = $2)
ORDER BY b.user_id`

const isMemberSQL = `
SELECT EXISTS (SELECT FROM {schema}.members WHERE chat_id = $1 AND user_id = $2)`

const updateChatSQL = `
SELECT r_status, r_seq, r_title, r_metadata FROM {schema}.update_chat($1, $2, $3, $4, $5, $6)`

// roleRow is what the role functions return.
type roleRow struct {
	Status     string         `db:"r_status"`
	Seq        sql.NullInt64  `db:"r_seq"`
	RemovedSeq sql.NullInt64  `db:"r_removed_seq"`
	Heir       sql.NullString `db:"r_heir"`
	HeirSeq    sql.NullInt64  `db:"r_heir_seq"`
}

// refusal turns a role function's refusing status into its error, or
// returns nil for another status.
func refusal(op, status string, c chat.MemberChange) error {
	switch status {
	case "no_chat":
		return notFound(op, "chat %q", c.ChatID)
	case "not_member":
		return notFound(op, "member %q of chat %q", c.ActorID, c.ChatID)
	case "no_user":
		return notFound(op, "member %q of chat %q", c.UserID, c.ChatID)
	case "direct":
		return fmt.Errorf("postgres: %s: chat %q is direct, it has no roles: %w", op, c.ChatID, chat.ErrInvalid)
	case "self":
		return fmt.Errorf("postgres: %s: %q cannot do this to themselves: %w", op, c.UserID, chat.ErrInvalid)
	case "forbidden":
		return fmt.Errorf("postgres: %s: %q's role in chat %q does not allow it: %w", op, c.ActorID, c.ChatID, chat.ErrForbidden)
	case "last_owner":
		return fmt.Errorf("postgres: %s: %q is the last owner of chat %q: %w", op, c.UserID, c.ChatID, chat.ErrConflict)
	}
	return nil
}

// removal returns the events of a removal of user and the succession it
// may have caused.
func removal(chatID, user, actor string, seq sql.NullInt64, heir sql.NullString, heirSeq sql.NullInt64) []chat.Event {
	evs := []chat.Event{{Type: chat.EventMemberRemoved, ChatID: chatID, Seq: seq.Int64, UserID: user}}
	if heir.Valid {
		evs = append(evs, chat.Event{Type: chat.EventMemberRole, ChatID: chatID, Seq: heirSeq.Int64, UserID: heir.String, ActorID: actor, Role: chat.RoleOwner})
	}
	return evs
}

// RemoveMemberAs implements chat.RoleStore.
func (s *Store) RemoveMemberAs(ctx context.Context, c chat.MemberChange) ([]chat.Event, error) {
	const op = "remove member"
	var row roleRow
	if err := s.db.GetContext(ctx, &row, s.q.fill(removeMemberAsSQL), c.ChatID, c.ActorID, c.UserID, c.At); err != nil {
		return nil, wrapErr(op, err)
	}
	if err := refusal(op, row.Status, c); err != nil {
		return nil, err
	}
	if row.Status != "removed" {
		return nil, fmt.Errorf("postgres: %s: remove_member_2 returned status %q", op, row.Status)
	}
	return removal(c.ChatID, c.UserID, c.ActorID, row.Seq, row.Heir, row.HeirSeq), nil
}

// SetRole implements chat.RoleStore.
func (s *Store) SetRole(ctx context.Context, c chat.RoleChange) (chat.Event, bool, error) {
	const op = "set role"
	var row roleRow
	if err := s.db.GetContext(ctx, &row, s.q.fill(setRoleSQL), c.ChatID, c.ActorID, c.UserID, string(c.Role), c.At); err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	if err := refusal(op, row.Status, chat.MemberChange{ChatID: c.ChatID, ActorID: c.ActorID, UserID: c.UserID}); err != nil {
		return chat.Event{}, false, err
	}
	ev := chat.Event{Type: chat.EventMemberRole, ChatID: c.ChatID, UserID: c.UserID, Role: c.Role}
	switch row.Status {
	case "unchanged":
		return ev, false, nil
	case "changed":
		ev.Seq, ev.ActorID = row.Seq.Int64, c.ActorID
		return ev, true, nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: set_role returned status %q", op, row.Status)
}

// Ban implements chat.RoleStore.
func (s *Store) Ban(ctx context.Context, c chat.MemberChange) ([]chat.Event, bool, error) {
	const op = "ban"
	var row roleRow
	if err := s.db.GetContext(ctx, &row, s.q.fill(banSQL), c.ChatID, c.ActorID, c.UserID, c.At); err != nil {
		return nil, false, wrapErr(op, err)
	}
	if err := refusal(op, row.Status, c); err != nil {
		return nil, false, err
	}
	switch row.Status {
	case "unchanged":
		return nil, false, nil
	case "banned":
		var evs []chat.Event
		if row.RemovedSeq.Valid {
			evs = removal(c.ChatID, c.UserID, c.ActorID, row.RemovedSeq, row.Heir, row.HeirSeq)
		}
		evs = append(evs, chat.Event{Type: chat.EventMemberBanned, ChatID: c.ChatID, Seq: row.Seq.Int64, UserID: c.UserID, ActorID: c.ActorID})
		return evs, true, nil
	}
	return nil, false, fmt.Errorf("postgres: %s: ban_user returned status %q", op, row.Status)
}

// Unban implements chat.RoleStore.
func (s *Store) Unban(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	const op = "unban"
	var row roleRow
	if err := s.db.GetContext(ctx, &row, s.q.fill(unbanSQL), c.ChatID, c.ActorID, c.UserID, c.At); err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	if err := refusal(op, row.Status, c); err != nil {
		return chat.Event{}, false, err
	}
	switch row.Status {
	case "unchanged":
		return chat.Event{}, false, nil
	case "unbanned":
		return chat.Event{Type: chat.EventMemberUnbanned, ChatID: c.ChatID, Seq: row.Seq.Int64, UserID: c.UserID, ActorID: c.ActorID}, true, nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: unban_user returned status %q", op, row.Status)
}

// ListBans implements chat.RoleStore.
func (s *Store) ListBans(ctx context.Context, chatID, userID string) ([]chat.Ban, error) {
	const op = "list bans"
	var member bool
	if err := s.db.GetContext(ctx, &member, s.q.fill(isMemberSQL), chatID, userID); err != nil {
		return nil, wrapErr(op, err)
	}
	if !member {
		return nil, notFound(op, "member %q of chat %q", userID, chatID)
	}
	bans := []chat.Ban{}
	r, err := s.db.QueryContext(ctx, s.q.fill(listBansSQL), chatID, userID)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer r.Close()
	for r.Next() {
		var b chat.Ban
		if err := r.Scan(&b.UserID, &b.BannedBy, &b.At); err != nil {
			return nil, wrapErr(op, err)
		}
		b.At = b.At.UTC()
		bans = append(bans, b)
	}
	if err := r.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return bans, nil
}

// UpdateChat implements chat.RoleStore.
func (s *Store) UpdateChat(ctx context.Context, u chat.ChatUpdate) (chat.Event, bool, error) {
	const op = "update chat"
	var title, metadata any
	if u.Title != nil {
		title = *u.Title
	}
	if u.Metadata != nil {
		metadata = metadataArg(*u.Metadata)
	}
	var row struct {
		Status   string         `db:"r_status"`
		Seq      sql.NullInt64  `db:"r_seq"`
		Title    sql.NullString `db:"r_title"`
		Metadata []byte         `db:"r_metadata"`
	}
	if err := s.db.GetContext(ctx, &row, s.q.fill(updateChatSQL), u.ChatID, u.ActorID, title, u.Metadata != nil, metadata, u.At); err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	if err := refusal(op, row.Status, chat.MemberChange{ChatID: u.ChatID, ActorID: u.ActorID}); err != nil {
		return chat.Event{}, false, err
	}
	info := &chat.ChatInfo{Title: row.Title.String}
	if row.Metadata != nil {
		info.Metadata = json.RawMessage(row.Metadata)
	}
	ev := chat.Event{Type: chat.EventChatUpdated, ChatID: u.ChatID, Info: info}
	switch row.Status {
	case "unchanged":
		return ev, false, nil
	case "changed":
		ev.Seq, ev.ActorID = row.Seq.Int64, u.ActorID
		return ev, true, nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: update_chat returned status %q", op, row.Status)
}

// event returns the event r holds, with what its data column says.
func (r eventRow) event(chatID string) (chat.Event, error) {
	ev := chat.Event{
		Type:    chat.EventType(r.Type),
		ChatID:  chatID,
		Seq:     r.Seq,
		UserID:  r.UserID.String,
		Message: r.message(chatID),
	}
	switch ev.Type {
	case chat.EventMemberRole, chat.EventMemberBanned, chat.EventMemberUnbanned:
		ev.ActorID = r.ActorID.String
	case chat.EventChatUpdated:
		ev.UserID, ev.ActorID = "", r.ActorID.String
	}
	if r.Data == nil {
		return ev, nil
	}
	switch ev.Type {
	case chat.EventMemberRole:
		var d struct {
			Role chat.Role `json:"role"`
		}
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return chat.Event{}, fmt.Errorf("event %d: %w", r.Seq, err)
		}
		ev.Role = d.Role
	case chat.EventChatUpdated:
		var info chat.ChatInfo
		if err := json.Unmarshal(r.Data, &info); err != nil {
			return chat.Event{}, fmt.Errorf("event %d: %w", r.Seq, err)
		}
		if string(info.Metadata) == "null" {
			info.Metadata = nil
		}
		ev.Info = &info
	case chat.EventMemberSettings:
		var set chat.MemberSettings
		if err := json.Unmarshal(r.Data, &set); err != nil {
			return chat.Event{}, fmt.Errorf("event %d: %w", r.Seq, err)
		}
		if set.MutedUntil != nil {
			at := set.MutedUntil.UTC()
			set.MutedUntil = &at
		}
		ev.Settings = &set
	}
	return ev, nil
}
