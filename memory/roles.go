package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/embedchat/chat"
)

// initialRole is the role a member of a new chat c starts with: in a group
// the creator is owner and the others members; direct chats have no roles.
func initialRole(c chat.Chat, userID string) chat.Role {
	switch {
	case c.Kind != chat.KindGroup:
		return ""
	case userID == c.CreatedBy:
		return chat.RoleOwner
	}
	return chat.RoleMember
}

// moderation returns the group and the index of actorID among its
// members, for a change to a group by one of its members. s.mu must be
// held.
func (s *Store) moderation(op, chatID, actorID string) (*chatState, int, error) {
	st, i, err := s.membership(chatID, actorID)
	if err != nil {
		return nil, 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	if st.chat.Kind != chat.KindGroup {
		return nil, 0, fmt.Errorf("memory: %s in chat %q: a direct chat has no roles: %w", op, chatID, chat.ErrInvalid)
	}
	return st, i, nil
}

// RemoveMemberAs implements chat.RoleStore.
func (s *Store) RemoveMemberAs(ctx context.Context, c chat.MemberChange) ([]chat.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.membership(c.ChatID, c.ActorID)
	if err != nil {
		return nil, fmt.Errorf("memory: remove member: %w", err)
	}
	if st.chat.Kind == chat.KindDirect {
		return nil, fmt.Errorf("memory: remove member from chat %q: a direct chat has fixed members: %w", c.ChatID, chat.ErrInvalid)
	}
	i, found := st.member(c.UserID)
	if !found {
		return nil, fmt.Errorf("memory: remove member %q of chat %q: %w", c.UserID, c.ChatID, chat.ErrNotFound)
	}
	if c.ActorID != c.UserID && st.chat.Members[actor].Role.Rank() <= max(st.chat.Members[i].Role.Rank(), chat.RoleMember.Rank()) {
		return nil, fmt.Errorf("memory: remove member %q of chat %q: %q does not outrank them: %w", c.UserID, c.ChatID, c.ActorID, chat.ErrForbidden)
	}
	return s.removeLocked(st, i, c), nil
}

// removeLocked removes member i of st, then, if they were the last owner,
// makes the oldest admin, or else the oldest member, owner. s.mu must be
// held for writing.
func (s *Store) removeLocked(st *chatState, i int, c chat.MemberChange) []chat.Event {
	wasOwner := st.chat.Members[i].Role == chat.RoleOwner
	seq := st.record(logEntry{typ: chat.EventMemberRemoved, userID: c.UserID}, c.At)
	st.chat.Members = slices.Delete(st.chat.Members, i, i+1)
	delete(st.joined, c.UserID)
	delete(st.settings, c.UserID)
	ids := s.byUser[c.UserID]
	delete(ids, c.ChatID)
	if len(ids) == 0 {
		delete(s.byUser, c.UserID)
	}
	evs := []chat.Event{{Type: chat.EventMemberRemoved, ChatID: c.ChatID, Seq: seq, UserID: c.UserID}}
	if !wasOwner || len(st.chat.Members) == 0 || slices.ContainsFunc(st.chat.Members, func(m chat.Member) bool { return m.Role == chat.RoleOwner }) {
		return evs
	}
	heir := 0
	for j, m := range st.chat.Members {
		h := st.chat.Members[heir]
		if d := cmp.Or(
			cmp.Compare(h.Role.Rank(), m.Role.Rank()),
			cmp.Compare(st.joined[m.UserID], st.joined[h.UserID]),
			cmp.Compare(m.UserID, h.UserID),
		); d < 0 {
			heir = j
		}
	}
	st.chat.Members[heir].Role = chat.RoleOwner
	heirID := st.chat.Members[heir].UserID
	seq = st.record(logEntry{typ: chat.EventMemberRole, userID: heirID, actorID: c.ActorID, role: chat.RoleOwner}, c.At)
	return append(evs, chat.Event{Type: chat.EventMemberRole, ChatID: c.ChatID, Seq: seq, UserID: heirID, ActorID: c.ActorID, Role: chat.RoleOwner})
}

// SetRole implements chat.RoleStore.
func (s *Store) SetRole(ctx context.Context, c chat.RoleChange) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.moderation("set role", c.ChatID, c.ActorID)
	if err != nil {
		return chat.Event{}, false, err
	}
	i, found := st.member(c.UserID)
	if !found {
		return chat.Event{}, false, fmt.Errorf("memory: set role of %q in chat %q: %w", c.UserID, c.ChatID, chat.ErrNotFound)
	}
	m := &st.chat.Members[i]
	if m.Role == c.Role {
		return chat.Event{Type: chat.EventMemberRole, ChatID: c.ChatID, UserID: c.UserID, Role: c.Role}, false, nil
	}
	lowersOwn := c.ActorID == c.UserID && c.Role.Rank() < m.Role.Rank()
	if !lowersOwn && st.chat.Members[actor].Role != chat.RoleOwner {
		return chat.Event{}, false, fmt.Errorf("memory: set role of %q in chat %q: only owners change roles: %w", c.UserID, c.ChatID, chat.ErrForbidden)
	}
	if m.Role == chat.RoleOwner && owners(st) == 1 {
		return chat.Event{}, false, fmt.Errorf("memory: set role of %q in chat %q: they are its last owner: %w", c.UserID, c.ChatID, chat.ErrConflict)
	}
	m.Role = c.Role
	seq := st.record(logEntry{typ: chat.EventMemberRole, userID: c.UserID, actorID: c.ActorID, role: c.Role}, c.At)
	return chat.Event{Type: chat.EventMemberRole, ChatID: c.ChatID, Seq: seq, UserID: c.UserID, ActorID: c.ActorID, Role: c.Role}, true, nil
}

