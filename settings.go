package chat

import (
	"context"
	"fmt"
	"time"
)

// MemberSettings are one member's own settings of a chat. Only that member
// sees them, in the chat objects they fetch and in member.settings events,
// which reach their connections only, so that their devices follow.
type MemberSettings struct {
	// Muted silences push notifications of the chat for the member: until
	// MutedUntil, or for good when MutedUntil is nil. Unread counts still
	// count; Hooks.AfterSend learns who is muted (MutedMembers).
	Muted      bool       `json:"muted"`
	MutedUntil *time.Time `json:"muted_until,omitempty"`
	// Archived chats can be left out of chat lists (ChatListQuery.Archived).
	Archived bool `json:"archived"`
	// Pinned chats come first in chat lists.
	Pinned bool `json:"pinned"`
}

// MutedAt reports whether the settings mute the chat at time t.
func (m MemberSettings) MutedAt(t time.Time) bool {
	return m.Muted && (m.MutedUntil == nil || t.Before(*m.MutedUntil))
}

// EventMemberSettings is persisted: UserID changed their own settings of
// the chat to Settings. Only UserID's connections receive it whole, live or
// replayed; other members get it with its seq alone (no UserID, no
// Settings), so that their seqs stay gap-free and they learn nothing of
// whose settings changed or how.
const EventMemberSettings EventType = "member.settings"

// SettingsChange changes UserID's settings of ChatID for
// SettingsStore.SetSettings. A nil field is left as it is; Muted false
// clears MutedUntil.
type SettingsChange struct {
	ChatID     string
	UserID     string
	Muted      *bool
	MutedUntil *time.Time
	Archived   *bool
	Pinned     *bool
	At         time.Time
}

// Apply returns m changed by c, as a SettingsStore applies it.
func (c SettingsChange) Apply(m MemberSettings) MemberSettings {
	if c.Muted != nil {
		m.Muted, m.MutedUntil = *c.Muted, nil
		if *c.Muted && c.MutedUntil != nil {
			at := c.MutedUntil.UTC()
			m.MutedUntil = &at
		}
	}
	if c.Archived != nil {
		m.Archived = *c.Archived
	}
	if c.Pinned != nil {
		m.Pinned = *c.Pinned
	}
	return m
}

// SettingsStore is an optional ability of a Store: per-member chat
// settings. Run storetest.TestSettings against an implementation.
//
// A SettingsStore also orders ListChats with the user's pinned chats first
// (then by LastActivityAt and ID descending, as always, ChatPosition.Pinned
// telling where a page ended) and filters it by ChatQuery.Archived.
type SettingsStore interface {
	// SetSettings applies c to c.UserID's settings of c.ChatID atomically
	// and persists the result as the chat's next event, member.settings
	// with UserID and Settings, setting the chat's LastSeq but not its
	// LastActivityAt: a member's settings do not reorder anyone's chat
	// list. A change that leaves the settings as they are returns
	// changed=false and an event with Seq 0. ErrNotFound if the chat does
	// not exist or c.UserID is not a member. A member's settings go when
	// they leave.
	SetSettings(ctx context.Context, c SettingsChange) (_ Event, changed bool, _ error)

	// Settings returns userID's settings of each chat of chatIDs that
	// they are a member of and have settings for, not all off; others
	// are left out.
	Settings(ctx context.Context, userID string, chatIDs []string) (map[string]MemberSettings, error)

	// MutedMembers returns the members of chatID whose settings mute it
	// at time at, in any order.
	MutedMembers(ctx context.Context, chatID string, at time.Time) ([]string, error)
}

// ArchivedFilter selects chats of a list by whether the caller archived
// them.
type ArchivedFilter string

// The archived filters; the zero value lists every chat.
const (
	ArchivedInclude ArchivedFilter = ""
	ArchivedExclude ArchivedFilter = "exclude"
	ArchivedOnly    ArchivedFilter = "only"
)

func (s *Service) settingsStore() (SettingsStore, error) {
	ss, ok := s.backend.(SettingsStore)
	if !ok {
		return nil, &requestError{kind: ErrNotImplemented, msg: "member settings are not available: this server's Store does not implement chat.SettingsStore"}
	}
	return ss, nil
}

