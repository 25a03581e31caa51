package postgres

import (
	"context"
	"fmt"

	"github.com/embedchat/chat"
)

// EditMessage implements chat.Store. Like a send, it is one call of a
// function that the migrations create, edit_message, which locks the
// chat's row before any check, so a refused edit takes no seq.
func (s *Store) EditMessage(ctx context.Context, e chat.MessageEdit) (chat.Event, bool, error) {
	const op = "edit message"
	it := &writeItem{kind: writeEdit, chatID: e.ChatID, seq: e.Seq, userID: e.UserID, text: e.Text, at: e.At}
	if e.Delete {
		it.kind = writeDelete
	}
	var attachments []chat.Attachment
	if !e.Delete {
		// edit_message returns no attachments. The column is written
		// with the message and never changes, so reading it first
		// keeps the edit one write, failing before it rather than after.
		var err error
		if attachments, err = s.editedAttachments(ctx, e.ChatID, e.Seq); err != nil {
			return chat.Event{}, false, wrapErr(op, err)
		}
	}
	row, err := s.batch.write(ctx, it)
	if err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	switch row.Status {
	case "no_chat":
		return chat.Event{}, false, notFound(op, "chat %q", e.ChatID)
	case "not_member":
		return chat.Event{}, false, notFound(op, "member %q of chat %q", e.UserID, e.ChatID)
	case "no_message":
		return chat.Event{}, false, notFound(op, "message %d of chat %q", e.Seq, e.ChatID)
	case "not_sender":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: message %d of chat %q: %q is not its sender: %w", op, e.Seq, e.ChatID, e.UserID, chat.ErrForbidden)
	case "deleted":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: message %d of chat %q was deleted: %w", op, e.Seq, e.ChatID, chat.ErrConflict)
	case "changed", "unchanged":
		m := messageRow{
			ChatID:    e.ChatID,
			Seq:       e.Seq,
			Sender:    row.Sender.String,
			Text:      row.Text.String,
			ClientID:  row.ClientID.String,
			Metadata:  row.Metadata,
			CreatedAt: row.CreatedAt.Time,
			EditedAt:  row.EditedAt,
			Deleted:   row.Deleted.Bool,
		}.message()
		if e.Delete && row.Status == "changed" && m.Sender != e.UserID {
			m.DeletedBy = e.UserID // edit_message recorded it
		}
		ev := chat.Event{Type: chat.EventMessageUpdated, ChatID: e.ChatID, Seq: row.Seq.Int64, Message: &m}
		if e.Delete {
			ev.Type = chat.EventMessageDeleted
		} else {
			m.Attachments = attachments
		}
		return ev, row.Status == "changed", nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: edit_message returned status %q", op, row.Status)
}

// MarkRead implements chat.Store. It is one call of the mark_read function,
// which updates the member's row only if that moves the marker forward. It
// does not lock the chat's row: a marker takes no seq, so reading never
// waits for sends to the chat.
func (s *Store) MarkRead(ctx context.Context, chatID, userID string, seq int64) (int64, bool, error) {
	const op = "mark read"
	row, err := s.batch.write(ctx, &writeItem{kind: writeRead, chatID: chatID, userID: userID, seq: seq})
	if err != nil {
		return 0, false, wrapErr(op, err)
	}
	switch row.Status {
	case "not_member":
		return 0, false, notFound(op, "member %q of chat %q", userID, chatID)
	case "moved", "unchanged":
		return row.Seq.Int64, row.Status == "moved", nil
	}
	return 0, false, fmt.Errorf("postgres: %s: mark_read returned status %q", op, row.Status)
}

// AddMember implements chat.Store, with one call of the add_member
// function, which locks the chat's row before any check.
func (s *Store) AddMember(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	const op = "add member"
	row, err := s.batch.write(ctx, &writeItem{kind: writeAdd, chatID: c.ChatID, userID: c.ActorID, other: c.UserID, at: c.At, seq: int64(c.MaxMembers)})
	if err != nil {
		return chat.Event{}, false, wrapErr(op, err)
	}
	ev := chat.Event{Type: chat.EventMemberAdded, ChatID: c.ChatID, UserID: c.UserID}
	switch row.Status {
	case "no_chat":
		return chat.Event{}, false, notFound(op, "chat %q", c.ChatID)
	case "not_member":
		return chat.Event{}, false, notFound(op, "member %q of chat %q", c.ActorID, c.ChatID)
	case "direct":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: chat %q is direct, its members are fixed: %w", op, c.ChatID, chat.ErrInvalid)
	case "full":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: chat %q has %d members, the most allowed: %w", op, c.ChatID, c.MaxMembers, chat.ErrInvalid)
	case "banned":
		return chat.Event{}, false, fmt.Errorf("postgres: %s: %q is banned from chat %q: %w", op, c.UserID, c.ChatID, chat.ErrForbidden)
	case "unchanged":
		return ev, false, nil
	case "added":
		ev.Seq = row.Seq.Int64
		return ev, true, nil
	}
	return chat.Event{}, false, fmt.Errorf("postgres: %s: add_member returned status %q", op, row.Status)
}

// RemoveMember implements chat.Store, with one call of the remove_member
// function, which locks the chat's row before any check. It follows the
// rules of chat.RoleStore.RemoveMemberAs, returning the removal only.
func (s *Store) RemoveMember(ctx context.Context, c chat.MemberChange) (chat.Event, error) {
	const op = "remove member"
	row, err := s.batch.write(ctx, &writeItem{kind: writeRemove, chatID: c.ChatID, userID: c.ActorID, other: c.UserID, at: c.At})
	if err != nil {
		return chat.Event{}, wrapErr(op, err)
	}
	switch row.Status {
	case "no_chat":
		return chat.Event{}, notFound(op, "chat %q", c.ChatID)
	case "not_member":
		return chat.Event{}, notFound(op, "member %q of chat %q", c.ActorID, c.ChatID)
	case "direct":
		return chat.Event{}, fmt.Errorf("postgres: %s: chat %q is direct, its members are fixed: %w", op, c.ChatID, chat.ErrInvalid)
	case "no_user":
		return chat.Event{}, notFound(op, "member %q of chat %q", c.UserID, c.ChatID)
	case "forbidden":
		return chat.Event{}, fmt.Errorf("postgres: %s: %q may not remove %q from chat %q: only they or whoever outranks them may: %w", op, c.ActorID, c.UserID, c.ChatID, chat.ErrForbidden)
	case "removed":
		return chat.Event{Type: chat.EventMemberRemoved, ChatID: c.ChatID, Seq: row.Seq.Int64, UserID: c.UserID}, nil
	}
	return chat.Event{}, fmt.Errorf("postgres: %s: remove_member returned status %q", op, row.Status)
}
