package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/embedchat/chat"
)

// SetSettings implements chat.SettingsStore.
func (s *Store) SetSettings(ctx context.Context, c chat.SettingsChange) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, err := s.membership(c.ChatID, c.UserID)
	if err != nil {
		return chat.Event{}, false, fmt.Errorf("memory: set settings: %w", err)
	}
	old := st.settings[c.UserID]
	now := c.Apply(old)
	if sameSettings(old, now) {
		out := copySettings(now)
		return chat.Event{Type: chat.EventMemberSettings, ChatID: c.ChatID, UserID: c.UserID, Settings: &out}, false, nil
	}
	st.settings[c.UserID] = copySettings(now)
	stored := copySettings(now)
	seq := st.recordQuiet(logEntry{typ: chat.EventMemberSettings, userID: c.UserID, settings: &stored})
	out := copySettings(now)
	return chat.Event{Type: chat.EventMemberSettings, ChatID: c.ChatID, Seq: seq, UserID: c.UserID, Settings: &out}, true, nil
}

// Settings implements chat.SettingsStore.
func (s *Store) Settings(ctx context.Context, userID string, chatIDs []string) (map[string]chat.MemberSettings, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]chat.MemberSettings)
	for _, id := range chatIDs {
		if st, ok := s.chats[id]; ok {
			if set, ok := st.settings[userID]; ok && set != (chat.MemberSettings{}) {
				out[id] = copySettings(set)
			}
		}
	}
	return out, nil
}

// MutedMembers implements chat.SettingsStore.
func (s *Store) MutedMembers(ctx context.Context, chatID string, at time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok {
		return nil, nil
	}
	var out []string
	for u, set := range st.settings {
		if set.MutedAt(at) {
			out = append(out, u)
		}
	}
	return out, nil
}

func sameSettings(a, b chat.MemberSettings) bool {
	if (a.MutedUntil == nil) != (b.MutedUntil == nil) || a.MutedUntil != nil && !a.MutedUntil.Equal(*b.MutedUntil) {
		return false
	}
	return a.Muted == b.Muted && a.Archived == b.Archived && a.Pinned == b.Pinned
}

func copySettings(m chat.MemberSettings) chat.MemberSettings {
	if m.MutedUntil != nil {
		at := *m.MutedUntil
		m.MutedUntil = &at
	}
	return m
}

// archivedWanted reports whether a chat archived or not passes filter f.
func archivedWanted(f chat.ArchivedFilter, archived bool) bool {
	switch f {
	case chat.ArchivedExclude:
		return !archived
	case chat.ArchivedOnly:
		return archived
	}
	return true
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
