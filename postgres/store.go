package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/embedchat/chat"
)

var (
	_ chat.Store         = (*Store)(nil)
	_ chat.ChatCounter   = (*Store)(nil)
	_ chat.RoleStore     = (*Store)(nil)
	_ chat.SettingsStore = (*Store)(nil)
	_ chat.BlockStore    = (*Store)(nil)
)

// DefaultSchema is the schema that holds the tables when Config.Schema is
// empty.
const DefaultSchema = "chat"

// Config says where the Store's tables live and where it logs. The zero
// value uses DefaultSchema and logs nothing.
type Config struct {
	// Schema is the PostgreSQL schema of the tables, so that they never
	// collide with the host app's own. It must be a plain lower-case SQL
	// identifier: a letter or underscore, then letters, digits or
	// underscores, at most 63 bytes. Empty means DefaultSchema.
	Schema string

	// Logger receives the Store's warnings, such as New's warning that
	// the pool of db is configured to churn connections or to exceed the
	// server's connection limit (see the package documentation). Nil
	// discards them, as chat.Config.Logger does.
	Logger *slog.Logger

	// SearchConfig is the PostgreSQL text search configuration that
	// message search splits and normalises words with, such as 'english'
	// to find other forms of a word and skip stop words: a plain
	// lower-case name, optionally qualified by its schema. Empty means
	// DefaultSearchConfig ('simple'), the one migration 005 builds the
	// index for; another needs an index of its own (see docs/postgres.md,
	// "Search").
	SearchConfig string
}

var plainIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (c Config) schema() (string, error) {
	if c.Schema == "" {
		return DefaultSchema, nil
	}
	if !plainIdentifier.MatchString(c.Schema) {
		return "", fmt.Errorf("postgres: schema %q is not a plain lower-case identifier (letters, digits and underscores, at most 63 bytes, not starting with a digit)", c.Schema)
	}
	return c.Schema, nil
}

// Store is a chat.Store kept in PostgreSQL. It is safe for concurrent use by
// many goroutines and by many processes sharing the database.
//
// Every write is one statement, so a failed or cancelled call leaves
// nothing half-written. The Store keeps no connection of its own: after the
// database restarts, the pool of the *sqlx.DB opens fresh connections and
// calls succeed again. Calls made while the database cannot be reached fail
// with an error wrapping chat.ErrUnavailable.
//
// Sends, edits, deletes, read markers and member changes are committed in
// groups: a write that finds another of the Store's writes in flight
// waits for it, and then goes to PostgreSQL together with every write that
// queued meanwhile, as one statement and one commit. Each keeps every
// guarantee of chat.Store and gets its own result. A write that finds
// nothing in flight is written at once, so a lone write is not delayed.
// A caller whose context ends while its write waits or is in flight
// returns at once; the write then happens entirely or not at all. Call
// Close when shutting down, before closing db.
type Store struct {
	db     *sqlx.DB
	q      queries
	batch  batcher
	search searchQueries
}

// New returns a Store that keeps its tables in cfg.Schema of db, which must
// have been brought up to date with Migrate. New does not touch the
// database; db stays the caller's to configure and close. Configure its
// pool before calling New: New logs a warning to cfg.Logger if the pool is
// unbounded or keeps fewer idle connections than it opens, which makes it
// open new PostgreSQL sessions under steady load.
func New(db *sqlx.DB, cfg Config) (*Store, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("postgres: new store: db is nil")
	}
	schema, err := cfg.schema()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	searchConfig, err := cfg.searchConfig()
	if err != nil {
		return nil, err
	}
	checkPool(db.DB, log)
	s := &Store{db: db, q: newQueries(schema)}
	s.search = newSearchQueries(s.q.fill, searchConfig)
	s.batch.s = s
	return s, nil
}

