package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/embedchat/chat"
)

var _ chat.AttachmentStore = (*Store)(nil)

// CreateAttachment implements chat.AttachmentStore.
func (s *Store) CreateAttachment(ctx context.Context, a chat.Attachment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.membership(a.ChatID, a.Uploader); err != nil {
		return fmt.Errorf("memory: create attachment: %w", err)
	}
	if _, ok := s.attachments[a.ID]; ok {
		return fmt.Errorf("memory: create attachment: id %q already exists", a.ID)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.MessageSeq = 0
	s.attachments[a.ID] = &a
	return nil
}

// GetAttachment implements chat.AttachmentStore.
func (s *Store) GetAttachment(ctx context.Context, chatID, id string) (chat.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return chat.Attachment{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.attachments[id]
	if !ok || a.ChatID != chatID {
		return chat.Attachment{}, fmt.Errorf("memory: attachment %q of chat %q: %w", id, chatID, chat.ErrNotFound)
	}
	return *a, nil
}

// AppendMessageWithAttachments implements chat.AttachmentStore.
func (s *Store) AppendMessageWithAttachments(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	return s.appendMessage(ctx, m, s.referenceAttachments)
}

// referenceAttachments makes the attachments m names referenced by m, as
// message seq, or refuses them all; s.mu is held.
func (s *Store) referenceAttachments(m *chat.Message, seq int64) error {
	records := make([]*chat.Attachment, len(m.Attachments))
	for i, ref := range m.Attachments {
		a, ok := s.attachments[ref.ID]
		if !ok || a.ChatID != m.ChatID || a.Uploader != m.Sender || a.MessageSeq != 0 || slices.Contains(records[:i], a) {
			return fmt.Errorf("memory: append message: attachment %q is no unsent upload of %q to chat %q: %w", ref.ID, m.Sender, m.ChatID, chat.ErrInvalid)
		}
		records[i] = a
	}
	m.Attachments = make([]chat.Attachment, len(records))
	for i, a := range records {
		a.MessageSeq = seq
		m.Attachments[i] = *a
	}
	return nil
}

// DeleteMessageAttachments implements chat.AttachmentStore.
func (s *Store) DeleteMessageAttachments(ctx context.Context, chatID string, seq int64) ([]chat.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteAttachments(func(a *chat.Attachment) bool {
		return a.ChatID == chatID && a.MessageSeq == seq && seq > 0
	}, -1), nil
}

// DeleteStaleAttachments implements chat.AttachmentStore.
func (s *Store) DeleteStaleAttachments(ctx context.Context, cutoff time.Time, limit int) ([]chat.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteAttachments(func(a *chat.Attachment) bool {
		return a.MessageSeq == 0 && a.CreatedAt.Before(cutoff)
	}, max(limit, 0)), nil
}

// deleteAttachments deletes up to limit (all when negative) attachments
// that match, oldest first, and returns them.
func (s *Store) deleteAttachments(match func(*chat.Attachment) bool, limit int) []chat.Attachment {
	var out []chat.Attachment
	for _, a := range s.attachments {
		if match(a) {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b chat.Attachment) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	for _, a := range out {
		delete(s.attachments, a.ID)
	}
	if out == nil {
		out = []chat.Attachment{}
	}
	return out
}
