package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reaction event types. Both are persisted, with the chat's next seq.
const (
	// EventReactionAdded is persisted: UserID reacted to a message;
	// Reaction is set.
	EventReactionAdded EventType = "reaction.added"
	// EventReactionRemoved is persisted: UserID took a reaction back;
	// Reaction is set.
	EventReactionRemoved EventType = "reaction.removed"
)

// MaxEmojiBytes bounds a reaction's emoji, in bytes of UTF-8: room for
// the longest emoji ZWJ sequences and for short names such as ":+1:".
const MaxEmojiBytes = 32

// Reaction is the count of one emoji on a message.
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int64  `json:"count"`
	// Me says whether the user the message was fetched for reacted with
	// Emoji. The Service sets it on the messages it returns to one user
	// (message pages, thread pages, reaction answers); in events, which
	// go to every member, it is false.
	Me bool `json:"me"`
}

// ReactionEvent is what a reaction.added or reaction.removed event
// carries besides the reacting user.
type ReactionEvent struct {
	// MessageSeq is the seq of the message reacted to.
	MessageSeq int64  `json:"message_seq"`
	Emoji      string `json:"emoji"`
	// Count is the number of reactions with Emoji on the message right
	// after this event, so that a client applying events in order ends
	// with the current count.
	Count int64 `json:"count"`
}

// ReactionEdit adds or removes one user's reaction, for Reactor.React.
type ReactionEdit struct {
	ChatID string
	// Seq is the message reacted to.
	Seq    int64
	UserID string
	Emoji  string
	// Remove takes the reaction back; otherwise it is added.
	Remove bool
	At     time.Time
	// MaxReactions bounds the distinct emojis of the message after an
	// addition; always positive.
	MaxReactions int
}

// Reactor is an optional ability of a Store: reactions to messages. Every
// message a Reactor returns (ListMessages, ListEvents, LastMessage, and
// ListReplies if it is a ThreadStore too) carries its Reactions counts,
// with Me false. The Service answers 501 to reactions when its Store is
// no Reactor. storetest checks it when the Store has it.
type Reactor interface {
	// React adds (r.Remove false) or removes r.UserID's reaction r.Emoji
	// to message r.Seq of r.ChatID as the chat's next event,
	// reaction.added or reaction.removed with UserID and Reaction set,
	// setting the chat's LastSeq and LastActivityAt (to r.At), all in one
	// atomic step. Counts are kept as they change, so that reading them
	// never counts the reactions one by one.
	//
	// Adding a reaction the user already has, or removing one they do
	// not have, changes nothing: it returns changed=false and an event
	// with Seq 0 whose Reaction has the current count.
	//
	// Errors: ErrNotFound if the chat does not exist, r.UserID is not a
	// member, or no message has seq r.Seq; ErrConflict if the message is
	// deleted; ErrInvalid if adding would give the message more than
	// r.MaxReactions distinct emojis.
	React(ctx context.Context, r ReactionEdit) (_ Event, changed bool, _ error)

	// UserReactions returns, for each message of seqs in chatID that
	// userID reacted to, the emojis they reacted with, in any order.
	UserReactions(ctx context.Context, chatID, userID string, seqs []int64) (map[int64][]string, error)
}

// React adds userID's reaction emoji to message seq of chatID and delivers
// a reaction.added event with the chat's next seq. Reacting again with
// the same emoji changes nothing and delivers nothing. Any member may
// react; a reaction counts against RateLimit.Sends. It returns the
// message as userID sees it now.
//
// Errors: ErrNotFound if userID is not a member or there is no such
// message; ErrConflict if it was deleted; ErrInvalid for an emoji that is
// not 1 to MaxEmojiBytes bytes of printable text without spaces, or when
// the message has Limits.MaxReactionsPerMessage other emojis already;
// ErrNotImplemented if the Store is no Reactor.
func (s *Service) React(ctx context.Context, userID, chatID string, seq int64, emoji string) (Message, error) {
	return s.react(ctx, ReactionEdit{ChatID: chatID, Seq: seq, UserID: userID, Emoji: emoji})
}

