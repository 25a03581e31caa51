package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

var _ chat.AttachmentStore = (*Store)(nil)

// attachmentRow is a row of attachments.
type attachmentRow struct {
	ID          string        `db:"id"`
	ChatID      string        `db:"chat_id"`
	Uploader    string        `db:"uploader"`
	ContentType string        `db:"content_type"`
	Size        int64         `db:"size"`
	Name        string        `db:"name"`
	Width       int           `db:"width"`
	Height      int           `db:"height"`
	CreatedAt   time.Time     `db:"created_at"`
	MessageSeq  sql.NullInt64 `db:"message_seq"`
}

func (r attachmentRow) attachment() chat.Attachment {
	return chat.Attachment{
		ID: r.ID, ChatID: r.ChatID, Uploader: r.Uploader, ContentType: r.ContentType, Size: r.Size,
		Name: r.Name, Width: r.Width, Height: r.Height, CreatedAt: r.CreatedAt.UTC(), MessageSeq: r.MessageSeq.Int64,
	}
}

func attachmentsOf(rows []attachmentRow) []chat.Attachment {
	out := make([]chat.Attachment, len(rows))
	for i, r := range rows {
		out[i] = r.attachment()
	}
	return out
}

const attachmentColumnsSQL = `id, chat_id, uploader, content_type, size, name, width, height, created_at, message_seq`

// createAttachmentSQL inserts the attachment if its uploader is a member
// of its chat, and returns how many rows it inserted.
const createAttachmentSQL = `
WITH ins AS (
	INSERT INTO {schema}.attachments (id, chat_id, uploader, content_type, size, name, width, height, created_at)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
	WHERE EXISTS (SELECT FROM {schema}.members WHERE chat_id = $2 AND user_id = $3)
	RETURNING 1
)
SELECT count(*) FROM ins`

const getAttachmentSQL = `
SELECT ` + attachmentColumnsSQL + ` FROM {schema}.attachments WHERE id = $1 AND chat_id = $2`

// referenceAttachmentsSQL makes the message ($4) reference the sender's
// unsent uploads $3 to chat $1; the caller checks that it found them all.
const referenceAttachmentsSQL = `
UPDATE {schema}.attachments SET message_seq = $4
WHERE chat_id = $1 AND uploader = $2 AND id = ANY ($3::text[]) AND message_seq IS NULL
RETURNING ` + attachmentColumnsSQL

const setMessageAttachmentsSQL = `
UPDATE {schema}.messages SET attachments = $3 WHERE chat_id = $1 AND seq = $2`

const messageAttachmentsSQL = `
SELECT attachments FROM {schema}.messages WHERE chat_id = $1 AND seq = $2`

const deleteMessageAttachmentsSQL = `
DELETE FROM {schema}.attachments WHERE chat_id = $1 AND message_seq = $2
RETURNING ` + attachmentColumnsSQL

// deleteStaleAttachmentsSQL deletes the oldest unsent uploads, read along
// attachments_unsent_idx. SKIP LOCKED leaves those a send is referencing
// right now to it; the DELETE's condition is checked again on the row it
// deletes.
const deleteStaleAttachmentsSQL = `
DELETE FROM {schema}.attachments
WHERE id IN (
	SELECT id FROM {schema}.attachments
	WHERE message_seq IS NULL AND created_at < $1
	ORDER BY created_at, id
	LIMIT $2
	FOR UPDATE SKIP LOCKED
) AND message_seq IS NULL
RETURNING ` + attachmentColumnsSQL

// CreateAttachment implements chat.AttachmentStore.
func (s *Store) CreateAttachment(ctx context.Context, a chat.Attachment) error {
	const op = "create attachment"
	var n int
	err := s.db.GetContext(ctx, &n, s.q.fill(createAttachmentSQL),
		a.ID, a.ChatID, a.Uploader, a.ContentType, a.Size, a.Name, a.Width, a.Height, a.CreatedAt)
	if err != nil {
		return wrapErr(op, err)
	}
	if n == 0 {
		return notFound(op, "member %q of chat %q", a.Uploader, a.ChatID)
	}
	return nil
}

// GetAttachment implements chat.AttachmentStore.
func (s *Store) GetAttachment(ctx context.Context, chatID, id string) (chat.Attachment, error) {
	const op = "get attachment"
	var row attachmentRow
	if err := s.db.GetContext(ctx, &row, s.q.fill(getAttachmentSQL), id, chatID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return chat.Attachment{}, notFound(op, "attachment %q of chat %q", id, chatID)
		}
		return chat.Attachment{}, wrapErr(op, err)
	}
	return row.attachment(), nil
}

