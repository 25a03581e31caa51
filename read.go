package chat

import (
	"context"
	"fmt"
)

// MarkRead moves userID's read marker in chatID forward to seq (clamped to
// the chat's last seq; never backward) and returns the marker. When it
// moves, every member's subscriptions, userID's own included, get a read
// event, so that read state follows the user across devices.
func (s *Service) MarkRead(ctx context.Context, userID, chatID string, seq int64) (int64, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return 0, err
	}
	if seq < 0 {
		return 0, invalidf("seq must not be negative")
	}
	read, moved, err := s.store.MarkRead(ctx, chatID, userID, seq)
	if err != nil {
		return 0, fmt.Errorf("chat: mark read: %w", err)
	}
	if moved {
		s.hub.publishEvent(ctx, Event{Type: EventRead, ChatID: chatID, UserID: userID, ReadSeq: read})
	}
	return read, nil
}

// withUnreadCounts fills in UnreadCount of chats for userID.
func (s *Service) withUnreadCounts(ctx context.Context, userID string, chats []Chat) error {
	if len(chats) == 0 {
		return nil
	}
	ids := make([]string, len(chats))
	for i, c := range chats {
		ids[i] = c.ID
	}
	counts, err := s.store.UnreadCounts(ctx, userID, ids)
	if err != nil {
		return fmt.Errorf("chat: unread counts: %w", err)
	}
	for i := range chats {
		chats[i].UnreadCount = counts[chats[i].ID]
	}
	return s.withUnreadMentions(ctx, userID, ids, chats)
}
