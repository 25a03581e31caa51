package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/embedchat/chat"
)

var (
	_ chat.Store         = (*Store)(nil)
	_ chat.ChatCounter   = (*Store)(nil)
	_ chat.RoleStore     = (*Store)(nil)
	_ chat.SettingsStore = (*Store)(nil)
	_ chat.BlockStore    = (*Store)(nil)
)

// Store is a chat.Store held in memory. The zero value is not usable; call
// NewStore. It is safe for concurrent use.
//
// Everything passed in and handed out is copied, so callers cannot change
// stored state through the slices, pointers and RawMessages they hold.
type Store struct {
	mu     sync.RWMutex
	chats  map[string]*chatState
	keyed  map[string]string               // CreateChat's key → chat id
	byUser map[string]map[string]struct{}  // user id → ids of their chats
	blocks map[string]map[string]time.Time // user id → users they block → since
	// attachments holds the records of attachments by id; see
	// attachments.go.
	attachments map[string]*chat.Attachment
}

// chatState is one chat with its log. log[i] is the event with seq i+1, so
// ListEvents slices instead of scanning; messages holds the messages in
// seq order, which is log order with the other events left out, so that
// message windows and read markers are found by binary search.
type chatState struct {
	// chat holds the members, sorted by user id, with their read markers.
	// Its LastMessage stays nil: it is the last of messages, filled in on
	// the way out.
	chat     chat.Chat
	messages []chat.Message
	log      []logEntry
	sent     map[clientKey]int // (sender, client id) → index in messages
	// joined is the seq of each member's member.added event; initial
	// members are absent (0). Ownership passes to the oldest by it.
	joined   map[string]int64
	bans     map[string]chat.Ban
	settings map[string]chat.MemberSettings // user id → their settings
}

// logEntry is a persisted event. Message events point at the message
// rather than hold a copy, so that replaying them shows its current state,
// as the Store contract asks.
type logEntry struct {
	typ      chat.EventType
	msg      int    // index in messages, for message events
	userID   string // for member events
	actorID  string // for role, ban and chat events
	role     chat.Role
	info     *chat.ChatInfo
	settings *chat.MemberSettings
}

type clientKey struct {
	sender, clientID string
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		chats:       make(map[string]*chatState),
		keyed:       make(map[string]string),
		byUser:      make(map[string]map[string]struct{}),
		blocks:      make(map[string]map[string]time.Time),
		attachments: make(map[string]*chat.Attachment),
	}
}

