package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// AddMember adds newMember to group chatID on behalf of userID, who must
// be a member. The new member's subscriptions get chat.created and follow
// the chat from its first event; the members get a member.added event with
// the chat's next seq. Adding a current member changes nothing and returns
// added=false. The Authorize hook (ActionAddMember) and the UserDirectory,
// if set, are consulted first.
//
// Errors: ErrNotFound if userID is not a member; ErrInvalid for a direct
// chat or a full one; ErrRateLimited past RateLimit.MemberChanges. Once
// the member is stored, AddMember returns the chat: failures to read it
// back or decorate it are logged and degrade the answer instead.
func (s *Service) AddMember(ctx context.Context, userID, chatID, newMember string) (_ Chat, added bool, _ error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Chat{}, false, err
	}
	if err := s.checkID("user_id", newMember); err != nil {
		return Chat{}, false, err
	}
	c, err := s.memberChat(ctx, userID, chatID)
	if err != nil {
		return Chat{}, false, err
	}
	if c.Kind == KindDirect {
		return Chat{}, false, invalidf("a direct chat has fixed members")
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return Chat{}, false, err
	}
	// The Store enforces the limit atomically; this gives the reason.
	if len(c.Members) >= s.limits.MaxMembers && !hasMember(c, newMember) {
		return Chat{}, false, invalidf("a chat has at most %d members", s.limits.MaxMembers)
	}
	if !hasMember(c, newMember) {
		if err := s.checkChatsPerUser(ctx, []string{newMember}); err != nil {
			return Chat{}, false, err
		}
	}
	if err := s.checkUsersExist(ctx, []string{newMember}); err != nil {
		return Chat{}, false, err
	}
	if err := s.authorize(ctx, Action{Kind: ActionAddMember, UserID: userID, ChatID: chatID, ChatKind: c.Kind, Members: []string{newMember}}); err != nil {
		return Chat{}, false, err
	}
	// The write and the read that announces it to the new member are not
	// cut short by the caller going away: an addition stored but never
	// announced would leave the new member's connections without the chat.
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	change := MemberChange{
		ChatID: chatID, ActorID: userID, UserID: newMember, At: s.timestamp(), MaxMembers: s.limits.MaxMembers,
	}
	ev, added, err := s.store.AddMember(wctx, change)
	if err != nil {
		s.writeFailed(chatID, err)
		if errors.Is(err, ErrForbidden) {
			// Only a RoleStore refuses an addition, for a ban.
			return Chat{}, false, forbiddenf("%s is banned from this chat", newMember)
		}
		return Chat{}, false, fmt.Errorf("chat: add member: %w", err)
	}
	if added {
		s.hub.publishEvent(ctx, ev)
	}
	// From here on the member is stored: failures degrade the answer
	// rather than fail it, or the client would retry a write that
	// succeeded.
	after, err := s.store.GetChat(wctx, chatID)
	if err != nil {
		s.log.Error("chat: add member stored; answering with the chat as read before it", "chat_id", chatID, "err", err)
		after = withAddedMember(c, change, ev, added)
	}
	if added {
		s.hub.publishChatCreatedTo(ctx, after, newMember)
	}
	return s.decorateStored(ctx, userID, after, "add member"), added, nil
}

// withAddedMember returns c, read before change was stored, as the change
// left it: the member in, the chat at the event's seq.
func withAddedMember(c Chat, change MemberChange, ev Event, added bool) Chat {
	if !added {
		return c
	}
	m := Member{UserID: change.UserID, LastReadSeq: ev.Seq}
	if len(c.Members) > 0 && c.Members[0].Role != "" {
		m.Role = RoleMember // the Store keeps roles
	}
	c.Members = append(slices.Clone(c.Members), m)
	slices.SortFunc(c.Members, func(a, b Member) int { return strings.Compare(a.UserID, b.UserID) })
	c.LastSeq = ev.Seq
	c.LastActivityAt = change.At
	return c
}

// RemoveMember removes member from group chatID on behalf of userID:
// anyone may remove themselves; without a RoleStore the chat's creator may
// remove anyone, with one an owner or admin may remove whom they outrank,
// and the last owner leaving passes ownership on (see Role). The
// members, the removed one included, get a member.removed event with the
// chat's next seq; it is the last event of the chat the removed member's
// subscriptions receive, on every node.
//
// Errors: ErrNotFound if userID or member is not a member; ErrForbidden if
// userID may not remove member; ErrInvalid for a direct chat;
// ErrRateLimited past RateLimit.MemberChanges.
func (s *Service) RemoveMember(ctx context.Context, userID, chatID, member string) error {
	if err := s.checkCaller(userID, chatID); err != nil {
		return err
	}
	if err := s.checkID("user_id", member); err != nil {
		// No member has this id, but the documented order of checks
		// comes first: a caller who is not a member, then a direct chat.
		c, err := s.store.GetChat(ctx, chatID)
		switch {
		case err != nil:
			return fmt.Errorf("chat: remove member: %w", err)
		case !hasMember(c, userID):
			return fmt.Errorf("chat: remove member: %w", ErrNotFound)
		case c.Kind == KindDirect:
			return invalidf("a direct chat has fixed members")
		}
		return fmt.Errorf("chat: remove member: %w", ErrNotFound)
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return err
	}
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	change := MemberChange{ChatID: chatID, ActorID: userID, UserID: member, At: s.timestamp()}
	if rs, ok := s.backend.(RoleStore); ok {
		evs, err := rs.RemoveMemberAs(wctx, change)
		if err != nil {
			s.writeFailed(chatID, err)
			return roleError("remove member", err)
		}
		for _, ev := range evs {
			s.hub.publishEvent(ctx, ev)
		}
		return nil
	}
	ev, err := s.store.RemoveMember(wctx, change)
	if err != nil {
		s.writeFailed(chatID, err)
		return fmt.Errorf("chat: remove member: %w", err)
	}
	s.hub.publishEvent(ctx, ev)
	return nil
}

// MemberQuery selects a page of a chat's members, which are ordered by
// user id (byte-wise).
type MemberQuery struct {
	// After is the user id of the last member of the previous page, or ""
	// for the first page.
	After string
	// Limit is the page size: 0 means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
}

// ListMembers returns a page of the members of chatID, which userID must
// be a member of (ErrNotFound otherwise), with display names when
// Hooks.Users is set. Chat objects carry only the first
// Limits.MaxInlineMembers members; this pages them all.
func (s *Service) ListMembers(ctx context.Context, userID, chatID string, q MemberQuery) (MemberPage, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return MemberPage{}, err
	}
	c, err := s.memberChat(ctx, userID, chatID)
	if err != nil {
		return MemberPage{}, err
	}
	rest := c.Members[sort.Search(len(c.Members), func(i int) bool { return c.Members[i].UserID > q.After }):]
	page := MemberPage{Members: rest[:min(limit, len(rest))], HasMore: len(rest) > limit}
	if page.Members == nil {
		page.Members = []Member{}
	}
	if err := s.withDisplayNames(ctx, []Chat{{Members: page.Members}}); err != nil {
		return MemberPage{}, err
	}
	return page, nil
}

// MemberPage is a page of a chat's members, in user id order.
type MemberPage struct {
	Members []Member `json:"members"`
	// HasMore says whether members after the last one exist.
	HasMore bool `json:"has_more"`
}

func hasMember(c Chat, userID string) bool {
	for _, m := range c.Members {
		if m.UserID == userID {
			return true
		}
	}
	return false
}
