package chat

import (
	"context"
	"errors"
	"fmt"
)

// EditMessage replaces the text of message seq of chatID, which userID
// sent, and delivers a message.updated event with the chat's next seq. The
// new text is validated like a new message's, counts against
// RateLimit.Sends and passes the BeforeSend hook (Draft.Seq is set), so
// editing bypasses neither the rate limit nor moderation. The hook runs
// only once membership and ownership are checked.
//
// Errors: ErrNotFound if userID is not a member or there is no such
// message; ErrForbidden if someone else sent it; ErrConflict if it was
// deleted.
func (s *Service) EditMessage(ctx context.Context, userID, chatID string, seq int64, text string) (Message, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Message{}, err
	}
	if seq <= 0 {
		return Message{}, fmt.Errorf("chat: edit message: %w", ErrNotFound)
	}
	if err := s.checkText(text); err != nil {
		return Message{}, err
	}
	m, err := s.ownMessage(ctx, userID, chatID, seq)
	if err != nil {
		return Message{}, err
	}
	if m.Deleted {
		return Message{}, fmt.Errorf("chat: edit message: %w", ErrConflict)
	}
	if err := s.sendLimit.allow(userID); err != nil {
		return Message{}, err
	}
	if s.hooks.BeforeSend != nil {
		d := Draft{ChatID: chatID, Sender: userID, Seq: seq, Text: text}
		if err := s.hooks.BeforeSend(ctx, &d); err != nil {
			return Message{}, hookError("BeforeSend", err)
		}
		if err := s.checkText(d.Text); err != nil {
			return Message{}, fmt.Errorf("chat: BeforeSend hook made the text invalid: %v", err)
		}
		text = d.Text
	}
	return s.editMessage(ctx, MessageEdit{ChatID: chatID, Seq: seq, UserID: userID, Text: text, At: s.timestamp()})
}

// DeleteMessage turns message seq of chatID, which userID sent (or any
// message, when userID is an owner or admin of a group whose Store is a
// RoleStore: the tombstone's DeletedBy names them), into a
// tombstone and delivers a message.deleted event with the chat's next seq.
// Deleting a deleted message returns its tombstone and delivers nothing.
// Like an edit, a delete counts against RateLimit.Sends.
//
// Errors: ErrNotFound if userID is not a member or there is no such
// message; ErrForbidden if someone else sent it.
func (s *Service) DeleteMessage(ctx context.Context, userID, chatID string, seq int64) (Message, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Message{}, err
	}
	if seq <= 0 {
		return Message{}, fmt.Errorf("chat: delete message: %w", ErrNotFound)
	}
	if _, err := s.ownMessage(ctx, userID, chatID, seq); err != nil {
		if !errors.Is(err, ErrForbidden) || !s.moderates(ctx, userID, chatID) {
			return Message{}, err
		}
	}
	if err := s.sendLimit.allow(userID); err != nil {
		return Message{}, err
	}
	return s.editMessage(ctx, MessageEdit{ChatID: chatID, Seq: seq, UserID: userID, Delete: true, At: s.timestamp()})
}

// ownMessage returns message seq of chatID if userID is a member and sent
// it: ErrNotFound for a non-member or no such message, ErrForbidden for
// someone else's. The Store checks again, atomically, when it writes; this
// is so that nothing else (rate limits, hooks) runs for a request that
// would be refused.
func (s *Service) ownMessage(ctx context.Context, userID, chatID string, seq int64) (Message, error) {
	if err := s.checkMember(ctx, userID, chatID); err != nil {
		return Message{}, err
	}
	msgs, err := s.store.ListMessages(ctx, chatID, MessageQuery{Forward: true, After: seq - 1, Limit: 1})
	if err != nil {
		return Message{}, fmt.Errorf("chat: edit message: %w", err)
	}
	if len(msgs) == 0 || msgs[0].Seq != seq {
		return Message{}, fmt.Errorf("chat: edit message: %w", ErrNotFound)
	}
	if msgs[0].Sender != userID {
		return Message{}, fmt.Errorf("chat: edit message: %w", ErrForbidden)
	}
	return msgs[0], nil
}

func (s *Service) editMessage(ctx context.Context, e MessageEdit) (Message, error) {
	wctx, cancel := s.writeContext(ctx)
	ev, changed, err := s.store.EditMessage(wctx, e)
	cancel()
	if err != nil {
		s.writeFailed(e.ChatID, err)
		return Message{}, fmt.Errorf("chat: edit message: %w", err)
	}
	if ev.Message == nil {
		return Message{}, fmt.Errorf("chat: edit message: the Store returned no message")
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	if changed && e.Delete {
		s.dropMessageAttachments(ctx, e.ChatID, e.Seq)
	}
	return *ev.Message, nil
}

// moderates reports whether userID is an owner or admin of chatID, by a
// RoleStore's roles; the Store checks again when it writes.
func (s *Service) moderates(ctx context.Context, userID, chatID string) bool {
	if _, ok := s.backend.(RoleStore); !ok {
		return false
	}
	m, err := s.store.GetMember(ctx, chatID, userID)
	return err == nil && m.Role.Moderates()
}
