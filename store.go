package chat

import (
	"context"
	"time"
)

// Store is the record of truth for chats, members and the per-chat event
// log. The Service validates input, checks who may do what and generates
// ids and timestamps before it calls the Store; the Store persists, assigns
// sequence numbers and answers queries.
//
// Every method must be safe for concurrent use by multiple goroutines and by
// multiple processes sharing the same backing database.
//
// Sequence numbers: each persisted event of a chat gets the chat's next seq
// (1, 2, 3, ...), assigned atomically with the write, so that the events of
// a chat form a gap-free, duplicate-free log. A message's seq is the seq of
// its message.created event. Creating a chat consumes no seq. An event with
// seq N is readable (by ListEvents, ListMessages and LastSeqs) no later than
// the call that wrote it returns, and never before every event below N is
// readable too.
//
// Errors: "not found" is reported as an error wrapping ErrNotFound. A backend
// that cannot reach its database wraps ErrUnavailable, so that callers can
// retry and the HTTP layer answers 503. Other errors are system errors.
// Every method honours ctx: when it is cancelled the call returns promptly
// with an error and, for writes, either the whole write happened or none of
// it did.
//
// Chats are returned with their members sorted by user id (byte-wise), each
// with its LastReadSeq, and with LastMessage set.
//
// Times are passed in by the Service already truncated to microseconds and
// in UTC; a Store returns them in UTC with at least microsecond precision.
//
// Run the storetest package against an implementation to check it.
type Store interface {
	// CreateChat persists c, a new chat with its members, LastSeq 0 and
	// LastActivityAt equal to CreatedAt, whatever c says for those two.
	//
	// If key is not empty, at most one chat may exist per key: when a chat
	// with that key already exists, CreateChat stores nothing and returns
	// the existing chat, as it is now, with created=false. Concurrent calls
	// with the same key all return the same chat, exactly one with
	// created=true. Keys are opaque bytes (NUL included) in one space for
	// every kind of chat: the Service keys a direct chat by its pair of
	// users and a group by its creator and the client_id it was created
	// with, and keeps the two forms apart itself.
	CreateChat(ctx context.Context, c Chat, key string) (_ Chat, created bool, _ error)

	// GetChat returns the chat, or ErrNotFound.
	GetChat(ctx context.Context, chatID string) (Chat, error)

	// GetMember returns the membership of userID in chatID, with its
	// LastReadSeq, or ErrNotFound when the chat does not exist or userID is
	// not a member.
	GetMember(ctx context.Context, chatID, userID string) (Member, error)

	// ListChats returns up to q.Limit chats that userID is a member of,
	// each with its members, ordered by LastActivityAt descending and then
	// by ID descending (compared byte-wise). When q.After is not nil it returns only chats that
	// sort strictly after that position. A user with no chats gets an empty
	// slice and no error.
	ListChats(ctx context.Context, userID string, q ChatQuery) ([]Chat, error)

	// ChatIDs returns the ids of every chat userID is a member of, in any
	// order. It is how a node learns which chats to follow for a connected
	// user, so it must stay cheap for users with thousands of chats.
	ChatIDs(ctx context.Context, userID string) ([]string, error)

	// LastSeqs returns the current LastSeq of each existing chat in chatIDs.
	// Ids of chats that do not exist are left out of the map.
	LastSeqs(ctx context.Context, chatIDs []string) (map[string]int64, error)

	// AppendMessage persists m as the next event of m.ChatID, setting m.Seq
	// and the chat's LastSeq and LastActivityAt (to m.CreatedAt), all in one
	// atomic step, and returns the stored message with created=true.
	//
	// It returns ErrNotFound if the chat does not exist or m.Sender is not a
	// member at the time of the write. If m.ClientID is not empty and the
	// chat already holds a message from m.Sender with that ClientID, it
	// stores nothing and returns the original message with created=false;
	// concurrent retries store exactly one message.
	AppendMessage(ctx context.Context, m Message) (_ Message, created bool, _ error)

	// ListMessages returns up to q.Limit messages of chatID in ascending seq
	// order, selected as MessageQuery describes. A chat that does not exist
	// or has no messages in the range gives an empty slice and no error;
	// the Service checks existence and membership first.
	ListMessages(ctx context.Context, chatID string, q MessageQuery) ([]Message, error)

	// ListEvents returns up to limit persisted events of chatID with seq
	// greater than afterSeq, in ascending seq order and without gaps. It is
	// used to replay what a connection or a node missed.
	//
	// Message events (created, updated, deleted) carry the message as it
	// is now, with its own seq: an edit or delete shows in earlier events
	// of the same message too, so that a client applying events in order
	// ends in the current state. Member events carry UserID.
	ListEvents(ctx context.Context, chatID string, afterSeq int64, limit int) ([]Event, error)

	// EditMessage edits (e.Delete false) or deletes message e.Seq of
	// e.ChatID on behalf of e.UserID, and persists that as the chat's next
	// event, message.updated or message.deleted, setting the chat's
	// LastSeq and LastActivityAt (to e.At), all in one atomic step. It
	// returns the event, whose Message is the message after the change:
	// with Text and EditedAt = e.At for an edit; a tombstone (Deleted,
	// Text "", Metadata nil, every other field unchanged: a delete is not
	// an edit) for a delete.
	//
	// Errors: ErrNotFound if the chat does not exist, e.UserID is not a
	// member, or no message has seq e.Seq; ErrForbidden if e.UserID did
	// not send it; ErrConflict when editing a deleted message. Deleting a
	// deleted message changes nothing: it returns changed=false and an
	// event with Seq 0 whose Message is the tombstone.
	EditMessage(ctx context.Context, e MessageEdit) (_ Event, changed bool, _ error)

	// MarkRead moves userID's read marker in chatID to seq, clamped to the
	// chat's LastSeq, unless the marker is already there or beyond. It
	// returns the marker after the call and whether it moved; ErrNotFound
	// if the chat does not exist or userID is not a member.
	MarkRead(ctx context.Context, chatID, userID string, seq int64) (readSeq int64, moved bool, _ error)

	// AddMember adds c.UserID to group c.ChatID on behalf of c.ActorID as
	// the chat's next event, member.added with UserID set, setting the
	// chat's LastSeq and LastActivityAt (to c.At), in one atomic step; the
	// new member's LastReadSeq is that event's seq. Adding a
	// current member changes nothing and returns changed=false.
	//
	// Errors: ErrNotFound if the chat does not exist or c.ActorID is not a
	// member; ErrInvalid if the chat is direct or already has
	// c.MaxMembers members.
	AddMember(ctx context.Context, c MemberChange) (_ Event, changed bool, _ error)

	// RemoveMember removes c.UserID from group c.ChatID on behalf of
	// c.ActorID as the chat's next event, member.removed with UserID set,
	// setting the chat's LastSeq and LastActivityAt (to c.At).
	//
	// Errors: ErrNotFound if the chat does not exist, or c.ActorID or
	// c.UserID is not a member; ErrForbidden unless c.ActorID is c.UserID
	// or the chat's creator; ErrInvalid if the chat is direct.
	RemoveMember(ctx context.Context, c MemberChange) (Event, error)

	// UnreadCounts returns, for each chat of chatIDs that userID is a
	// member of, the number of messages from other senders, not deleted,
	// with a seq above userID's read marker. Other ids are left out. It
	// runs on every chat list, so its cost must not grow with the length
	// of a chat's history.
	UnreadCounts(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error)
}

