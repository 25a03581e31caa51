package chat

import (
	"context"
	"log/slog"
	"time"
)

// observedStore times every Store call for the Observer and gives each a
// span with the Tracer. The Service wraps its Store in it only when one of
// them is set, so that a plain Service pays nothing.
type observedStore struct {
	s     *Service
	store Store
}

var _ Store = (*observedStore)(nil)

// begin starts the measurement of one call; the returned function ends it.
func (o *observedStore) begin(ctx context.Context, method string) (context.Context, func(error)) {
	start := time.Now()
	ctx, end := o.s.startSpan(ctx, "chat.store."+method, slog.String("chat.store.method", method))
	return ctx, func(err error) {
		o.s.observe(StoreCallObserved{Method: method, Duration: time.Since(start), Err: err})
		end(err)
	}
}

func (o *observedStore) CreateChat(ctx context.Context, c Chat, directKey string) (_ Chat, created bool, err error) {
	ctx, done := o.begin(ctx, "CreateChat")
	defer func() { done(err) }()
	return o.store.CreateChat(ctx, c, directKey)
}

func (o *observedStore) GetChat(ctx context.Context, chatID string) (_ Chat, err error) {
	ctx, done := o.begin(ctx, "GetChat")
	defer func() { done(err) }()
	return o.store.GetChat(ctx, chatID)
}

func (o *observedStore) GetMember(ctx context.Context, chatID, userID string) (_ Member, err error) {
	ctx, done := o.begin(ctx, "GetMember")
	defer func() { done(err) }()
	return o.store.GetMember(ctx, chatID, userID)
}

func (o *observedStore) ListChats(ctx context.Context, userID string, q ChatQuery) (_ []Chat, err error) {
	ctx, done := o.begin(ctx, "ListChats")
	defer func() { done(err) }()
	return o.store.ListChats(ctx, userID, q)
}

func (o *observedStore) ChatIDs(ctx context.Context, userID string) (_ []string, err error) {
	ctx, done := o.begin(ctx, "ChatIDs")
	defer func() { done(err) }()
	return o.store.ChatIDs(ctx, userID)
}

func (o *observedStore) LastSeqs(ctx context.Context, chatIDs []string) (_ map[string]int64, err error) {
	ctx, done := o.begin(ctx, "LastSeqs")
	defer func() { done(err) }()
	return o.store.LastSeqs(ctx, chatIDs)
}

func (o *observedStore) AppendMessage(ctx context.Context, m Message) (_ Message, created bool, err error) {
	ctx, done := o.begin(ctx, "AppendMessage")
	defer func() { done(err) }()
	return o.store.AppendMessage(ctx, m)
}

func (o *observedStore) ListMessages(ctx context.Context, chatID string, q MessageQuery) (_ []Message, err error) {
	ctx, done := o.begin(ctx, "ListMessages")
	defer func() { done(err) }()
	return o.store.ListMessages(ctx, chatID, q)
}

func (o *observedStore) ListEvents(ctx context.Context, chatID string, afterSeq int64, limit int) (_ []Event, err error) {
	ctx, done := o.begin(ctx, "ListEvents")
	defer func() { done(err) }()
	return o.store.ListEvents(ctx, chatID, afterSeq, limit)
}

func (o *observedStore) EditMessage(ctx context.Context, e MessageEdit) (_ Event, changed bool, err error) {
	ctx, done := o.begin(ctx, "EditMessage")
	defer func() { done(err) }()
	return o.store.EditMessage(ctx, e)
}

func (o *observedStore) MarkRead(ctx context.Context, chatID, userID string, seq int64) (_ int64, moved bool, err error) {
	ctx, done := o.begin(ctx, "MarkRead")
	defer func() { done(err) }()
	return o.store.MarkRead(ctx, chatID, userID, seq)
}

func (o *observedStore) AddMember(ctx context.Context, c MemberChange) (_ Event, changed bool, err error) {
	ctx, done := o.begin(ctx, "AddMember")
	defer func() { done(err) }()
	return o.store.AddMember(ctx, c)
}

func (o *observedStore) RemoveMember(ctx context.Context, c MemberChange) (_ Event, err error) {
	ctx, done := o.begin(ctx, "RemoveMember")
	defer func() { done(err) }()
	return o.store.RemoveMember(ctx, c)
}

func (o *observedStore) UnreadCounts(ctx context.Context, userID string, chatIDs []string) (_ map[string]int64, err error) {
	ctx, done := o.begin(ctx, "UnreadCounts")
	defer func() { done(err) }()
	return o.store.UnreadCounts(ctx, userID, chatIDs)
}

// countChats is CountChats of the optional ChatCounter, observed.
func (o *observedStore) countChats(ctx context.Context, cc ChatCounter, userIDs []string) (_ map[string]int, err error) {
	ctx, done := o.begin(ctx, "CountChats")
	defer func() { done(err) }()
	return cc.CountChats(ctx, userIDs)
}

// chatIDsOf is ChatIDsOf of the optional ChatIDsBatcher, observed.
func (o *observedStore) chatIDsOf(ctx context.Context, b ChatIDsBatcher, userIDs []string) (_ map[string][]string, err error) {
	ctx, done := o.begin(ctx, "ChatIDsOf")
	defer func() { done(err) }()
	return b.ChatIDsOf(ctx, userIDs)
}
