package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/embedchat/chat"
)

// attachmentTests check chat.AttachmentStore; each skips a Store without
// it.
var attachmentTests = []subtest{
	{"CreateThenGet", testAttachmentCreateThenGet},
	{"UploaderMustBeMember", testAttachmentUploaderMustBeMember},
	{"SendReferencesAndMessagesCarryThem", testAttachmentSendReferences},
	{"SendRefusesWhatIsNotTheSendersUnsentUpload", testAttachmentSendRefuses},
	{"RetryReturnsOriginal", testAttachmentRetry},
	{"ConcurrentSendsReferenceOnce", testAttachmentConcurrentSends},
	{"DeleteMessageAttachments", testAttachmentDeleteMessage},
	{"DeleteStaleAttachments", testAttachmentDeleteStale},
	{"CancelledCallsFail", testAttachmentCancelled},
}

func (f *fixture) attachments() chat.AttachmentStore {
	f.t.Helper()
	as, ok := f.store.(chat.AttachmentStore)
	if !ok {
		f.t.Skip("the Store is no chat.AttachmentStore")
	}
	return as
}

// upload records a new attachment of uploader in chatID.
func (f *fixture) upload(as chat.AttachmentStore, id, chatID, uploader string, at time.Time) chat.Attachment {
	f.t.Helper()
	a := chat.Attachment{
		ID: id, ChatID: chatID, Uploader: uploader, ContentType: "image/png", Size: 1234,
		Name: "photo " + id + ".png", Width: 640, Height: 480, CreatedAt: at,
	}
	require.NoError(f.t, as.CreateAttachment(f.ctx, a), "CreateAttachment %s", id)
	return a
}

func requireAttachment(t *testing.T, want, got chat.Attachment, what string) {
	t.Helper()
	requireTime(t, want.CreatedAt, got.CreatedAt, what+": CreatedAt")
	want.CreatedAt, got.CreatedAt = time.Time{}, time.Time{}
	require.Equal(t, want, got, what)
}

func requireAttachments(t *testing.T, want, got []chat.Attachment, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: %v", what, got)
	for i := range want {
		requireAttachment(t, want[i], got[i], fmt.Sprintf("%s[%d]", what, i))
	}
}

// sendWith appends a message of sender with the attachments ids.
func (f *fixture) sendWith(as chat.AttachmentStore, chatID, sender string, at time.Time, clientID string, ids ...string) (chat.Message, bool, error) {
	m := f.newMessage(chatID, sender, at)
	m.ClientID = clientID
	for _, id := range ids {
		m.Attachments = append(m.Attachments, chat.Attachment{ID: id})
	}
	return as.AppendMessageWithAttachments(f.ctx, m)
}

func referenced(seq int64, as ...chat.Attachment) []chat.Attachment {
	out := make([]chat.Attachment, len(as))
	for i, a := range as {
		a.MessageSeq = seq
		out[i] = a
	}
	return out
}

func testAttachmentCreateThenGet(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice", "bob")
	f.group("c2", f.at(0), "alice")
	a := f.upload(as, "a1", "c1", "alice", f.at(1))
	got, err := as.GetAttachment(f.ctx, "c1", "a1")
	require.NoError(f.t, err)
	requireAttachment(f.t, a, got, "GetAttachment")
	require.Zero(f.t, got.MessageSeq, "a new attachment is unreferenced")

	_, err = as.GetAttachment(f.ctx, "c2", "a1")
	requireNotFound(f.t, err, "GetAttachment of another chat")
	_, err = as.GetAttachment(f.ctx, "c1", "missing")
	requireNotFound(f.t, err, "GetAttachment of a missing id")
}

func testAttachmentUploaderMustBeMember(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	err := as.CreateAttachment(f.ctx, chat.Attachment{ID: "a1", ChatID: "c1", Uploader: "mallory", ContentType: "text/plain", Size: 1, Name: "x", CreatedAt: f.at(1)})
	requireNotFound(f.t, err, "CreateAttachment by a non-member")
	err = as.CreateAttachment(f.ctx, chat.Attachment{ID: "a2", ChatID: "nope", Uploader: "alice", ContentType: "text/plain", Size: 1, Name: "x", CreatedAt: f.at(1)})
	requireNotFound(f.t, err, "CreateAttachment to a missing chat")
	_, err = as.GetAttachment(f.ctx, "c1", "a1")
	requireNotFound(f.t, err, "GetAttachment of a refused upload")
}

