package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/embedchat/chat"
)

// reactionKey is one user's reaction with one emoji to one message.
type reactionKey struct {
	seq         int64
	user, emoji string
}

// React implements chat.Reactor. The counts live in the message's
// Reactions, changed as reactions come and go.
func (s *Store) React(ctx context.Context, r chat.ReactionEdit) (chat.Event, bool, error) {
	if err := ctx.Err(); err != nil {
		return chat.Event{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, err := s.membership(r.ChatID, r.UserID)
	if err != nil {
		return chat.Event{}, false, fmt.Errorf("memory: react: %w", err)
	}
	i, ok := st.messageIndex(r.Seq)
	if !ok {
		return chat.Event{}, false, fmt.Errorf("memory: react to message %d of chat %q: %w", r.Seq, r.ChatID, chat.ErrNotFound)
	}
	m := &st.messages[i]
	if m.Deleted {
		return chat.Event{}, false, fmt.Errorf("memory: react to message %d of chat %q: it was deleted: %w", r.Seq, r.ChatID, chat.ErrConflict)
	}
	typ := chat.EventReactionAdded
	if r.Remove {
		typ = chat.EventReactionRemoved
	}
	key := reactionKey{seq: r.Seq, user: r.UserID, emoji: r.Emoji}
	_, has := st.reacted[key]
	k := slices.IndexFunc(m.Reactions, func(x chat.Reaction) bool { return x.Emoji == r.Emoji })
	if has != r.Remove {
		var count int64
		if k >= 0 {
			count = m.Reactions[k].Count
		}
		return chat.Event{Type: typ, ChatID: r.ChatID, UserID: r.UserID,
			Reaction: &chat.ReactionEvent{MessageSeq: r.Seq, Emoji: r.Emoji, Count: count}}, false, nil
	}

	var count int64
	switch {
	case r.Remove:
		delete(st.reacted, key)
		m.Reactions[k].Count--
		if count = m.Reactions[k].Count; count == 0 {
			// A fresh slice: copies handed out share nothing with it.
			m.Reactions = slices.Delete(slices.Clone(m.Reactions), k, k+1)
		}
	case k >= 0:
		st.reacted[key] = struct{}{}
		m.Reactions[k].Count++
		count = m.Reactions[k].Count
	default:
		if len(m.Reactions) >= r.MaxReactions {
			return chat.Event{}, false, fmt.Errorf("memory: react to message %d of chat %q: it has %d emojis, the most allowed: %w", r.Seq, r.ChatID, len(m.Reactions), chat.ErrInvalid)
		}
		st.reacted[key] = struct{}{}
		m.Reactions = append(m.Reactions, chat.Reaction{Emoji: r.Emoji, Count: 1})
		count = 1
	}
	seq := st.record(logEntry{typ: typ, msg: i, userID: r.UserID, emoji: r.Emoji, count: count}, r.At)
	return chat.Event{Type: typ, ChatID: r.ChatID, Seq: seq, UserID: r.UserID,
		Reaction: &chat.ReactionEvent{MessageSeq: r.Seq, Emoji: r.Emoji, Count: count}}, true, nil
}

// UserReactions implements chat.Reactor.
func (s *Store) UserReactions(ctx context.Context, chatID, userID string, seqs []int64) (map[int64][]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[int64][]string)
	st, ok := s.chats[chatID]
	if !ok {
		return out, nil
	}
	for _, seq := range seqs {
		i, ok := st.messageIndex(seq)
		if !ok {
			continue
		}
		for _, r := range st.messages[i].Reactions {
			if _, ok := st.reacted[reactionKey{seq: seq, user: userID, emoji: r.Emoji}]; ok {
				out[seq] = append(out[seq], r.Emoji)
			}
		}
	}
	return out, nil
}
