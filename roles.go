package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is a member's role in a group. Roles rank owner > admin > member.
//
// Who may do what, with a RoleStore:
//   - Any member may add members, leave, and delete their own messages.
//   - Owners and admins may remove or ban a member they outrank, delete
//     anyone's message, rename the group and change its metadata, and list
//     and lift bans.
//   - Only owners change roles: an owner may give any other member any
//     role (owner, admin or member). Anyone may lower their own role,
//     except the last owner, who must make someone else owner first.
//   - The creator is the first owner. When the last owner leaves, the
//     oldest admin becomes owner, or else the oldest member: the one
//     whose member.added event is the earliest, initial members first,
//     ties by user id.
//
// Without a RoleStore there are no roles: the creator may remove anyone,
// members may remove themselves and delete their own messages, and the
// role, ban and chat update requests fail with ErrNotImplemented.
type Role string

// The roles.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Rank orders roles: 3 for owner, 2 for admin, 1 for member, 0 for none.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Moderates reports whether r may remove, ban and delete for others.
func (r Role) Moderates() bool { return r.Rank() >= RoleAdmin.Rank() }

// Persisted events of roles and moderation.
const (
	// EventMemberRole is persisted: UserID's role became Role, by ActorID
	// (the leaving owner, when ownership passed on).
	EventMemberRole EventType = "member.role"
	// EventMemberBanned is persisted: ActorID banned UserID, who can no
	// longer be added. When UserID was a member, a member.removed event
	// comes first.
	EventMemberBanned EventType = "member.banned"
	// EventMemberUnbanned is persisted: ActorID lifted UserID's ban.
	EventMemberUnbanned EventType = "member.unbanned"
	// EventChatUpdated is persisted: ActorID renamed the chat or changed
	// its metadata; Info holds both after the change.
	EventChatUpdated EventType = "chat.updated"
)

// ChatInfo is what a chat.updated event says of the chat.
type ChatInfo struct {
	Title    string          `json:"title"`
	Metadata json.RawMessage `json:"metadata"`
}

// Ban is a user banned from a group.
type Ban struct {
	UserID   string    `json:"user_id"`
	BannedBy string    `json:"banned_by"`
	At       time.Time `json:"at"`
}

// RoleChange sets UserID's role for RoleStore.SetRole.
type RoleChange struct {
	ChatID  string
	ActorID string
	UserID  string
	Role    Role
	At      time.Time
}

// ChatUpdate changes a group's title, metadata or both for
// RoleStore.UpdateChat. A nil field is left as it is; Metadata pointing
// at nil clears the metadata.
type ChatUpdate struct {
	ChatID   string
	ActorID  string
	Title    *string
	Metadata *json.RawMessage
	At       time.Time
}

// RoleStore is an optional ability of a Store: member roles, moderation
// (removal by rank, bans, deleting others' messages) and chat updates, each
// checked atomically with its write. See Role for the rules. Run
// storetest.TestRoles against an implementation.
//
// A RoleStore also changes what some Store methods do, in groups:
// CreateChat makes the creator owner and the others members (direct chats
// have no roles); AddMember gives the member role and fails with
// ErrForbidden for a banned user; RemoveMember follows the rank rule and
// ownership succession, as RemoveMemberAs, returning its first event;
// EditMessage lets owners and admins delete others' messages, recording
// Message.DeletedBy; and members carry their Role.
//
// Every change is the chat's next event (or events), setting the chat's
// LastSeq and LastActivityAt (to the change's At). Common errors:
// ErrNotFound if the chat does not exist or the actor is not a member;
// ErrInvalid for a direct chat; ErrForbidden if the actor's role does not
// allow the change.
type RoleStore interface {
	// RemoveMemberAs removes c.UserID on behalf of c.ActorID, who must be
	// c.UserID or outrank them (ErrForbidden otherwise; ErrNotFound if
	// c.UserID is not a member). It returns the member.removed event and,
	// when the last owner left and members remain, the member.role event
	// that makes the successor owner.
	RemoveMemberAs(ctx context.Context, c MemberChange) ([]Event, error)

	// SetRole gives c.UserID the role c.Role. Setting the role a member
	// has changes nothing and returns changed=false. Errors: ErrNotFound
	// if c.UserID is not a member; ErrForbidden unless the actor is an
	// owner or lowers their own role; ErrConflict when the last owner
	// would lower their own role.
	SetRole(ctx context.Context, c RoleChange) (_ Event, changed bool, _ error)

	// Ban bans c.UserID from the group on behalf of c.ActorID, an owner
	// or admin who outranks c.UserID if they are a member, and removes
	// them if they are: the events are member.removed (with ownership
	// succession, as RemoveMemberAs) then member.banned. Banning a banned
	// user changes nothing and returns changed=false. Banning oneself is
	// ErrInvalid.
	Ban(ctx context.Context, c MemberChange) (_ []Event, changed bool, _ error)

	// Unban lifts c.UserID's ban, on behalf of an owner or admin, as a
	// member.unbanned event. Lifting a ban that does not exist changes
	// nothing and returns changed=false.
	Unban(ctx context.Context, c MemberChange) (_ Event, changed bool, _ error)

	// ListBans returns the bans of chatID, by user id, for any member
	// (the Service lets only owners and admins ask); ErrNotFound if the
	// chat does not exist or userID is not a member.
	ListBans(ctx context.Context, chatID, userID string) ([]Ban, error)

	// UpdateChat changes the group's title or metadata on behalf of an
	// owner or admin, as a chat.updated event whose Info is the chat's
	// title and metadata after it. A change to what the chat already has
	// changes nothing and returns changed=false and an event with Seq 0.
	// Chat.Metadata shows the metadata from then on.
	UpdateChat(ctx context.Context, u ChatUpdate) (_ Event, changed bool, _ error)
}