func testAttachmentSendReferences(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice", "bob")
	first := f.send("c1", "bob", f.at(1))
	a1 := f.upload(as, "a1", "c1", "alice", f.at(2))
	a2 := f.upload(as, "a2", "c1", "alice", f.at(3))

	m, created, err := f.sendWith(as, "c1", "alice", f.at(4), "", "a2", "a1")
	require.NoError(f.t, err)
	require.True(f.t, created)
	require.Equal(f.t, first.Seq+1, m.Seq)
	want := referenced(m.Seq, a2, a1)
	requireAttachments(f.t, want, m.Attachments, "the stored message's attachments, in the order sent")
	for _, a := range want {
		got, err := as.GetAttachment(f.ctx, "c1", a.ID)
		require.NoError(f.t, err)
		requireAttachment(f.t, a, got, "GetAttachment after the send")
	}

	requireMessages(f.t, []chat.Message{first, m}, f.listMessages("c1", chat.MessageQuery{Limit: 10}))
	requireEventLog(f.t, []chat.Event{createdEvent(first), createdEvent(m)}, f.listEvents("c1", 0, 10))
	last := f.getChat("c1").LastMessage
	require.NotNil(f.t, last)
	requireMessage(f.t, m, *last)

	m = f.edit(m, "with a caption", f.at(5))
	requireMessages(f.t, []chat.Message{first, m}, f.listMessages("c1", chat.MessageQuery{Limit: 10}))
	gone := f.deleteMessage(m, f.at(6))
	require.Nil(f.t, gone.Attachments)
	requireMessages(f.t, []chat.Message{first, gone}, f.listMessages("c1", chat.MessageQuery{Limit: 10}))
	requireEventLog(f.t, []chat.Event{createdEvent(first), createdEvent(gone), updatedEvent(3, gone), deletedEvent(4, gone)}, f.listEvents("c1", 0, 10))
}

func testAttachmentSendRefuses(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice", "bob")
	f.group("c2", f.at(0), "alice")
	f.upload(as, "mine", "c1", "alice", f.at(1))
	f.upload(as, "bobs", "c1", "bob", f.at(1))
	f.upload(as, "other-chat", "c2", "alice", f.at(1))
	f.upload(as, "sent", "c1", "alice", f.at(1))
	_, _, err := f.sendWith(as, "c1", "alice", f.at(2), "", "sent")
	require.NoError(f.t, err)

	before := f.snapshot("c1")
	for _, ids := range [][]string{{"bobs"}, {"other-chat"}, {"sent"}, {"missing"}, {"mine", "bobs"}, {"mine", "mine"}} {
		_, _, err := f.sendWith(as, "c1", "alice", f.at(3), "", ids...)
		require.ErrorIs(f.t, err, chat.ErrInvalid, "sending %v", ids)
		f.requireUnchanged(before, fmt.Sprintf("a refused send of %v", ids))
	}
	a, err := as.GetAttachment(f.ctx, "c1", "mine")
	require.NoError(f.t, err)
	require.Zero(f.t, a.MessageSeq, "a refused send references nothing")

	_, _, err = f.sendWith(as, "nope", "alice", f.at(3), "", "mine")
	requireNotFound(f.t, err, "a send to a missing chat")
	_, _, err = f.sendWith(as, "c2", "bob", f.at(3), "", "mine")
	requireNotFound(f.t, err, "a send by a non-member")
}

func testAttachmentRetry(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	a1 := f.upload(as, "a1", "c1", "alice", f.at(1))
	f.upload(as, "a2", "c1", "alice", f.at(1))
	m, created, err := f.sendWith(as, "c1", "alice", f.at(2), "k1", "a1")
	require.NoError(f.t, err)
	require.True(f.t, created)

	before := f.snapshot("c1")
	again, created, err := f.sendWith(as, "c1", "alice", f.at(3), "k1", "a2")
	require.NoError(f.t, err)
	require.False(f.t, created, "a retry")
	require.Equal(f.t, m.Seq, again.Seq)
	requireAttachments(f.t, referenced(m.Seq, a1), again.Attachments, "the original's attachments")
	plain := f.newMessage("c1", "alice", f.at(3))
	plain.ClientID = "k1"
	again, created, err = f.store.AppendMessage(f.ctx, plain)
	require.NoError(f.t, err)
	require.False(f.t, created, "a retry through AppendMessage")
	requireAttachments(f.t, referenced(m.Seq, a1), again.Attachments, "the original's attachments, through AppendMessage")
	f.requireUnchanged(before, "a retry")
	a2, err := as.GetAttachment(f.ctx, "c1", "a2")
	require.NoError(f.t, err)
	require.Zero(f.t, a2.MessageSeq, "a retry references nothing")
}

