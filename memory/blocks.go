package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/embedchat/chat"
)

// Block implements chat.BlockStore.
func (s *Store) Block(ctx context.Context, userID, blocked string, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.blocks[userID]
	if _, ok := mine[blocked]; ok {
		return false, nil
	}
	if mine == nil {
		mine = make(map[string]time.Time)
		s.blocks[userID] = mine
	}
	mine[blocked] = at.UTC()
	return true, nil
}

// Unblock implements chat.BlockStore.
func (s *Store) Unblock(ctx context.Context, userID, blocked string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.blocks[userID]
	if _, ok := mine[blocked]; !ok {
		return false, nil
	}
	delete(mine, blocked)
	if len(mine) == 0 {
		delete(s.blocks, userID)
	}
	return true, nil
}

// ListBlocks implements chat.BlockStore.
func (s *Store) ListBlocks(ctx context.Context, userID string) ([]chat.Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]chat.Block, 0, len(s.blocks[userID]))
	for u, at := range s.blocks[userID] {
		out = append(out, chat.Block{UserID: u, At: at})
	}
	slices.SortFunc(out, func(a, b chat.Block) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// Blocking implements chat.BlockStore.
func (s *Store) Blocking(ctx context.Context, a, b string) (bool, bool, error) {
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ab, ba := s.blocking(a, b)
	return ab, ba, nil
}

func (s *Store) blocking(a, b string) (aBlocksB, bBlocksA bool) {
	_, aBlocksB = s.blocks[a][b]
	_, bBlocksA = s.blocks[b][a]
	return aBlocksB, bBlocksA
}

// DirectBlocking implements chat.BlockStore.
func (s *Store) DirectBlocking(ctx context.Context, chatID, userID string) (bool, bool, bool, error) {
	if err := ctx.Err(); err != nil {
		return false, false, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.chats[chatID]
	if !ok {
		return false, false, false, nil
	}
	if st.chat.Kind != chat.KindDirect {
		return true, false, false, nil
	}
	if _, ok := st.member(userID); !ok {
		return false, false, false, nil
	}
	for _, m := range st.chat.Members {
		if m.UserID != userID {
			ab, ba := s.blocking(userID, m.UserID)
			return false, ab, ba, nil
		}
	}
	return false, false, false, nil
}