// chatRow is a row of chats with its members, sorted by user id, their
// read markers, and its last message.
type chatRow struct {
	ID             string         `db:"id"`
	Kind           string         `db:"kind"`
	Title          string         `db:"title"`
	CreatedBy      string         `db:"created_by"`
	CreatedAt      time.Time      `db:"created_at"`
	LastSeq        int64          `db:"last_seq"`
	LastActivityAt time.Time      `db:"last_activity_at"`
	MemberIDs      pq.StringArray `db:"member_ids"`
	MemberReads    pq.Int64Array  `db:"member_reads"`
	MemberRoles    pq.StringArray `db:"member_roles"`
	Metadata       []byte         `db:"metadata"`
	Pinned         bool           `db:"pinned"` // for the viewer, in chat lists
	optionalMessage
}

func (r chatRow) chat() chat.Chat {
	c := chat.Chat{
		ID:             r.ID,
		Kind:           chat.Kind(r.Kind),
		Title:          r.Title,
		CreatedBy:      r.CreatedBy,
		CreatedAt:      r.CreatedAt.UTC(),
		LastSeq:        r.LastSeq,
		LastActivityAt: r.LastActivityAt.UTC(),
		Members:        make([]chat.Member, len(r.MemberIDs)),
		LastMessage:    r.message(r.ID),
	}
	for i, id := range r.MemberIDs {
		c.Members[i] = chat.Member{UserID: id, LastReadSeq: r.MemberReads[i], Role: chat.Role(r.MemberRoles[i])}
	}
	if r.Metadata != nil {
		c.Metadata = json.RawMessage(r.Metadata)
	}
	return c
}

// messageRow is a row of messages.
type messageRow struct {
	ChatID    string         `db:"chat_id"`
	Seq       int64          `db:"seq"`
	Sender    string         `db:"sender"`
	Text      string         `db:"text"`
	ClientID  string         `db:"client_id"`
	Metadata  []byte         `db:"metadata"` // database/sql copies into []byte; json.RawMessage would alias the driver's buffer.
	CreatedAt time.Time      `db:"created_at"`
	EditedAt  sql.NullTime   `db:"edited_at"`
	Deleted   bool           `db:"deleted"`
	DeletedBy sql.NullString `db:"deleted_by"`
	// Attachments is the JSON array of the message's attachments, or nil.
	Attachments []byte `db:"attachments"`
}

func (r messageRow) message() chat.Message {
	m := chat.Message{
		ChatID:    r.ChatID,
		Seq:       r.Seq,
		Sender:    r.Sender,
		Text:      r.Text,
		ClientID:  r.ClientID,
		CreatedAt: r.CreatedAt.UTC(),
		Deleted:   r.Deleted,
		DeletedBy: r.DeletedBy.String,
	}
	if r.Metadata != nil {
		m.Metadata = json.RawMessage(r.Metadata)
	}
	if r.EditedAt.Valid {
		at := r.EditedAt.Time.UTC()
		m.EditedAt = &at
	}
	if !r.Deleted {
		m.Attachments = decodeAttachments(r.Attachments)
	}
	return m
}

// optionalMessage is a message joined to another row, where there may be
// none: a chat's last message, or the message of an event. Its columns are
// prefixed with m_.
type optionalMessage struct {
	Seq       sql.NullInt64  `db:"m_seq"`
	Sender    sql.NullString `db:"m_sender"`
	Text      sql.NullString `db:"m_text"`
	ClientID  sql.NullString `db:"m_client_id"`
	Metadata  []byte         `db:"m_metadata"`
	CreatedAt sql.NullTime   `db:"m_created_at"`
	EditedAt  sql.NullTime   `db:"m_edited_at"`
	Deleted   sql.NullBool   `db:"m_deleted"`
	DeletedBy sql.NullString `db:"m_deleted_by"`
	// Attachments is the message's attachments column.
	Attachments []byte `db:"m_attachments"`
}

