package memory

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/embedchat/chat"
)

// checkReplyAndMentions refuses, before m is appended to st, a ReplyTo
// that names no message of the chat or a deleted one, and a mention of a
// non-member.
func (st *chatState) checkReplyAndMentions(m chat.Message) error {
	if m.ReplyTo != 0 {
		i, ok := st.messageIndex(m.ReplyTo)
		if !ok {
			return chat.ErrInvalid
		}
		if st.messages[i].Deleted {
			return chat.ErrConflict
		}
	}
	for _, u := range m.Mentions {
		if _, ok := st.member(u); !ok {
			return chat.ErrInvalid
		}
	}
	return nil
}

// addReply records message i, just appended, in its parent's thread, if it
// is a reply, and quotes the parent in it.
func (st *chatState) addReply(i int) {
	m := &st.messages[i]
	if m.ReplyTo == 0 {
		return
	}
	p, _ := st.messageIndex(m.ReplyTo)
	parent := &st.messages[p]
	at := m.CreatedAt
	parent.ReplyCount++
	parent.LastReplySeq = m.Seq
	parent.LastReplyAt = &at
	st.replies[parent.Seq] = append(st.replies[parent.Seq], i)
	m.Quote = quote(*parent)
}

// requote updates the quotes of the replies to message seq, which has just
// been edited or deleted.
func (st *chatState) requote(seq int64) {
	replies := st.replies[seq]
	if len(replies) == 0 {
		return
	}
	p, _ := st.messageIndex(seq)
	for _, i := range replies {
		st.messages[i].Quote = quote(st.messages[p])
	}
}

// quote returns how a reply quotes parent.
func quote(parent chat.Message) *chat.Quote {
	text := parent.Text
	if utf8.RuneCountInString(text) > chat.QuoteRunes {
		runes := []rune(text)
		text = string(runes[:chat.QuoteRunes])
	}
	return &chat.Quote{Sender: parent.Sender, Text: text, Deleted: parent.Deleted}
}

// ListReplies implements chat.ThreadStore.
func (s *Store) ListReplies(ctx context.Context, chatID string, parentSeq int64, q chat.MessageQuery) ([]chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok || q.Limit <= 0 {
		return []chat.Message{}, nil
	}
	replies := st.replies[parentSeq]
	above := func(seq int64) int {
		n, _ := slices.BinarySearchFunc(replies, seq+1, func(i int, seq int64) int {
			return int(st.messages[i].Seq - seq)
		})
		return n
	}
	var lo, hi int // indexes in replies
	if q.Forward {
		lo = above(q.After)
		hi = min(lo+q.Limit, len(replies))
	} else {
		hi = len(replies)
		if q.Before > 0 {
			hi = above(q.Before - 1)
		}
		lo = max(hi-q.Limit, 0)
	}
	out := make([]chat.Message, 0, hi-lo)
	for _, i := range replies[lo:hi] {
		out = append(out, copyMessage(st.messages[i]))
	}
	return out, nil
}

// UnreadMentions implements chat.MentionStore. Like UnreadCounts, it
// walks the messages after the marker.
func (s *Store) UnreadMentions(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error) {
	return s.countUnread(ctx, userID, chatIDs, func(m chat.Message) bool { return slices.Contains(m.Mentions, userID) })
}
