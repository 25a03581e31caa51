package chat

import (
	"context"
	"errors"
	"fmt"
)

// QuoteRunes bounds the excerpt of the parent's text that a reply's Quote
// carries, in Unicode code points.
const QuoteRunes = 100

// Quote shows, in a reply, the message it replies to as that message is
// now: a later edit shows, and so does a delete.
type Quote struct {
	Sender string `json:"sender"`
	// Text is the first QuoteRunes code points of the parent's text, ""
	// once it is deleted.
	Text    string `json:"text"`
	Deleted bool   `json:"deleted,omitempty"`
}

// ThreadStore is an optional ability of a Store: replies and threads. A
// ThreadStore's AppendMessage keeps Message.ReplyTo, refusing a ReplyTo
// that names no message of the chat (ErrInvalid) or a deleted one
// (ErrConflict), checked atomically with the write; and in the same step
// it adds one to the parent's ReplyCount and sets its LastReplySeq and
// LastReplyAt to the reply's. Every message a ThreadStore returns carries
// those three fields, and Quote when it is a reply.
//
// Replies are messages of the chat like any other: they take the chat's
// next seq and appear in ListMessages and ListEvents as message.created
// events. Threads are one level deep: a reply to a reply belongs to the
// thread of the message it names. A deleted reply still counts in its
// parent's ReplyCount and shows in the thread as a tombstone.
//
// The Service answers 501 to a send with reply_to, and to thread pages,
// when its Store is no ThreadStore. storetest checks it when the Store has
// it.
type ThreadStore interface {
	// ListReplies returns up to q.Limit messages of chatID whose ReplyTo
	// is parentSeq, in ascending seq order, selected among them as
	// MessageQuery describes. A chat or parent with no replies gives an
	// empty slice and no error, whether the parent is deleted or not.
	ListReplies(ctx context.Context, chatID string, parentSeq int64, q MessageQuery) ([]Message, error)
}

// ListReplies returns a window of the thread of message parentSeq of
// chatID, selected by q as ListMessages selects a window of the chat. The
// thread stays readable after its parent is deleted.
//
// Errors: ErrNotFound if userID is not a member or there is no message
// parentSeq; ErrNotImplemented if the Store is no ThreadStore.
func (s *Service) ListReplies(ctx context.Context, userID, chatID string, parentSeq int64, q MessageQuery) (MessagePage, error) {
	if err := s.checkCaller(userID, chatID); err != nil {
		return MessagePage{}, err
	}
	threads, ok := s.backend.(ThreadStore)
	if !ok {
		return MessagePage{}, unsupported("replies")
	}
	return s.messagePage(ctx, userID, chatID, q, func(ctx context.Context, q MessageQuery) ([]Message, error) {
		if _, err := s.message(ctx, chatID, parentSeq); err != nil {
			return nil, err
		}
		var msgs []Message
		err := s.observeOptional(ctx, "ListReplies", func(ctx context.Context) (err error) {
			msgs, err = threads.ListReplies(ctx, chatID, parentSeq, q)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("chat: list replies: %w", err)
		}
		return msgs, nil
	})
}

// message returns message seq of chatID as the Store has it, or
// ErrNotFound.
func (s *Service) message(ctx context.Context, chatID string, seq int64) (Message, error) {
	if seq <= 0 {
		return Message{}, fmt.Errorf("chat: read message: %w", ErrNotFound)
	}
	msgs, err := s.store.ListMessages(ctx, chatID, MessageQuery{Forward: true, After: seq - 1, Limit: 1})
	if err != nil {
		return Message{}, fmt.Errorf("chat: read message: %w", err)
	}
	if len(msgs) == 0 || msgs[0].Seq != seq {
		return Message{}, fmt.Errorf("chat: read message %d: %w", seq, ErrNotFound)
	}
	return msgs[0], nil
}

// checkReplyAndMentions checks, before a send, that the Store can keep
// m's ReplyTo and Mentions and that they name a live message and members
// of the chat, so that the client learns which is wrong. The Store checks
// again atomically when it appends. The sender's membership is checked
// first, so that a non-member learns nothing about the chat.
func (s *Service) checkReplyAndMentions(ctx context.Context, m Message) error {
	if m.ReplyTo == 0 && len(m.Mentions) == 0 {
		return nil
	}
	if _, ok := s.backend.(ThreadStore); m.ReplyTo != 0 && !ok {
		return unsupported("replies")
	}
	if _, ok := s.backend.(MentionStore); len(m.Mentions) > 0 && !ok {
		return unsupported("mentions")
	}
	if err := s.checkMember(ctx, m.Sender, m.ChatID); err != nil {
		return err
	}
	if m.ReplyTo != 0 {
		parent, err := s.message(ctx, m.ChatID, m.ReplyTo)
		if errors.Is(err, ErrNotFound) {
			return invalidf("reply_to %d is no message of this chat", m.ReplyTo)
		}
		if err != nil {
			return err
		}
		if parent.Deleted {
			return &requestError{kind: ErrConflict, msg: fmt.Sprintf("reply_to %d names a deleted message", m.ReplyTo)}
		}
	}
	for _, u := range m.Mentions {
		_, err := s.store.GetMember(ctx, m.ChatID, u)
		if errors.Is(err, ErrNotFound) {
			return invalidf("mentioned user %q is not a member of this chat", u)
		}
		if err != nil {
			return fmt.Errorf("chat: get member: %w", err)
		}
	}
	return nil
}

// sendError is the error of a send of m that the Store refused with err.
// A ThreadStore or MentionStore refuses a ReplyTo or mention that a
// concurrent delete or removal made invalid after checkReplyAndMentions.
func sendError(m Message, err error) error {
	if m.ReplyTo != 0 || len(m.Mentions) > 0 {
		switch {
		case errors.Is(err, ErrInvalid):
			return invalidf("reply_to must name a message of this chat and mentions members of it")
		case errors.Is(err, ErrConflict):
			return &requestError{kind: ErrConflict, msg: fmt.Sprintf("reply_to %d names a deleted message", m.ReplyTo)}
		}
	}
	return fmt.Errorf("chat: send message: %w", err)
}
