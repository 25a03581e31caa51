package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/embedchat/chat"
)

var _ chat.Store = (*Store)(nil)

// Store is a chat.Store held in memory. The zero value is not usable; call
// NewStore. It is safe for concurrent use.
//
// Everything passed in and handed out is copied, so callers cannot change
// stored state through the slices and RawMessages they hold.
type Store struct {
	mu     sync.RWMutex
	chats  map[string]*chatState
	direct map[string]string              // directKey → chat id
	byUser map[string]map[string]struct{} // user id → ids of their chats
}

// chatState is one chat with its log. Every persisted event is a
// message.created event, so the log is the message list itself and
// messages[i] has seq i+1; that lets ListEvents and ListMessages slice
// instead of scanning.
type chatState struct {
	chat     chat.Chat // members sorted by user id
	members  map[string]struct{}
	messages []chat.Message
	sent     map[clientKey]int64 // (sender, client id) → seq
}

type clientKey struct {
	sender, clientID string
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		chats:  make(map[string]*chatState),
		direct: make(map[string]string),
		byUser: make(map[string]map[string]struct{}),
	}
}

// CreateChat implements chat.Store.
func (s *Store) CreateChat(ctx context.Context, c chat.Chat, directKey string) (chat.Chat, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Chat{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if directKey != "" {
		if id, ok := s.direct[directKey]; ok {
			return copyChat(s.chats[id].chat), false, nil
		}
	}
	if _, ok := s.chats[c.ID]; ok {
		// The Service generates unique ids, so this is a bug in the caller,
		// not a conflict a client could cause.
		return chat.Chat{}, false, fmt.Errorf("memory: create chat: id %q already exists", c.ID)
	}

	c = copyChat(c)
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastSeq = 0
	c.LastActivityAt = c.CreatedAt
	slices.SortFunc(c.Members, func(a, b chat.Member) int { return cmp.Compare(a.UserID, b.UserID) })
	st := &chatState{
		chat:    c,
		members: make(map[string]struct{}, len(c.Members)),
		sent:    make(map[clientKey]int64),
	}
	for _, m := range c.Members {
		st.members[m.UserID] = struct{}{}
		ids := s.byUser[m.UserID]
		if ids == nil {
			ids = make(map[string]struct{})
			s.byUser[m.UserID] = ids
		}
		ids[c.ID] = struct{}{}
	}
	s.chats[c.ID] = st
	if directKey != "" {
		s.direct[directKey] = c.ID
	}
	return copyChat(c), true, nil
}

// GetChat implements chat.Store.
func (s *Store) GetChat(ctx context.Context, chatID string) (chat.Chat, error) {
	if err := ctx.Err(); err != nil {
		return chat.Chat{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok {
		return chat.Chat{}, fmt.Errorf("memory: chat %q: %w", chatID, chat.ErrNotFound)
	}
	return copyChat(st.chat), nil
}

// GetMember implements chat.Store.
func (s *Store) GetMember(ctx context.Context, chatID, userID string) (chat.Member, error) {
	if err := ctx.Err(); err != nil {
		return chat.Member{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok {
		return chat.Member{}, fmt.Errorf("memory: chat %q: %w", chatID, chat.ErrNotFound)
	}
	if _, ok := st.members[userID]; !ok {
		return chat.Member{}, fmt.Errorf("memory: member %q of chat %q: %w", userID, chatID, chat.ErrNotFound)
	}
	return chat.Member{UserID: userID}, nil
}

// ListChats implements chat.Store. It sorts the user's chats on every call,
// which is cheap next to what a network round trip to a database costs.
func (s *Store) ListChats(ctx context.Context, userID string, q chat.ChatQuery) ([]chat.Chat, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.byUser[userID]
	list := make([]*chat.Chat, 0, len(ids))
	for id := range ids {
		c := &s.chats[id].chat
		if q.After != nil && !sortsAfter(c, q.After) {
			continue
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *chat.Chat) int {
		if c := b.LastActivityAt.Compare(a.LastActivityAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	list = list[:min(len(list), max(q.Limit, 0))]
	out := make([]chat.Chat, len(list))
	for i, c := range list {
		out[i] = copyChat(*c)
	}
	return out, nil
}

// sortsAfter reports whether c comes after position p in a chat list, which
// is ordered by LastActivityAt descending and then ID descending.
func sortsAfter(c *chat.Chat, p *chat.ChatPosition) bool {
	if c.LastActivityAt.Equal(p.LastActivityAt) {
		return c.ID < p.ChatID
	}
	return c.LastActivityAt.Before(p.LastActivityAt)
}

// ChatIDs implements chat.Store.
func (s *Store) ChatIDs(ctx context.Context, userID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.byUser[userID]
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	return out, nil
}

// LastSeqs implements chat.Store.
func (s *Store) LastSeqs(ctx context.Context, chatIDs []string) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int64, len(chatIDs))
	for _, id := range chatIDs {
		if st, ok := s.chats[id]; ok {
			out[id] = st.chat.LastSeq
		}
	}
	return out, nil
}

// AppendMessage implements chat.Store.
func (s *Store) AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Message{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.chats[m.ChatID]
	if !ok {
		return chat.Message{}, false, fmt.Errorf("memory: append message: chat %q: %w", m.ChatID, chat.ErrNotFound)
	}
	if _, ok := st.members[m.Sender]; !ok {
		return chat.Message{}, false, fmt.Errorf("memory: append message: member %q of chat %q: %w", m.Sender, m.ChatID, chat.ErrNotFound)
	}
	key := clientKey{sender: m.Sender, clientID: m.ClientID}
	if m.ClientID != "" {
		if seq, ok := st.sent[key]; ok {
			return copyMessage(st.messages[seq-1]), false, nil
		}
	}

	m = copyMessage(m)
	m.CreatedAt = m.CreatedAt.UTC()
	m.Seq = int64(len(st.messages)) + 1
	st.messages = append(st.messages, m)
	if m.ClientID != "" {
		st.sent[key] = m.Seq
	}
	st.chat.LastSeq = m.Seq
	st.chat.LastActivityAt = m.CreatedAt
	return copyMessage(m), true, nil
}

// ListMessages implements chat.Store.
func (s *Store) ListMessages(ctx context.Context, chatID string, q chat.MessageQuery) ([]chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok || q.Limit <= 0 {
		return []chat.Message{}, nil
	}
	n := int64(len(st.messages))
	var lo, hi int64 // messages[lo:hi], that is seqs lo+1 through hi
	if q.Forward {
		lo = min(max(q.After, 0), n)
		hi = min(lo+int64(q.Limit), n)
	} else {
		hi = n
		if q.Before > 0 {
			hi = min(q.Before-1, n)
		}
		lo = max(hi-int64(q.Limit), 0)
	}
	out := make([]chat.Message, 0, hi-lo)
	for _, m := range st.messages[lo:hi] {
		out = append(out, copyMessage(m))
	}
	return out, nil
}

// ListEvents implements chat.Store.
func (s *Store) ListEvents(ctx context.Context, chatID string, afterSeq int64, limit int) ([]chat.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok || limit <= 0 {
		return []chat.Event{}, nil
	}
	n := int64(len(st.messages))
	lo := min(max(afterSeq, 0), n)
	hi := min(lo+int64(limit), n)
	out := make([]chat.Event, 0, hi-lo)
	for _, m := range st.messages[lo:hi] {
		msg := copyMessage(m)
		out = append(out, chat.Event{
			Type:    chat.EventMessageCreated,
			ChatID:  msg.ChatID,
			Seq:     msg.Seq,
			Message: &msg,
		})
	}
	return out, nil
}

func copyChat(c chat.Chat) chat.Chat {
	c.Members = slices.Clone(c.Members)
	return c
}

func copyMessage(m chat.Message) chat.Message {
	if m.Metadata != nil {
		m.Metadata = json.RawMessage(bytes.Clone(m.Metadata))
	}
	return m
}