// message returns the message of chatID, or nil if there is none.
func (r optionalMessage) message(chatID string) *chat.Message {
	if !r.Seq.Valid {
		return nil
	}
	m := messageRow{
		ChatID:      chatID,
		Seq:         r.Seq.Int64,
		Sender:      r.Sender.String,
		Text:        r.Text.String,
		ClientID:    r.ClientID.String,
		Metadata:    r.Metadata,
		CreatedAt:   r.CreatedAt.Time,
		EditedAt:    r.EditedAt,
		Deleted:     r.Deleted.Bool,
		DeletedBy:   r.DeletedBy,
		Attachments: r.Attachments,
	}.message()
	return &m
}

// eventRow is an event of the log that ListEvents reads.
type eventRow struct {
	Seq     int64          `db:"seq"`
	Type    string         `db:"type"`
	UserID  sql.NullString `db:"user_id"`
	ActorID sql.NullString `db:"actor_id"`
	Data    []byte         `db:"data"`
	optionalMessage
}

// metadataArg passes metadata as text, so that the json column keeps it as
// the client wrote it, or as NULL when there is none.
func metadataArg(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// CreateChat implements chat.Store.
//
// The chat and its members are inserted by one statement. A direct chat
// whose key is taken is not inserted (ON CONFLICT DO NOTHING waits for a
// concurrent creator to commit), and the chat holding the key is read
// instead.
func (s *Store) CreateChat(ctx context.Context, c chat.Chat, directKey string) (chat.Chat, bool, error) {
	const op = "create chat"
	members := make([]string, len(c.Members))
	for i, m := range c.Members {
		members[i] = m.UserID
	}
	var key any // NULL: a group, or a direct chat that needs no deduplication.
	if directKey != "" {
		key = []byte(directKey)
	}
	var inserted int
	err := s.db.GetContext(ctx, &inserted, s.q.createChat,
		c.ID, string(c.Kind), c.Title, c.CreatedBy, c.CreatedAt, key, pq.Array(members))
	if err != nil {
		return chat.Chat{}, false, wrapErr(op, err)
	}
	if inserted == 1 {
		c.Members = slices.Clone(c.Members)
		slices.SortFunc(c.Members, func(a, b chat.Member) int { return strings.Compare(a.UserID, b.UserID) })
		for i := range c.Members {
			c.Members[i].LastReadSeq = 0
		}
		c.CreatedAt = c.CreatedAt.UTC()
		c.LastSeq = 0
		c.LastActivityAt = c.CreatedAt
		c.LastMessage = nil
		c.UnreadCount = 0
		return c, true, nil
	}
	var row chatRow
	if err := s.db.GetContext(ctx, &row, s.q.chatByDirectKey, []byte(directKey)); err != nil {
		// The key was taken when we tried to insert, and chats are never
		// deleted by the Store, so no rows means something else removed it.
		return chat.Chat{}, false, wrapErr(op, fmt.Errorf("read the chat with direct key %q: %w", directKey, err))
	}
	return row.chat(), false, nil
}

// GetChat implements chat.Store.
func (s *Store) GetChat(ctx context.Context, chatID string) (chat.Chat, error) {
	const op = "get chat"
	var row chatRow
	if err := s.db.GetContext(ctx, &row, s.q.getChat, chatID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return chat.Chat{}, notFound(op, "chat %q", chatID)
		}
		return chat.Chat{}, wrapErr(op, err)
	}
	return row.chat(), nil
}

// GetMember implements chat.Store.
func (s *Store) GetMember(ctx context.Context, chatID, userID string) (chat.Member, error) {
	const op = "get member"
	var row struct {
		UserID      string `db:"user_id"`
		LastReadSeq int64  `db:"last_read_seq"`
		Role        string `db:"role"`
	}
	if err := s.db.GetContext(ctx, &row, s.q.getMember, chatID, userID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return chat.Member{}, notFound(op, "member %q of chat %q", userID, chatID)
		}
		return chat.Member{}, wrapErr(op, err)
	}
	return chat.Member{UserID: row.UserID, LastReadSeq: row.LastReadSeq, Role: chat.Role(row.Role)}, nil
}