// roles returns the Store's RoleStore, or ErrNotImplemented.
func (s *Service) roles() (RoleStore, error) {
	rs, ok := s.backend.(RoleStore)
	if !ok {
		return nil, &requestError{kind: ErrNotImplemented, msg: "roles and moderation are not available: this server's Store does not implement chat.RoleStore"}
	}
	return rs, nil
}

// SetRoleRequest is the body of PATCH /chats/{chat_id}/members/{user_id}.
type SetRoleRequest struct {
	Role Role `json:"role"`
}

// SetRole gives member the role in group chatID on behalf of userID, and
// delivers a member.role event with the chat's next seq. See Role for who
// may change what. It returns the member as changed.
//
// Errors: ErrNotImplemented without a RoleStore; ErrInvalid for an unknown
// role or a direct chat; ErrNotFound if userID or member is not a member;
// ErrForbidden if userID may not make the change; ErrConflict when the last
// owner lowers their own role; ErrRateLimited past RateLimit.MemberChanges.
func (s *Service) SetRole(ctx context.Context, userID, chatID, member string, role Role) (Member, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Member{}, err
	}
	rs, err := s.roles()
	if err != nil {
		return Member{}, err
	}
	if role.Rank() == 0 {
		return Member{}, invalidf(`role must be "owner", "admin" or "member"`)
	}
	if err := s.checkID("user_id", member); err != nil {
		return Member{}, fmt.Errorf("chat: set role: %w", ErrNotFound)
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return Member{}, err
	}
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	ev, changed, err := rs.SetRole(wctx, RoleChange{ChatID: chatID, ActorID: userID, UserID: member, Role: role, At: s.timestamp()})
	if err != nil {
		s.writeFailed(chatID, err)
		return Member{}, roleError("set role", err)
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	m, err := s.store.GetMember(wctx, chatID, member)
	if err != nil {
		// The change is stored: answer with what it says.
		return Member{UserID: member, Role: role}, nil
	}
	return m, nil
}

// BanMember bans target from group chatID on behalf of userID, an owner or
// admin, removing them first if they are a member (they must be outranked):
// member.removed, then member.banned, each with the chat's next seq. A
// banned user cannot be added back, by anyone, until UnbanMember. Banning a
// banned user returns banned=false and delivers nothing.
//
// Errors: ErrNotImplemented without a RoleStore; ErrNotFound if userID is not
// a member; ErrInvalid for a direct chat or oneself; ErrForbidden if userID
// is not an owner or admin, or does not outrank target;
// ErrRateLimited past RateLimit.MemberChanges.
func (s *Service) BanMember(ctx context.Context, userID, chatID, target string) (banned bool, _ error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return false, err
	}
	rs, err := s.roles()
	if err != nil {
		return false, err
	}
	if err := s.checkID("user_id", target); err != nil {
		return false, err
	}
	if target == userID {
		return false, invalidf("you cannot ban yourself")
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return false, err
	}
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	evs, changed, err := rs.Ban(wctx, MemberChange{ChatID: chatID, ActorID: userID, UserID: target, At: s.timestamp()})
	if err != nil {
		s.writeFailed(chatID, err)
		return false, roleError("ban", err)
	}
	for _, ev := range evs {
		s.hub.publishEvent(ctx, ev)
	}
	return changed, nil
}