// ChatCounter is an optional ability of a Store: counting the chats of
// many users in one call. The Service enforces Limits.MaxChatsPerUser with
// it when the Store has it, and otherwise counts each user's ChatIDs.
// storetest checks it when the Store has it.
type ChatCounter interface {
	// CountChats returns, for each user of userIDs, the number of chats
	// they are a member of. Users in no chat may be left out of the map.
	// It runs on every chat creation and member addition, for every
	// member, so it must stay cheap for users with thousands of chats.
	CountChats(ctx context.Context, userIDs []string) (map[string]int, error)
}

// MessageEdit is an edit or a delete for Store.EditMessage.
type MessageEdit struct {
	ChatID string
	Seq    int64
	// UserID is who asks; only the sender may edit or delete.
	UserID string
	// Delete turns the message into a tombstone; otherwise Text replaces
	// its text.
	Delete bool
	Text   string
	At     time.Time
}

// MemberChange adds or removes a member for Store.AddMember and
// Store.RemoveMember.
type MemberChange struct {
	ChatID  string
	ActorID string
	UserID  string
	At      time.Time
	// MaxMembers bounds the chat's members after an addition; always
	// positive.
	MaxMembers int
}

// ChatQuery selects a page of a user's chats for Store.ListChats.
type ChatQuery struct {
	// Limit is the largest number of chats to return; it is always positive.
	Limit int
	// After, if not nil, is the position of the last chat of the previous
	// page: only chats ordered after it (older activity, or equal activity
	// and a smaller id) are returned.
	After *ChatPosition
	// Archived filters the chats by the user's MemberSettings.Archived;
	// only a SettingsStore keeps any.
	Archived ArchivedFilter
}

// ChatPosition is a place in a user's chat list, which is ordered by
// LastActivityAt descending and then ChatID descending.
type ChatPosition struct {
	LastActivityAt time.Time
	ChatID         string
	// Pinned is set when the chat is one the user pinned, which a
	// SettingsStore lists first.
	Pinned bool
}

// MessageQuery selects a window of a chat's messages. Whatever the
// direction, results come back in ascending seq order.
type MessageQuery struct {
	// Limit is the largest number of messages to return; it is always
	// positive.
	Limit int
	// Forward selects the oldest Limit messages with seq > After. Otherwise
	// the newest Limit messages are selected, and Before, if positive,
	// restricts them to seq < Before.
	Forward bool
	// After is the exclusive lower bound when Forward is set.
	After int64
	// Before is the exclusive upper bound when Forward is not set; zero
	// means no bound.
	Before int64
}

// ChatIDsBatcher is an optional ability of a Store: listing the chats of
// many users in one call. When a node's connections resume at once, after
// a restart, the Service reads their chats with it in a few calls instead
// of one per connection; without it, it calls ChatIDs once per user.
// storetest checks it when the Store has it.
type ChatIDsBatcher interface {
	// ChatIDsOf returns, for each user of userIDs, the ids of every chat
	// they are a member of, in any order, as ChatIDs does for one user.
	// Users in no chat may be left out of the map. It is called with up
	// to a thousand users at once, so it must cost about one indexed read,
	// not one per user.
	ChatIDsOf(ctx context.Context, userIDs []string) (map[string][]string, error)
}