func owners(st *chatState) int {
	n := 0
	for _, m := range st.chat.Members {
		if m.Role == chat.RoleOwner {
			n++
		}
	}
	return n
}

// Ban implements chat.RoleStore.
func (s *Store) Ban(ctx context.Context, c chat.MemberChange) ([]chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.moderation("ban", c.ChatID, c.ActorID)
	if err != nil {
		return nil, false, err
	}
	if c.UserID == c.ActorID {
		return nil, false, fmt.Errorf("memory: ban %q from chat %q: one cannot ban oneself: %w", c.UserID, c.ChatID, chat.ErrInvalid)
	}
	role := st.chat.Members[actor].Role
	i, isMember := st.member(c.UserID)
	if !role.Moderates() || isMember && role.Rank() <= st.chat.Members[i].Role.Rank() {
		return nil, false, fmt.Errorf("memory: ban %q from chat %q: %q may not: %w", c.UserID, c.ChatID, c.ActorID, chat.ErrForbidden)
	}
	if _, banned := st.bans[c.UserID]; banned {
		return nil, false, nil
	}
	var evs []chat.Event
	if isMember {
		evs = s.removeLocked(st, i, c)
	}
	st.bans[c.UserID] = chat.Ban{UserID: c.UserID, BannedBy: c.ActorID, At: c.At.UTC()}
	seq := st.record(logEntry{typ: chat.EventMemberBanned, userID: c.UserID, actorID: c.ActorID}, c.At)
	return append(evs, chat.Event{Type: chat.EventMemberBanned, ChatID: c.ChatID, Seq: seq, UserID: c.UserID, ActorID: c.ActorID}), true, nil
}

// Unban implements chat.RoleStore.
func (s *Store) Unban(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.moderation("unban", c.ChatID, c.ActorID)
	if err != nil {
		return chat.Event{}, false, err
	}
	if !st.chat.Members[actor].Role.Moderates() {
		return chat.Event{}, false, fmt.Errorf("memory: unban %q in chat %q: %q may not: %w", c.UserID, c.ChatID, c.ActorID, chat.ErrForbidden)
	}
	if _, banned := st.bans[c.UserID]; !banned {
		return chat.Event{}, false, nil
	}
	delete(st.bans, c.UserID)
	seq := st.record(logEntry{typ: chat.EventMemberUnbanned, userID: c.UserID, actorID: c.ActorID}, c.At)
	return chat.Event{Type: chat.EventMemberUnbanned, ChatID: c.ChatID, Seq: seq, UserID: c.UserID, ActorID: c.ActorID}, true, nil
}

// ListBans implements chat.RoleStore.
func (s *Store) ListBans(ctx context.Context, chatID, userID string) ([]chat.Ban, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, _, err := s.membership(chatID, userID)
	if err != nil {
		return nil, fmt.Errorf("memory: list bans: %w", err)
	}
	out := make([]chat.Ban, 0, len(st.bans))
	for _, b := range st.bans {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b chat.Ban) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// UpdateChat implements chat.RoleStore.
func (s *Store) UpdateChat(ctx context.Context, u chat.ChatUpdate) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.moderation("update chat", u.ChatID, u.ActorID)
	if err != nil {
		return chat.Event{}, false, err
	}
	if !st.chat.Members[actor].Role.Moderates() {
		return chat.Event{}, false, fmt.Errorf("memory: update chat %q: %q may not: %w", u.ChatID, u.ActorID, chat.ErrForbidden)
	}
	info := chat.ChatInfo{Title: st.chat.Title, Metadata: st.chat.Metadata}
	if u.Title != nil {
		info.Title = *u.Title
	}
	if u.Metadata != nil {
		info.Metadata = *u.Metadata
	}
	if info.Title == st.chat.Title && bytes.Equal(info.Metadata, st.chat.Metadata) {
		now := copyInfo(info)
		return chat.Event{Type: chat.EventChatUpdated, ChatID: u.ChatID, Info: &now}, false, nil
	}
	info = copyInfo(info)
	st.chat.Title, st.chat.Metadata = info.Title, info.Metadata
	seq := st.record(logEntry{typ: chat.EventChatUpdated, actorID: u.ActorID, info: &info}, u.At)
	out := copyInfo(info)
	return chat.Event{Type: chat.EventChatUpdated, ChatID: u.ChatID, Seq: seq, ActorID: u.ActorID, Info: &out}, true, nil
}

func copyInfo(i chat.ChatInfo) chat.ChatInfo {
	if i.Metadata != nil {
		i.Metadata = json.RawMessage(bytes.Clone(i.Metadata))
	}
	return i
}