// UnbanMember lifts target's ban from group chatID on behalf of userID,
// an owner or admin, delivering a member.unbanned event. Lifting no ban
// changes nothing. Errors as BanMember.
func (s *Service) UnbanMember(ctx context.Context, userID, chatID, target string) error {
	if err := s.checkCaller(userID, chatID); err != nil {
		return err
	}
	rs, err := s.roles()
	if err != nil {
		return err
	}
	if err := s.checkID("user_id", target); err != nil {
		return err
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return err
	}
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	ev, changed, err := rs.Unban(wctx, MemberChange{ChatID: chatID, ActorID: userID, UserID: target, At: s.timestamp()})
	if err != nil {
		s.writeFailed(chatID, err)
		return roleError("unban", err)
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	return nil
}

// BanList is the reply of GET /chats/{chat_id}/bans.
type BanList struct {
	Bans []Ban `json:"bans"`
}

// ListBans returns the bans of group chatID, by user id, to an owner or
// admin. Errors: ErrNotImplemented without a RoleStore; ErrNotFound if userID
// is not a member; ErrForbidden for a plain member.
func (s *Service) ListBans(ctx context.Context, userID, chatID string) ([]Ban, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return nil, err
	}
	rs, err := s.roles()
	if err != nil {
		return nil, err
	}
	m, err := s.store.GetMember(ctx, chatID, userID)
	if err != nil {
		return nil, fmt.Errorf("chat: list bans: %w", err)
	}
	if !m.Role.Moderates() {
		return nil, forbiddenf("only owners and admins see the bans")
	}
	bans, err := rs.ListBans(ctx, chatID, userID)
	if err != nil {
		return nil, fmt.Errorf("chat: list bans: %w", err)
	}
	if bans == nil {
		bans = []Ban{}
	}
	return bans, nil
}

// UpdateChatRequest is the body of PATCH /chats/{chat_id}: the fields
// present change, the others stay. Metadata null clears it.
type UpdateChatRequest struct {
	Title *string `json:"title"`
	// Metadata is a JSON object of at most Limits.MaxMetadataBytes, or
	// null; absent leaves it as it is.
	Metadata json.RawMessage `json:"metadata"`
}

// UpdateChat renames group chatID or changes its metadata on behalf of
// userID, an owner or admin, and delivers a chat.updated event with the
// chat's next seq (nothing when nothing changes). It returns the chat.
//
// Errors: ErrNotImplemented without a RoleStore; ErrInvalid for a bad title
// or metadata, an empty request or a direct chat; ErrNotFound if userID is
// not a member; ErrForbidden for a plain member; ErrRateLimited past
// RateLimit.MemberChanges.
func (s *Service) UpdateChat(ctx context.Context, userID, chatID string, req UpdateChatRequest) (Chat, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return Chat{}, err
	}
	rs, err := s.roles()
	if err != nil {
		return Chat{}, err
	}
	u := ChatUpdate{ChatID: chatID, ActorID: userID, Title: req.Title}
	if req.Title != nil {
		if err := s.checkTitle(*req.Title); err != nil {
			return Chat{}, err
		}
	}
	if req.Metadata != nil {
		md, err := s.checkMetadata(req.Metadata)
		if err != nil {
			return Chat{}, err
		}
		u.Metadata = &md
	}
	if u.Title == nil && u.Metadata == nil {
		return Chat{}, invalidf("nothing to change: give title or metadata")
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return Chat{}, err
	}
	u.At = s.timestamp()
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	ev, changed, err := rs.UpdateChat(wctx, u)
	if err != nil {
		s.writeFailed(chatID, err)
		return Chat{}, roleError("update chat", err)
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	c, err := s.store.GetChat(wctx, chatID)
	if err != nil {
		return Chat{}, fmt.Errorf("chat: update chat: %w", err)
	}
	return s.decorateStored(ctx, userID, c, "update chat"), nil
}

func (s *Service) checkTitle(title string) error {
	if !utf8.ValidString(title) || strings.ContainsRune(title, 0) {
		return invalidf("title is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(title); n > s.limits.MaxTitleRunes {
		return invalidf("title has %d characters, more than %d", n, s.limits.MaxTitleRunes)
	}
	return nil
}

// roleError wraps a RoleStore error, giving the refusals a message the
// client can act on.
func roleError(op string, err error) error {
	switch {
	case clientMessage(err) != "":
		return err
	case errors.Is(err, ErrForbidden):
		return &requestError{kind: ErrForbidden, msg: op + ": your role does not allow it"}
	case errors.Is(err, ErrConflict):
		return &requestError{kind: ErrConflict, msg: op + ": the last owner must make someone else owner first"}
	case errors.Is(err, ErrInvalid):
		return &requestError{kind: ErrInvalid, msg: op + ": not possible in a direct chat"}
	}
	return fmt.Errorf("chat: %s: %w", op, err)
}