// CreateChat implements chat.Store.
func (s *Store) CreateChat(ctx context.Context, c chat.Chat, key string) (chat.Chat, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Chat{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != "" {
		if id, ok := s.keyed[key]; ok {
			return s.chats[id].view(), false, nil
		}
	}
	if _, ok := s.chats[c.ID]; ok {
		// The Service generates unique ids, so this is a bug in the caller,
		// not a conflict a client could cause.
		return chat.Chat{}, false, fmt.Errorf("memory: create chat: id %q already exists", c.ID)
	}

	c.Members = slices.Clone(c.Members)
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastSeq = 0
	c.LastActivityAt = c.CreatedAt
	c.LastMessage = nil
	c.UnreadCount = 0
	c.Metadata = nil
	for i := range c.Members {
		c.Members[i].LastReadSeq = 0
		c.Members[i].Role = initialRole(c, c.Members[i].UserID)
	}
	slices.SortFunc(c.Members, func(a, b chat.Member) int { return cmp.Compare(a.UserID, b.UserID) })
	st := &chatState{chat: c, sent: make(map[clientKey]int), joined: make(map[string]int64), bans: make(map[string]chat.Ban), settings: make(map[string]chat.MemberSettings)}
	for _, m := range c.Members {
		s.join(m.UserID, c.ID)
	}
	s.chats[c.ID] = st
	if key != "" {
		s.keyed[key] = c.ID
	}
	return st.view(), true, nil
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
	return st.view(), nil
}

// GetMember implements chat.Store.
func (s *Store) GetMember(ctx context.Context, chatID, userID string) (chat.Member, error) {
	if err := ctx.Err(); err != nil {
		return chat.Member{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, i, err := s.membership(chatID, userID)
	if err != nil {
		return chat.Member{}, err
	}
	return st.chat.Members[i], nil
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
	list := make([]*chatState, 0, len(ids))
	for id := range ids {
		st := s.chats[id]
		set := st.settings[userID]
		if !archivedWanted(q.Archived, set.Archived) {
			continue
		}
		if q.After != nil && !sortsAfter(&st.chat, set.Pinned, q.After) {
			continue
		}
		list = append(list, st)
	}
	slices.SortFunc(list, func(a, b *chatState) int {
		if c := boolCompare(b.settings[userID].Pinned, a.settings[userID].Pinned); c != 0 {
			return c
		}
		if c := b.chat.LastActivityAt.Compare(a.chat.LastActivityAt); c != 0 {
			return c
		}
		return cmp.Compare(b.chat.ID, a.chat.ID)
	})
	list = list[:min(len(list), max(q.Limit, 0))]
	out := make([]chat.Chat, len(list))
	for i, st := range list {
		out[i] = st.view()
	}
	return out, nil
}

// sortsAfter reports whether c, pinned or not, comes after position p in
// a chat list, which is ordered pinned first, then by LastActivityAt
// descending and then ID descending.
func sortsAfter(c *chat.Chat, pinned bool, p *chat.ChatPosition) bool {
	if pinned != p.Pinned {
		return p.Pinned
	}
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

// CountChats implements chat.ChatCounter.
func (s *Store) CountChats(ctx context.Context, userIDs []string) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int, len(userIDs))
	for _, u := range userIDs {
		if n := len(s.byUser[u]); n > 0 {
			out[u] = n
		}
	}
	return out, nil
}

var _ chat.ChatIDsBatcher = (*Store)(nil)

// ChatIDsOf implements chat.ChatIDsBatcher.
func (s *Store) ChatIDsOf(ctx context.Context, userIDs []string) (map[string][]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]string, len(userIDs))
	for _, u := range userIDs {
		ids := s.byUser[u]
		if len(ids) == 0 {
			continue
		}
		list := make([]string, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		out[u] = list
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
	return s.appendMessage(ctx, m, nil)
}

// appendMessage appends m, first letting prepare, if not nil, refuse it
// or change it under the lock, knowing the seq it will get.
func (s *Store) appendMessage(ctx context.Context, m chat.Message, prepare func(m *chat.Message, seq int64) error) (chat.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Message{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, err := s.membership(m.ChatID, m.Sender)
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("memory: append message: %w", err)
	}
	if orig, ok := st.sentBefore(m); ok {
		return orig, false, nil
	}
	if prepare != nil {
		if err := prepare(&m, st.chat.LastSeq+1); err != nil {
			return chat.Message{}, false, err
		}
	}
	return st.append(m), true, nil
}

// sentBefore returns the message m retries, if m has a client id the
// sender used before in the chat.
func (st *chatState) sentBefore(m chat.Message) (chat.Message, bool) {
	if m.ClientID == "" {
		return chat.Message{}, false
	}
	i, ok := st.sent[clientKey{sender: m.Sender, clientID: m.ClientID}]
	if !ok {
		return chat.Message{}, false
	}
	return copyMessage(st.messages[i]), true
}

// append stores m as the chat's next event and returns it as stored.
func (st *chatState) append(m chat.Message) chat.Message {
	m = copyMessage(m)
	m.CreatedAt = m.CreatedAt.UTC()
	m.EditedAt = nil
	m.Deleted = false
	m.Seq = st.chat.LastSeq + 1
	st.messages = append(st.messages, m)
	i := len(st.messages) - 1
	st.record(logEntry{typ: chat.EventMessageCreated, msg: i}, m.CreatedAt)
	if m.ClientID != "" {
		st.sent[clientKey{sender: m.Sender, clientID: m.ClientID}] = i
	}
	return copyMessage(m)
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
	var lo, hi int // indexes in st.messages
	if q.Forward {
		lo = st.firstAbove(q.After)
		hi = min(lo+q.Limit, len(st.messages))
	} else {
		hi = len(st.messages)
		if q.Before > 0 {
			hi = st.firstAbove(q.Before - 1)
		}
		lo = max(hi-q.Limit, 0)
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
	n := int64(len(st.log))
	lo := min(max(afterSeq, 0), n)
	hi := lo + min(int64(limit), n-lo)
	out := make([]chat.Event, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, st.event(i+1))
	}
	return out, nil
}

// EditMessage implements chat.Store.
func (s *Store) EditMessage(ctx context.Context, e chat.MessageEdit) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, actor, err := s.membership(e.ChatID, e.UserID)
	if err != nil {
		return chat.Event{}, false, fmt.Errorf("memory: edit message: %w", err)
	}
	i, ok := st.messageIndex(e.Seq)
	if !ok {
		return chat.Event{}, false, fmt.Errorf("memory: edit message %d of chat %q: %w", e.Seq, e.ChatID, chat.ErrNotFound)
	}
	m := &st.messages[i]
	moderated := e.Delete && st.chat.Members[actor].Role.Moderates()
	if m.Sender != e.UserID && !moderated {
		return chat.Event{}, false, fmt.Errorf("memory: edit message %d of chat %q: %q is not its sender: %w", e.Seq, e.ChatID, e.UserID, chat.ErrForbidden)
	}
	typ := chat.EventMessageUpdated
	if e.Delete {
		typ = chat.EventMessageDeleted
	}
	if m.Deleted {
		if !e.Delete {
			return chat.Event{}, false, fmt.Errorf("memory: edit message %d of chat %q: it was deleted: %w", e.Seq, e.ChatID, chat.ErrConflict)
		}
		msg := copyMessage(*m)
		return chat.Event{Type: typ, ChatID: e.ChatID, Message: &msg}, false, nil
	}

	if e.Delete {
		m.Deleted = true
		m.Text = ""
		m.Metadata = nil
		m.Attachments = nil
		if m.Sender != e.UserID {
			m.DeletedBy = e.UserID
		}
	} else {
		at := e.At.UTC()
		m.Text = e.Text
		m.EditedAt = &at
	}
	seq := st.record(logEntry{typ: typ, msg: i}, e.At)
	msg := copyMessage(*m)
	return chat.Event{Type: typ, ChatID: e.ChatID, Seq: seq, Message: &msg}, true, nil
}

// MarkRead implements chat.Store.
func (s *Store) MarkRead(ctx context.Context, chatID, userID string, seq int64) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, i, err := s.membership(chatID, userID)
	if err != nil {
		return 0, false, fmt.Errorf("memory: mark read: %w", err)
	}
	marker := &st.chat.Members[i].LastReadSeq
	seq = min(seq, st.chat.LastSeq)
	if seq <= *marker {
		return *marker, false, nil
	}
	*marker = seq
	return seq, true, nil
}