// SettingsRequest is the body of PATCH /chats/{chat_id}/settings: the
// fields present change, the others stay.
type SettingsRequest struct {
	Muted *bool `json:"muted"`
	// MutedUntil ends a mute (with muted true); absent or null mutes for
	// good.
	MutedUntil *time.Time `json:"muted_until"`
	Archived   *bool      `json:"archived"`
	Pinned     *bool      `json:"pinned"`
}

// UpdateSettings changes userID's own settings of chatID and delivers a
// member.settings event, with the chat's next seq, to userID's connections
// only. It returns the settings after the change.
//
// Errors: ErrNotImplemented without a SettingsStore; ErrInvalid for an empty
// request or muted_until without muted true; ErrNotFound if userID is not
// a member.
func (s *Service) UpdateSettings(ctx context.Context, userID, chatID string, req SettingsRequest) (MemberSettings, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return MemberSettings{}, err
	}
	ss, err := s.settingsStore()
	if err != nil {
		return MemberSettings{}, err
	}
	if req.Muted == nil && req.Archived == nil && req.Pinned == nil {
		return MemberSettings{}, invalidf("nothing to change: give muted, archived or pinned")
	}
	if req.MutedUntil != nil && (req.Muted == nil || !*req.Muted) {
		return MemberSettings{}, invalidf("muted_until needs muted true")
	}
	c := SettingsChange{ChatID: chatID, UserID: userID, Muted: req.Muted, Archived: req.Archived, Pinned: req.Pinned, At: s.timestamp()}
	if req.MutedUntil != nil {
		until := req.MutedUntil.UTC().Truncate(time.Microsecond)
		c.MutedUntil = &until
	}
	if err := s.memberLimit.allow(userID); err != nil {
		return MemberSettings{}, err
	}
	wctx, cancel := s.writeContext(ctx)
	defer cancel()
	ev, changed, err := ss.SetSettings(wctx, c)
	if err != nil {
		s.writeFailed(chatID, err)
		return MemberSettings{}, fmt.Errorf("chat: update settings: %w", err)
	}
	if ev.Settings == nil {
		return MemberSettings{}, fmt.Errorf("chat: update settings: the Store returned no settings")
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	return *ev.Settings, nil
}

// withSettings fills in the viewer's settings of chats, when the Store
// keeps settings.
func (s *Service) withSettings(ctx context.Context, userID string, chats []Chat) error {
	ss, ok := s.backend.(SettingsStore)
	if !ok || len(chats) == 0 {
		return nil
	}
	ids := make([]string, len(chats))
	for i, c := range chats {
		ids[i] = c.ID
	}
	got, err := ss.Settings(ctx, userID, ids)
	if err != nil {
		return fmt.Errorf("chat: settings: %w", err)
	}
	for i := range chats {
		if m, ok := got[chats[i].ID]; ok {
			chats[i].Settings = &m
		}
	}
	return nil
}

// privateTo reports whether ev says what is for one member's connections
// only, and not for user's.
func (ev *Event) privateTo(user string) bool {
	return ev.Type == EventMemberSettings && ev.UserID != user
}

// redacted is ev, an event privateTo someone else, as the other members
// get it: its type, chat and seq.
func (ev *Event) redacted() Event {
	return Event{Type: ev.Type, ChatID: ev.ChatID, Seq: ev.Seq}
}

type mutedKey struct{}

// MutedMembers returns, in an AfterSend hook, the members of the message's
// chat who had it muted when the hook was called: a host skips their push
// notifications. It is nil when none are, or the Store keeps no settings.
func MutedMembers(ctx context.Context) []string {
	m, _ := ctx.Value(mutedKey{}).([]string)
	return m
}

// afterSendContext returns the AfterSend hook's ctx for m, telling it who
// muted m's chat. A failure to read them is logged and leaves them out:
// a push too many beats a push lost.
func (s *Service) afterSendContext(ctx context.Context, m Message) context.Context {
	ss, ok := s.backend.(SettingsStore)
	if !ok {
		return ctx
	}
	muted, err := ss.MutedMembers(ctx, m.ChatID, s.timestamp())
	if err != nil {
		s.log.Error("chat: reading muted members for AfterSend", "chat_id", m.ChatID, "err", err)
		return ctx
	}
	if len(muted) == 0 {
		return ctx
	}
	return context.WithValue(ctx, mutedKey{}, muted)
}
