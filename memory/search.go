package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/embedchat/chat"
	"github.com/embedchat/chat/internal/textsearch"
)

var _ chat.MessageSearcher = (*Store)(nil)

// SearchMessages implements chat.MessageSearcher. It keeps no index: it
// reads every message of the user's chats (or of the one chat) under the
// read lock, which suits the tests and small deployments a memory Store
// is for.
func (s *Store) SearchMessages(ctx context.Context, userID string, q chat.MessageSearch) ([]chat.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found []chat.Message
	for id := range s.byUser[userID] {
		if q.ChatID != "" && id != q.ChatID {
			continue
		}
		for _, m := range s.chats[id].messages {
			if m.Deleted || (q.After != nil && !searchSortsAfter(&m, q.After)) || !textsearch.Matches(m.Text, q.Terms) {
				continue
			}
			found = append(found, m)
		}
	}
	slices.SortFunc(found, func(a, b chat.Message) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(b.ChatID, a.ChatID); c != 0 {
			return c
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	found = found[:min(len(found), max(q.Limit, 0))]
	for i := range found {
		found[i] = copyMessage(found[i])
	}
	return found, nil
}

// searchSortsAfter reports whether m comes after position p in search
// results, which are ordered by CreatedAt, ChatID and Seq, descending.
func searchSortsAfter(m *chat.Message, p *chat.SearchPosition) bool {
	if c := m.CreatedAt.Compare(p.CreatedAt); c != 0 {
		return c < 0
	}
	if m.ChatID != p.ChatID {
		return m.ChatID < p.ChatID
	}
	return m.Seq < p.Seq
}