// AddMember implements chat.Store.
func (s *Store) AddMember(ctx context.Context, c chat.MemberChange) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, err := s.membership(c.ChatID, c.ActorID)
	if err != nil {
		return chat.Event{}, false, fmt.Errorf("memory: add member: %w", err)
	}
	if st.chat.Kind == chat.KindDirect {
		return chat.Event{}, false, fmt.Errorf("memory: add member to chat %q: a direct chat has fixed members: %w", c.ChatID, chat.ErrInvalid)
	}
	i, found := st.member(c.UserID)
	if found {
		return chat.Event{Type: chat.EventMemberAdded, ChatID: c.ChatID, UserID: c.UserID}, false, nil
	}
	if len(st.chat.Members) >= c.MaxMembers {
		return chat.Event{}, false, fmt.Errorf("memory: add member to chat %q: it has %d members, the most allowed: %w", c.ChatID, len(st.chat.Members), chat.ErrInvalid)
	}
	if _, banned := st.bans[c.UserID]; banned {
		return chat.Event{}, false, fmt.Errorf("memory: add member %q to chat %q: they are banned: %w", c.UserID, c.ChatID, chat.ErrForbidden)
	}

	seq := st.record(logEntry{typ: chat.EventMemberAdded, userID: c.UserID}, c.At)
	st.chat.Members = slices.Insert(st.chat.Members, i, chat.Member{UserID: c.UserID, LastReadSeq: seq, Role: chat.RoleMember})
	st.joined[c.UserID] = seq
	s.join(c.UserID, c.ChatID)
	return chat.Event{Type: chat.EventMemberAdded, ChatID: c.ChatID, Seq: seq, UserID: c.UserID}, true, nil
}

// RemoveMember implements chat.Store, with the rules of
// chat.RoleStore.RemoveMemberAs.
func (s *Store) RemoveMember(ctx context.Context, c chat.MemberChange) (chat.Event, error) {
	evs, err := s.RemoveMemberAs(ctx, c)
	if err != nil {
		return chat.Event{}, err
	}
	return evs[0], nil
}