// Unreact removes userID's reaction emoji from message seq of chatID and
// delivers a reaction.removed event with the chat's next seq. Removing a
// reaction userID does not have changes nothing and delivers nothing. It
// returns the message as userID sees it now, and fails as React does.
func (s *Service) Unreact(ctx context.Context, userID, chatID string, seq int64, emoji string) (Message, error) {
	return s.react(ctx, ReactionEdit{ChatID: chatID, Seq: seq, UserID: userID, Emoji: emoji, Remove: true})
}

func (s *Service) react(ctx context.Context, r ReactionEdit) (Message, error) {
	if err := s.checkCaller(r.UserID, r.ChatID); err != nil {
		return Message{}, err
	}
	reactor, ok := s.backend.(Reactor)
	if !ok {
		return Message{}, unsupported("reactions")
	}
	if r.Seq <= 0 {
		return Message{}, fmt.Errorf("chat: react: %w", ErrNotFound)
	}
	if err := checkEmoji(r.Emoji); err != nil {
		return Message{}, err
	}
	if err := s.checkMember(ctx, r.UserID, r.ChatID); err != nil {
		return Message{}, err
	}
	if err := s.sendLimit.allow(r.UserID); err != nil {
		return Message{}, err
	}
	r.At = s.timestamp()
	r.MaxReactions = s.limits.MaxReactionsPerMessage
	wctx, cancel := s.writeContext(ctx)
	var ev Event
	var changed bool
	err := s.observeOptional(wctx, "React", func(ctx context.Context) (err error) {
		ev, changed, err = reactor.React(ctx, r)
		return err
	})
	cancel()
	if err != nil {
		s.writeFailed(r.ChatID, err)
		if errors.Is(err, ErrInvalid) {
			err = invalidf("a message has at most %d different reactions", r.MaxReactions)
		}
		return Message{}, fmt.Errorf("chat: react: %w", err)
	}
	if changed {
		s.hub.publishEvent(ctx, ev)
	}
	return s.messageFor(ctx, r.UserID, r.ChatID, r.Seq)
}

// messageFor returns message seq of chatID as userID sees it.
func (s *Service) messageFor(ctx context.Context, userID, chatID string, seq int64) (Message, error) {
	m, err := s.message(ctx, chatID, seq)
	if err != nil {
		return Message{}, err
	}
	msgs := []Message{m}
	if err := s.withMyReactions(ctx, userID, chatID, msgs); err != nil {
		return Message{}, err
	}
	return msgs[0], nil
}

// withMyReactions sets Reaction.Me on msgs for userID, when the Store is a
// Reactor and any of msgs has reactions.
func (s *Service) withMyReactions(ctx context.Context, userID, chatID string, msgs []Message) error {
	reactor, ok := s.backend.(Reactor)
	if !ok {
		return nil
	}
	var seqs []int64
	for _, m := range msgs {
		if len(m.Reactions) > 0 {
			seqs = append(seqs, m.Seq)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	var mine map[int64][]string
	err := s.observeOptional(ctx, "UserReactions", func(ctx context.Context) (err error) {
		mine, err = reactor.UserReactions(ctx, chatID, userID, seqs)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat: user reactions: %w", err)
	}
	for i := range msgs {
		emojis := mine[msgs[i].Seq]
		if len(emojis) == 0 {
			continue
		}
		// The message may be on its way to subscribers too.
		rs := make([]Reaction, len(msgs[i].Reactions))
		for j, r := range msgs[i].Reactions {
			r.Me = slices.Contains(emojis, r.Emoji)
			rs[j] = r
		}
		msgs[i].Reactions = rs
	}
	return nil
}

// checkEmoji accepts 1 to MaxEmojiBytes bytes of valid UTF-8 without
// spaces or control characters: an emoji, an emoji sequence or a short
// name, never something that would break a URL path or a log line.
func checkEmoji(emoji string) error {
	if emoji == "" || len(emoji) > MaxEmojiBytes {
		return invalidf("emoji must be 1 to %d bytes", MaxEmojiBytes)
	}
	if !utf8.ValidString(emoji) {
		return invalidf("emoji is not valid UTF-8")
	}
	if strings.IndexFunc(emoji, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0 {
		return invalidf("emoji must not contain spaces, control characters or slashes")
	}
	return nil
}
