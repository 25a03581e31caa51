package chat

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Block is a user that the caller blocks.
type Block struct {
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

// BlockList is the reply of GET /blocks.
type BlockList struct {
	Blocks []Block `json:"blocks"`
}

// BlockStore is an optional ability of a Store: users blocking users.
// While either of two users blocks the other, sends into their direct chat
// are refused and no direct chat between them can be created or
// returned; group chats are not affected. Blocks are per user and are not
// events of any chat. Run storetest.TestBlocks against an implementation.
type BlockStore interface {
	// Block records that userID blocks blocked, from at; it returns
	// false if they already did.
	Block(ctx context.Context, userID, blocked string, at time.Time) (added bool, _ error)

	// Unblock removes userID's block of blocked; it returns false if
	// there was none.
	Unblock(ctx context.Context, userID, blocked string) (removed bool, _ error)

	// ListBlocks returns the users userID blocks, by user id.
	ListBlocks(ctx context.Context, userID string) ([]Block, error)

	// Blocking reports whether a blocks b and whether b blocks a.
	Blocking(ctx context.Context, a, b string) (aBlocksB, bBlocksA bool, _ error)

	// DirectBlocking is Blocking for userID and the other member of
	// chatID, when chatID is a direct chat and userID one of its members;
	// otherwise both are false. group reports whether chatID is a group,
	// which no block concerns, so that callers may stop asking about it.
	DirectBlocking(ctx context.Context, chatID, userID string) (group, blocks, blockedBy bool, _ error)
}

func (s *Service) blockStore() (BlockStore, error) {
	bs, ok := s.backend.(BlockStore)
	if !ok {
		return nil, &requestError{kind: ErrNotImplemented, msg: "blocking users is not available: this server's Store does not implement chat.BlockStore"}
	}
	return bs, nil
}

// BlockRequest is the body of POST /blocks.
type BlockRequest struct {
	UserID string `json:"user_id"`
}

// BlockUser makes userID block other. It returns false if they already
// did. Errors: ErrNotImplemented without a BlockStore; ErrInvalid for an
// invalid id or oneself.
func (s *Service) BlockUser(ctx context.Context, userID, other string) (added bool, _ error) {
	bs, err := s.blockCall(userID, other)
	if err != nil {
		return false, err
	}
	if other == userID {
		return false, invalidf("you cannot block yourself")
	}
	added, err = bs.Block(ctx, userID, other, s.timestamp())
	if err != nil {
		return false, fmt.Errorf("chat: block: %w", err)
	}
	return added, nil
}

// UnblockUser removes userID's block of other, if any. Errors:
// ErrNotImplemented without a BlockStore; ErrNotFound if there is none.
func (s *Service) UnblockUser(ctx context.Context, userID, other string) error {
	bs, err := s.blockCall(userID, other)
	if err != nil {
		return err
	}
	removed, err := bs.Unblock(ctx, userID, other)
	if err != nil {
		return fmt.Errorf("chat: unblock: %w", err)
	}
	if !removed {
		return fmt.Errorf("chat: unblock: %w", ErrNotFound)
	}
	return nil
}

// ListBlocks returns the users userID blocks, by user id. Errors:
// ErrNotImplemented without a BlockStore.
func (s *Service) ListBlocks(ctx context.Context, userID string) ([]Block, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return nil, err
	}
	bs, err := s.blockStore()
	if err != nil {
		return nil, err
	}
	blocks, err := bs.ListBlocks(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("chat: list blocks: %w", err)
	}
	if blocks == nil {
		blocks = []Block{}
	}
	return blocks, nil
}

func (s *Service) blockCall(userID, other string) (BlockStore, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.checkID("user id", userID); err != nil {
		return nil, err
	}
	if err := s.checkID("user_id", other); err != nil {
		return nil, err
	}
	return s.blockStore()
}

// checkDirectBlock refuses a send by userID into direct chat chatID while
// either member blocks the other. A send racing a block may still be
// stored: the check is not atomic with the append. Groups are remembered,
// so that sends into them ask the Store once per node.
func (s *Service) checkDirectBlock(ctx context.Context, userID, chatID string) error {
	bs, ok := s.backend.(BlockStore)
	if !ok || s.groups.has(chatID) {
		return nil
	}
	group, blocks, blockedBy, err := bs.DirectBlocking(ctx, chatID, userID)
	if err != nil {
		return fmt.Errorf("chat: send message: %w", err)
	}
	if group {
		s.groups.add(chatID)
	}
	return blockError(blocks, blockedBy)
}

// groupSet remembers ids of group chats, which no block concerns; a
// chat's kind never changes. It forgets them all past maxKnownGroups, so
// that it stays bounded.
type groupSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

const maxKnownGroups = 100_000

func (g *groupSet) has(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.ids[id]
	return ok
}

func (g *groupSet) add(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ids == nil || len(g.ids) >= maxKnownGroups {
		g.ids = make(map[string]struct{})
	}
	g.ids[id] = struct{}{}
}

// checkPairBlock refuses a direct chat between userID and other while
// either blocks the other.
func (s *Service) checkPairBlock(ctx context.Context, userID, other string) error {
	bs, ok := s.backend.(BlockStore)
	if !ok {
		return nil
	}
	blocks, blockedBy, err := bs.Blocking(ctx, userID, other)
	if err != nil {
		return fmt.Errorf("chat: create chat: %w", err)
	}
	return blockError(blocks, blockedBy)
}

func blockError(blocks, blockedBy bool) error {
	switch {
	case blocks:
		return forbiddenf("you have blocked this user: unblock them first")
	case blockedBy:
		return forbiddenf("this user has blocked you")
	}
	return nil
}