func testAttachmentConcurrentSends(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	f.upload(as, "a1", "c1", "alice", f.at(1))
	const senders = 8
	var wg sync.WaitGroup
	results := make(chan error, senders)
	for i := range senders {
		m := f.newMessage("c1", "alice", f.at(2))
		m.ClientID = fmt.Sprintf("k%d", i)
		m.Attachments = []chat.Attachment{{ID: "a1"}}
		wg.Go(func() {
			_, _, err := as.AppendMessageWithAttachments(f.ctx, m)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(f.t, err, chat.ErrInvalid)
	}
	require.Equal(f.t, 1, ok, "exactly one send references the attachment")
	require.Equal(f.t, int64(1), f.requireGapFree("c1"))
}

func testAttachmentDeleteMessage(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	a1 := f.upload(as, "a1", "c1", "alice", f.at(1))
	a2 := f.upload(as, "a2", "c1", "alice", f.at(1))
	kept := f.upload(as, "kept", "c1", "alice", f.at(1))
	m, _, err := f.sendWith(as, "c1", "alice", f.at(2), "", "a1", "a2")
	require.NoError(f.t, err)
	other, _, err := f.sendWith(as, "c1", "alice", f.at(2), "", "kept")
	require.NoError(f.t, err)

	gone, err := as.DeleteMessageAttachments(f.ctx, "c1", m.Seq)
	require.NoError(f.t, err)
	requireAttachments(f.t, referenced(m.Seq, a1, a2), sortByID(gone), "DeleteMessageAttachments")
	for _, id := range []string{"a1", "a2"} {
		_, err := as.GetAttachment(f.ctx, "c1", id)
		requireNotFound(f.t, err, "GetAttachment of a deleted attachment")
	}
	got, err := as.GetAttachment(f.ctx, "c1", "kept")
	require.NoError(f.t, err)
	requireAttachment(f.t, referenced(other.Seq, kept)[0], got, "another message's attachment")

	none, err := as.DeleteMessageAttachments(f.ctx, "c1", m.Seq)
	require.NoError(f.t, err)
	require.Empty(f.t, none, "deleting again")
}

func sortByID(as []chat.Attachment) []chat.Attachment {
	out := append([]chat.Attachment(nil), as...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func testAttachmentDeleteStale(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	old2 := f.upload(as, "old2", "c1", "alice", f.at(2))
	old1 := f.upload(as, "old1", "c1", "alice", f.at(1))
	f.upload(as, "fresh", "c1", "alice", f.at(10))
	f.upload(as, "sent", "c1", "alice", f.at(1))
	f.upload(as, "of-deleted", "c1", "alice", f.at(1))
	_, _, err := f.sendWith(as, "c1", "alice", f.at(3), "", "sent")
	require.NoError(f.t, err)
	m, _, err := f.sendWith(as, "c1", "alice", f.at(3), "", "of-deleted")
	require.NoError(f.t, err)
	f.deleteMessage(m, f.at(4))

	cutoff := f.at(5)
	first, err := as.DeleteStaleAttachments(f.ctx, cutoff, 2)
	require.NoError(f.t, err)
	require.Len(f.t, first, 2, "limit")
	rest, err := as.DeleteStaleAttachments(f.ctx, cutoff, 10)
	require.NoError(f.t, err)
	requireAttachments(f.t, []chat.Attachment{old1, old2}, first, "the oldest stale attachments first")
	require.Empty(f.t, rest)

	for _, id := range []string{"old1", "old2"} {
		_, err := as.GetAttachment(f.ctx, "c1", id)
		requireNotFound(f.t, err, "GetAttachment of a stale attachment")
	}
	for _, id := range []string{"fresh", "sent", "of-deleted"} {
		_, err := as.GetAttachment(f.ctx, "c1", id)
		require.NoError(f.t, err, "%s is kept", id)
	}
	_, _, err = f.sendWith(as, "c1", "alice", f.at(6), "", "old1")
	require.ErrorIs(f.t, err, chat.ErrInvalid, "a stale attachment cannot be sent")
	none, err := as.DeleteStaleAttachments(f.ctx, cutoff, 10)
	require.NoError(f.t, err)
	require.Empty(f.t, none)
}

func testAttachmentCancelled(f *fixture) {
	as := f.attachments()
	f.group("c1", f.at(0), "alice")
	f.upload(as, "a1", "c1", "alice", f.at(1))
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	err := as.CreateAttachment(ctx, chat.Attachment{ID: "a2", ChatID: "c1", Uploader: "alice", ContentType: "text/plain", Size: 1, Name: "x", CreatedAt: f.at(1)})
	require.Error(f.t, err)
	_, err = as.GetAttachment(ctx, "c1", "a1")
	require.Error(f.t, err)
	m := f.newMessage("c1", "alice", f.at(2))
	m.Attachments = []chat.Attachment{{ID: "a1"}}
	_, _, err = as.AppendMessageWithAttachments(ctx, m)
	require.Error(f.t, err)
	_, err = as.DeleteStaleAttachments(ctx, f.at(100), 10)
	require.Error(f.t, err)

	_, err = as.GetAttachment(f.ctx, "c1", "a2")
	requireNotFound(f.t, err, "a cancelled CreateAttachment stores nothing")
	a, err := as.GetAttachment(f.ctx, "c1", "a1")
	require.NoError(f.t, err, "a cancelled delete deletes nothing")
	require.Zero(f.t, a.MessageSeq, "a cancelled send references nothing")
	require.Zero(f.t, f.getChat("c1").LastSeq)
}