// AppendMessageWithAttachments implements chat.AttachmentStore. It runs
// append_message, the references and the message's copy of their records
// in one transaction, which holds the chat's row lock throughout: sends
// with attachments are not batched with other writes.
func (s *Store) AppendMessageWithAttachments(ctx context.Context, m chat.Message) (_ chat.Message, created bool, err error) {
	const op = "append message"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stored, created, err := s.AppendMessageTx(ctx, tx, m)
	if err != nil {
		return chat.Message{}, false, err
	}
	if !created {
		if err := tx.Rollback(); err != nil {
			return chat.Message{}, false, wrapErr(op, err)
		}
		return s.messageWithAttachments(ctx, stored)
	}
	ids := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		ids[i] = a.ID
	}
	var rows []attachmentRow
	if err := tx.SelectContext(ctx, &rows, s.q.fill(referenceAttachmentsSQL), m.ChatID, m.Sender, pq.Array(ids), stored.Seq); err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	byID := make(map[string]chat.Attachment, len(rows))
	for _, r := range rows {
		byID[r.ID] = r.attachment()
	}
	stored.Attachments = make([]chat.Attachment, len(ids))
	for i, id := range ids {
		a, ok := byID[id]
		if !ok || len(rows) != len(ids) {
			return chat.Message{}, false, fmt.Errorf("postgres: %s: attachment %q is no unsent upload of %q to chat %q: %w", op, id, m.Sender, m.ChatID, chat.ErrInvalid)
		}
		stored.Attachments[i] = a
	}
	records, err := json.Marshal(stored.Attachments)
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if _, err := tx.ExecContext(ctx, s.q.fill(setMessageAttachmentsSQL), m.ChatID, stored.Seq, string(records)); err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	return stored, true, nil
}

// messageWithAttachments returns m with the attachments its row holds.
func (s *Store) messageWithAttachments(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	if m.Deleted {
		return m, false, nil
	}
	as, err := s.editedAttachments(ctx, m.ChatID, m.Seq)
	if err != nil {
		return chat.Message{}, false, wrapErr("append message", err)
	}
	m.Attachments = as
	return m, false, nil
}

// DeleteMessageAttachments implements chat.AttachmentStore.
func (s *Store) DeleteMessageAttachments(ctx context.Context, chatID string, seq int64) ([]chat.Attachment, error) {
	rows := []attachmentRow{}
	if err := s.db.SelectContext(ctx, &rows, s.q.fill(deleteMessageAttachmentsSQL), chatID, seq); err != nil {
		return nil, wrapErr("delete message attachments", err)
	}
	return attachmentsOf(rows), nil
}

// DeleteStaleAttachments implements chat.AttachmentStore.
func (s *Store) DeleteStaleAttachments(ctx context.Context, cutoff time.Time, limit int) ([]chat.Attachment, error) {
	if limit <= 0 {
		return []chat.Attachment{}, nil
	}
	rows := []attachmentRow{}
	if err := s.db.SelectContext(ctx, &rows, s.q.fill(deleteStaleAttachmentsSQL), cutoff, limit); err != nil {
		return nil, wrapErr("delete stale attachments", err)
	}
	out := attachmentsOf(rows)
	sortAttachments(out)
	return out, nil
}

// decodeAttachments reads the attachments column of messages: NULL, or
// the JSON array the send wrote.
func decodeAttachments(records []byte) []chat.Attachment {
	if len(records) == 0 {
		return nil
	}
	var as []chat.Attachment
	if err := json.Unmarshal(records, &as); err != nil || len(as) == 0 {
		return nil
	}
	return as
}

// editedAttachments returns the attachments of message seq of chatID, for
// the writes whose functions return none. The column is written once, by
// the send.
func (s *Store) editedAttachments(ctx context.Context, chatID string, seq int64) ([]chat.Attachment, error) {
	var records []byte
	err := s.db.GetContext(ctx, &records, s.q.fill(messageAttachmentsSQL), chatID, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // No such message: the edit says so.
	}
	if err != nil {
		return nil, err
	}
	return decodeAttachments(records), nil
}

// sortAttachments orders as the way DeleteStaleAttachments returns them:
// oldest first, then by id.
func sortAttachments(as []chat.Attachment) {
	slices.SortFunc(as, func(a, b chat.Attachment) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