// UnreadCounts implements chat.Store. It walks the messages after each
// marker: that grows with how far behind the user is, which a database
// Store must avoid but an in-memory one, used in tests and small
// deployments, can afford.
func (s *Store) UnreadCounts(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int64, len(chatIDs))
	for _, id := range chatIDs {
		st, ok := s.chats[id]
		if !ok {
			continue
		}
		i, ok := st.member(userID)
		if !ok {
			continue
		}
		var n int64
		for _, m := range st.messages[st.firstAbove(st.chat.Members[i].LastReadSeq):] {
			if m.Sender != userID && !m.Deleted {
				n++
			}
		}
		out[id] = n
	}
	return out, nil
}

// membership returns the chat and the index of userID in its members, or
// ErrNotFound. s.mu must be held.
func (s *Store) membership(chatID, userID string) (*chatState, int, error) {
	st, ok := s.chats[chatID]
	if !ok {
		return nil, 0, fmt.Errorf("memory: chat %q: %w", chatID, chat.ErrNotFound)
	}
	i, ok := st.member(userID)
	if !ok {
		return nil, 0, fmt.Errorf("memory: member %q of chat %q: %w", userID, chatID, chat.ErrNotFound)
	}
	return st, i, nil
}

// join records that userID is a member of chatID. s.mu must be held for
// writing.
func (s *Store) join(userID, chatID string) {
	ids := s.byUser[userID]
	if ids == nil {
		ids = make(map[string]struct{})
		s.byUser[userID] = ids
	}
	ids[chatID] = struct{}{}
}

// member returns where userID is, or would be inserted, in the members.
func (st *chatState) member(userID string) (int, bool) {
	return slices.BinarySearchFunc(st.chat.Members, userID, func(m chat.Member, id string) int {
		return cmp.Compare(m.UserID, id)
	})
}

// firstAbove returns the index of the first message with a seq above seq.
func (st *chatState) firstAbove(seq int64) int {
	i, found := st.messageIndex(seq)
	if found {
		i++
	}
	return i
}

// messageIndex returns where the message with seq is, or would be, in
// messages.
func (st *chatState) messageIndex(seq int64) (int, bool) {
	return slices.BinarySearchFunc(st.messages, seq, func(m chat.Message, seq int64) int {
		return cmp.Compare(m.Seq, seq)
	})
}

// record appends e to the log as the chat's next event at time at and
// returns its seq.
func (st *chatState) record(e logEntry, at time.Time) int64 {
	st.log = append(st.log, e)
	st.chat.LastSeq = int64(len(st.log))
	st.chat.LastActivityAt = at.UTC()
	return st.chat.LastSeq
}

// recordQuiet appends e to the log as the chat's next event without
// moving its LastActivityAt, and returns its seq.
func (st *chatState) recordQuiet(e logEntry) int64 {
	st.log = append(st.log, e)
	st.chat.LastSeq = int64(len(st.log))
	return st.chat.LastSeq
}

// event returns the event with seq, which must exist.
func (st *chatState) event(seq int64) chat.Event {
	e := st.log[seq-1]
	ev := chat.Event{Type: e.typ, ChatID: st.chat.ID, Seq: seq, UserID: e.userID, ActorID: e.actorID, Role: e.role}
	if e.info != nil {
		info := copyInfo(*e.info)
		ev.Info = &info
	}
	if e.settings != nil {
		set := copySettings(*e.settings)
		ev.Settings = &set
	}
	switch e.typ {
	case chat.EventMessageCreated, chat.EventMessageUpdated, chat.EventMessageDeleted:
		m := copyMessage(st.messages[e.msg])
		ev.Message = &m
	}
	return ev
}

// view returns a copy of the chat as the Store contract shows it.
func (st *chatState) view() chat.Chat {
	c := st.chat
	c.Members = slices.Clone(c.Members)
	c.Metadata = bytes.Clone(c.Metadata)
	if n := len(st.messages); n > 0 {
		m := copyMessage(st.messages[n-1])
		c.LastMessage = &m
	}
	return c
}

func copyMessage(m chat.Message) chat.Message {
	if m.Metadata != nil {
		m.Metadata = json.RawMessage(bytes.Clone(m.Metadata))
	}
	if m.EditedAt != nil {
		at := *m.EditedAt
		m.EditedAt = &at
	}
	m.Attachments = slices.Clone(m.Attachments)
	return m
}