// ListChats implements chat.Store.
func (s *Store) ListChats(ctx context.Context, userID string, q chat.ChatQuery) ([]chat.Chat, error) {
	const op = "list chats"
	if q.Limit <= 0 {
		return []chat.Chat{}, nil // LIMIT would reject a negative limit.
	}
	var rows []chatRow
	var err error
	if q.After == nil {
		err = s.db.SelectContext(ctx, &rows, s.q.listChats, userID, q.Limit, string(q.Archived))
	} else {
		err = s.db.SelectContext(ctx, &rows, s.q.listChatsAfter, userID, q.Limit, string(q.Archived),
			q.After.LastActivityAt, q.After.ChatID, q.After.Pinned)
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	chats := make([]chat.Chat, len(rows))
	for i, r := range rows {
		chats[i] = r.chat()
	}
	return chats, nil
}

// ChatIDs implements chat.Store. It reads only the members index.
func (s *Store) ChatIDs(ctx context.Context, userID string) ([]string, error) {
	ids := []string{}
	if err := s.db.SelectContext(ctx, &ids, s.q.chatIDs, userID); err != nil {
		return nil, wrapErr("chat ids", err)
	}
	return ids, nil
}

// CountChats implements chat.ChatCounter.
func (s *Store) CountChats(ctx context.Context, userIDs []string) (map[string]int, error) {
	counts := make(map[string]int, len(userIDs))
	if len(userIDs) == 0 {
		return counts, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.countChats, pq.Array(userIDs))
	if err != nil {
		return nil, wrapErr("count chats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, wrapErr("count chats", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("count chats", err)
	}
	return counts, nil
}

// LastSeqs implements chat.Store.
func (s *Store) LastSeqs(ctx context.Context, chatIDs []string) (map[string]int64, error) {
	seqs := make(map[string]int64, len(chatIDs))
	if len(chatIDs) == 0 {
		return seqs, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q.lastSeqs, pq.Array(chatIDs))
	if err != nil {
		return nil, wrapErr("last seqs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, wrapErr("last seqs", err)
		}
		seqs[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("last seqs", err)
	}
	return seqs, nil
}

// AppendMessage implements chat.Store. The send is one call of the
// append_message function that the migrations create, so it is atomic
// without a transaction of its own; concurrent sends, and the other
// single-event writes, are committed together (see Store).
func (s *Store) AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	const op = "append message"
	row, err := s.batch.write(ctx, &writeItem{kind: writeAppend, chatID: m.ChatID, userID: m.Sender, other: m.ClientID,
		text: m.Text, metadata: m.Metadata, at: m.CreatedAt})
	if isClientIDViolation(err) {
		// Only a writer that skipped the chat row lock can get here, for
		// example a host inserting rows itself; its message is the original.
		var row messageRow
		if err := s.db.GetContext(ctx, &row, s.q.messageByClientID, m.ChatID, m.Sender, m.ClientID); err != nil {
			return chat.Message{}, false, wrapErr(op, fmt.Errorf("read the message with client id %q: %w", m.ClientID, err))
		}
		return row.message(), false, nil
	}
	if err != nil {
		return chat.Message{}, false, wrapErr(op, err)
	}
	stored, created, err := appended(m, row)
	if err == nil && !created {
		// append_message does not return the original's attachments.
		return s.messageWithAttachments(ctx, stored)
	}
	return stored, created, err
}

// AppendMessageTx is AppendMessage inside the caller's transaction, so that
// a message and the host app's own rows are committed together or not at
// all. The seq is taken in tx: a rollback gives it back and leaves no gap.
// It is never batched with other writes.
//
// Until tx ends it holds the lock of the chat's row, so other sends to that
// chat wait for it: keep tx short. The message is invisible to others until
// tx commits; publish it only after that.
//
// When the chat or the member does not exist, or m repeats a client id, no
// statement fails: tx stays usable and the caller decides whether to commit.
// Any other error may have aborted tx. tx should use the default READ
// COMMITTED isolation; under REPEATABLE READ or SERIALIZABLE a concurrent
// send to the same chat makes the call fail with a serialization error.
func (s *Store) AppendMessageTx(ctx context.Context, tx *sqlx.Tx, m chat.Message) (chat.Message, bool, error) {
	var row writeRow
	err := tx.GetContext(ctx, &row, s.q.appendMessage,
		m.ChatID, m.Sender, m.ClientID, m.Text, metadataArg(m.Metadata), m.CreatedAt)
	if err != nil {
		return chat.Message{}, false, wrapErr("append message", err)
	}
	return appended(m, row)
}

// appended turns what append_message returned for m into AppendMessage's
// result.
func appended(m chat.Message, row writeRow) (chat.Message, bool, error) {
	const op = "append message"
	switch row.Status {
	case "no_chat":
		return chat.Message{}, false, notFound(op, "chat %q", m.ChatID)
	case "not_member":
		return chat.Message{}, false, notFound(op, "member %q of chat %q", m.Sender, m.ChatID)
	case "created":
		m.Seq = row.Seq.Int64
		if len(m.Metadata) == 0 {
			m.Metadata = nil // Stored as NULL, read back as nil.
		} else {
			m.Metadata = bytes.Clone(m.Metadata) // The result shares nothing with the argument.
		}
		m.CreatedAt = m.CreatedAt.UTC()
		m.EditedAt = nil
		m.Deleted = false
		return m, true, nil
	case "duplicate":
		original := messageRow{
			ChatID:    m.ChatID,
			Seq:       row.Seq.Int64,
			Sender:    m.Sender,
			Text:      row.Text.String,
			ClientID:  m.ClientID,
			Metadata:  row.Metadata,
			CreatedAt: row.CreatedAt.Time,
			EditedAt:  row.EditedAt,
			Deleted:   row.Deleted.Bool,
		}
		return original.message(), false, nil
	}
	return chat.Message{}, false, fmt.Errorf("postgres: %s: append_message returned status %q", op, row.Status)
}

// ListMessages implements chat.Store.
func (s *Store) ListMessages(ctx context.Context, chatID string, q chat.MessageQuery) ([]chat.Message, error) {
	const op = "list messages"
	rows := []messageRow{}
	if q.Limit <= 0 {
		return []chat.Message{}, nil // LIMIT would reject a negative limit.
	}
	var err error
	if q.Forward {
		err = s.db.SelectContext(ctx, &rows, s.q.messagesAfter, chatID, q.After, q.Limit)
	} else {
		before := q.Before
		if before <= 0 {
			before = math.MaxInt64
		}
		err = s.db.SelectContext(ctx, &rows, s.q.messagesBefore, chatID, before, q.Limit)
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	ms := make([]chat.Message, len(rows))
	for i, r := range rows {
		ms[i] = r.message()
	}
	return ms, nil
}

// ListEvents implements chat.Store. The log is in two tables,
// message.created events in messages and the others in events; one
// statement merges them, so that the result is one snapshot of the log.
func (s *Store) ListEvents(ctx context.Context, chatID string, afterSeq int64, limit int) ([]chat.Event, error) {
	if limit <= 0 {
		return []chat.Event{}, nil // LIMIT would reject a negative limit.
	}
	rows := []eventRow{}
	if err := s.db.SelectContext(ctx, &rows, s.q.listEvents, chatID, afterSeq, limit); err != nil {
		return nil, wrapErr("list events", err)
	}
	events := make([]chat.Event, len(rows))
	for i, r := range rows {
		ev, err := r.event(chatID)
		if err != nil {
			return nil, wrapErr("list events", err)
		}
		events[i] = ev
	}
	return events, nil
}
