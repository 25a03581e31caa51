package chat

import (
	"context"
	"fmt"
	"slices"
)

// MentionStore is an optional ability of a Store: mentions. A
// MentionStore's AppendMessage keeps Message.Mentions, refusing with
// ErrInvalid a mention of a user who is not a member of the chat at the
// time of the write, checked atomically with it. Every message it returns
// carries its Mentions.
//
// The Service answers 501 to a send with mentions when its Store is no
// MentionStore. storetest checks it when the Store has it.
type MentionStore interface {
	// UnreadMentions returns, for each chat of chatIDs that userID is a
	// member of, the number of messages that UnreadCounts counts and that
	// mention userID. Other ids may be left out. It runs on every chat
	// list, so its cost must not grow with the length of a chat's
	// history.
	UnreadMentions(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error)
}

// checkMentions validates the mentions of a send and returns them sorted,
// without duplicates.
func (s *Service) checkMentions(mentions []string) ([]string, error) {
	if len(mentions) == 0 {
		return nil, nil
	}
	for _, u := range mentions {
		if err := s.checkID("mention", u); err != nil {
			return nil, err
		}
	}
	mentions = slices.Compact(slices.Sorted(slices.Values(mentions)))
	if len(mentions) > s.limits.MaxMentions {
		return nil, invalidf("a message mentions at most %d users", s.limits.MaxMentions)
	}
	return mentions, nil
}

// withUnreadMentions fills in UnreadMentions of chats, whose ids are ids,
// for userID when the Store is a MentionStore.
func (s *Service) withUnreadMentions(ctx context.Context, userID string, ids []string, chats []Chat) error {
	ms, ok := s.backend.(MentionStore)
	if !ok {
		return nil
	}
	var counts map[string]int64
	err := s.observeOptional(ctx, "UnreadMentions", func(ctx context.Context) (err error) {
		counts, err = ms.UnreadMentions(ctx, userID, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat: unread mentions: %w", err)
	}
	for i := range chats {
		chats[i].UnreadMentions = counts[chats[i].ID]
	}
	return nil
}
