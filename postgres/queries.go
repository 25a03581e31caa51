package postgres

import (
	"strings"

	"github.com/lib/pq"
)

// queries holds the Store's SQL with its tables qualified by the schema.
type queries struct {
	fill func(sql string) string // replaces {schema} with the quoted schema

	createChat        string
	chatByDirectKey   string
	getChat           string
	getMember         string
	listChats         string
	listChatsAfter    string
	chatIDs           string
	countChats        string
	lastSeqs          string
	appendMessage     string
	messageByClientID string
	messagesAfter     string
	messagesBefore    string
	listEvents        string
	editMessage       string
	markRead          string
	addMember         string
	removeMember      string
	unreadCounts      string
	writeBatch        string
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{schema}", pq.QuoteIdentifier(schema), "{message}", messageColumnsSQL)
	return queries{
		fill:              r.Replace,
		createChat:        r.Replace(createChatSQL),
		chatByDirectKey:   r.Replace(chatSQL + ` WHERE c.direct_key = $1`),
		getChat:           r.Replace(chatSQL + ` WHERE c.id = $1`),
		getMember:         r.Replace(getMemberSQL),
		listChats:         r.Replace(strings.Replace(listChatsSQL, "{after}", "", 1)),
		listChatsAfter:    r.Replace(strings.Replace(listChatsSQL, "{after}", "AND (um.pinned, c.last_activity_at, c.id) < ($6, $4, $5)", 1)),
		chatIDs:           r.Replace(chatIDsSQL),
		countChats:        r.Replace(countChatsSQL),
		lastSeqs:          r.Replace(lastSeqsSQL),
		appendMessage:     r.Replace(appendMessageSQL),
		messageByClientID: r.Replace(messageByClientIDSQL),
		messagesAfter:     r.Replace(messagesAfterSQL),
		messagesBefore:    r.Replace(messagesBeforeSQL),
		listEvents:        r.Replace(listEventsSQL),
		editMessage:       r.Replace(editMessageSQL),
		markRead:          r.Replace(markReadSQL),
		addMember:         r.Replace(addMemberSQL),
		removeMember:      r.Replace(removeMemberSQL),
		unreadCounts:      r.Replace(unreadCountsSQL),
		writeBatch:        r.Replace(writeBatchSQL),
	}
}

// messageColumnsSQL are the columns of a messageRow, from messages m.
const messageColumnsSQL = `m.chat_id, m.seq, m.sender, m.text, m.client_id, m.metadata, m.created_at, m.edited_at, m.deleted, m.deleted_by, m.attachments`

// createChatSQL inserts a chat and its members ($7, a text[]) in one
// statement and returns how many chats it inserted: 0 when the direct key
// ($6) is taken.
const createChatSQL = `
WITH chat AS (
	INSERT INTO {schema}.chats (id, kind, title, created_by, created_at, last_activity_at, direct_key)
	VALUES ($1, $2, $3, $4, $5, $5, $6)
	ON CONFLICT (direct_key) DO NOTHING
	RETURNING id
), members AS (
	INSERT INTO {schema}.members (chat_id, user_id)
	SELECT chat.id, u.id FROM chat, unnest($7::text[]) AS u(id)
)
SELECT count(*) FROM chat`

// chatDetailsSQL adds to a chat c its members, sorted, with their read
// markers and roles, and its last message, as the columns of a chatRow.
// The last message is the first entry of the primary key read backwards.
const chatDetailsSQL = `
	coalesce(mem.ids, '{}') AS member_ids, coalesce(mem.reads, '{}') AS member_reads,
	coalesce(mem.roles, '{}') AS member_roles,
	lm.seq AS m_seq, lm.sender AS m_sender, lm.text AS m_text, lm.client_id AS m_client_id,
	lm.metadata AS m_metadata, lm.created_at AS m_created_at, lm.edited_at AS m_edited_at, lm.deleted AS m_deleted,
	lm.deleted_by AS m_deleted_by,
	lm.attachments AS m_attachments
FROM {chat} c
CROSS JOIN LATERAL (
	SELECT array_agg(m.user_id ORDER BY m.user_id) AS ids, array_agg(m.last_read_seq ORDER BY m.user_id) AS reads,
		array_agg({schema}.effective_role(c.kind, m.role, m.user_id, c.created_by) ORDER BY m.user_id) AS roles
	FROM {schema}.members m WHERE m.chat_id = c.id
) mem
LEFT JOIN LATERAL (
	SELECT m.seq, m.sender, m.text, m.client_id, m.metadata, m.created_at, m.edited_at, m.deleted, m.deleted_by, m.attachments
	FROM {schema}.messages m WHERE m.chat_id = c.id
	ORDER BY m.seq DESC
	LIMIT 1
) lm ON true`

// chatSQL selects chats with their details; a WHERE clause on c follows.
var chatSQL = `
SELECT c.id, c.kind, c.title, c.created_by, c.created_at, c.last_seq, c.last_activity_at, c.metadata,` +
	strings.Replace(chatDetailsSQL, "{chat}", "{schema}.chats", 1)

const getMemberSQL = `
SELECT m.user_id, m.last_read_seq, {schema}.effective_role(c.kind, m.role, m.user_id, c.created_by) AS role
FROM {schema}.members m JOIN {schema}.chats c ON c.id = m.chat_id
WHERE m.chat_id = $1 AND m.user_id = $2`

// listChatsSQL picks a page of the user's chats first and only then reads
// the members and last messages of the chats on it: the user's pinned
// chats first, then by activity. $3 filters archived chats: ” keeps
// every chat, 'exclude' and 'only' as chat.ArchivedFilter says. {after} is
// empty for the first page.
var listChatsSQL = `
SELECT c.*,` + strings.Replace(chatDetailsSQL, "{chat}", `(
	SELECT c.id, c.kind, c.title, c.created_by, c.created_at, c.last_seq, c.last_activity_at, c.metadata, um.pinned
	FROM {schema}.members um
	JOIN {schema}.chats c ON c.id = um.chat_id
	WHERE um.user_id = $1 AND ($3 = '' OR um.archived = ($3 = 'only')) {after}
	ORDER BY um.pinned DESC, c.last_activity_at DESC, c.id DESC
	LIMIT $2
)`, 1) + `
ORDER BY c.pinned DESC, c.last_activity_at DESC, c.id DESC`

const chatIDsSQL = `
SELECT chat_id FROM {schema}.members WHERE user_id = $1`

// countChatsSQL is an index-only scan of members_user_id_chat_id_idx.
const countChatsSQL = `
SELECT user_id, count(*) FROM {schema}.members WHERE user_id = ANY ($1::text[]) GROUP BY user_id`

const lastSeqsSQL = `
SELECT id, last_seq FROM {schema}.chats WHERE id = ANY ($1::text[])`

// appendMessageSQL calls the function that performs a whole send; see
// migrations/001_initial_schema.up.sql.
const appendMessageSQL = `
SELECT r_status, r_seq, r_text, r_metadata, r_created_at, r_edited_at, r_deleted
FROM {schema}.append_message($1, $2, $3, $4, $5, $6)`

const messageByClientIDSQL = `
SELECT {message}
FROM {schema}.messages m
WHERE m.chat_id = $1 AND m.sender = $2 AND m.client_id = $3 AND m.client_id <> ''`

// messagesAfterSQL reads forward from a seq.
const messagesAfterSQL = `
SELECT {message}
FROM {schema}.messages m
WHERE m.chat_id = $1 AND m.seq > $2
ORDER BY m.seq
LIMIT $3`

// messagesBeforeSQL reads the newest messages below a seq backwards along
// the primary key and returns them in ascending order.
const messagesBeforeSQL = `
SELECT * FROM (
	SELECT {message}
	FROM {schema}.messages m
	WHERE m.chat_id = $1 AND m.seq < $2
	ORDER BY m.seq DESC
	LIMIT $3
) newest
ORDER BY seq`

// listEventsSQL merges the two halves of the log, message.created events
// from messages and the others from events, each read along its primary
// key. Message events carry their message's current row.
const listEventsSQL = `
SELECT * FROM (
	(SELECT m.seq, 'message.created' AS type, NULL AS user_id, NULL AS actor_id, NULL::json AS data,
		m.seq AS m_seq, m.sender AS m_sender, m.text AS m_text, m.client_id AS m_client_id,
		m.metadata AS m_metadata, m.created_at AS m_created_at, m.edited_at AS m_edited_at, m.deleted AS m_deleted,
		m.deleted_by AS m_deleted_by,
		m.attachments AS m_attachments
	FROM {schema}.messages m
	WHERE m.chat_id = $1 AND m.seq > $2
	ORDER BY m.seq
	LIMIT $3)
	UNION ALL
	(SELECT e.seq, e.type, e.user_id, e.actor_id, e.data,
		m.seq, m.sender, m.text, m.client_id, m.metadata, m.created_at, m.edited_at, m.deleted, m.deleted_by, m.attachments
	FROM {schema}.events e
	LEFT JOIN {schema}.messages m ON m.chat_id = e.chat_id AND m.seq = e.message_seq
	WHERE e.chat_id = $1 AND e.seq > $2
	ORDER BY e.seq
	LIMIT $3)
) log
ORDER BY seq
LIMIT $3`

const editMessageSQL = `
SELECT r_status, r_event_seq AS r_seq, r_sender, r_text, r_client_id, r_metadata, r_created_at, r_edited_at, r_deleted
FROM {schema}.edit_message($1, $2, $3, $4, $5, $6)`

const markReadSQL = `
SELECT r_status, r_read_seq AS r_seq FROM {schema}.mark_read($1, $2, $3)`

const addMemberSQL = `
SELECT r_status, r_seq FROM {schema}.add_member($1, $2, $3, $4, $5)`

const removeMemberSQL = `
SELECT r_status, r_seq FROM {schema}.remove_member($1, $2, $3, $4)`

// writeBatchSQL performs many single-event writes in one statement; see
// migrations/002_write_batch.up.sql.
const writeBatchSQL = `
SELECT * FROM {schema}.write_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::json[], $7::bigint[], $8::timestamptz[])`

// unreadCountsSQL counts, for each of the user's memberships among the
// chats $2, the messages of others after the marker, not deleted, as
//
//	(messages after the marker)
//	- (the user's own messages after the marker)
//	- (deleted messages of others after the marker)
//
// where the first two are differences of ordinals: the chat's message
// count less the ordinal of the last message at or below the marker, and
// the sender ordinal of the user's last message less that of their last
// one at or below the marker. Each ordinal is one descent of an index, so
// a chat costs the same whatever its length and however far behind the
// user is; only the deleted messages after the marker are walked, in an
// index that holds nothing else.
//
// CASE evaluates its subqueries only when they are needed: nothing of a
// chat read to its end, and the user's messages at or below the marker only
// when they sent one after it.
const unreadCountsSQL = `
SELECT um.chat_id,
	CASE WHEN um.last_read_seq >= c.last_seq THEN 0 ELSE
		c.message_count
		- coalesce((SELECT m.ordinal FROM {schema}.messages m
			WHERE m.chat_id = um.chat_id AND m.seq <= um.last_read_seq
			ORDER BY m.seq DESC LIMIT 1), 0)
		- coalesce((SELECT own.sender_ordinal - coalesce((SELECT m.sender_ordinal FROM {schema}.messages m
				WHERE m.chat_id = um.chat_id AND m.sender = um.user_id AND m.seq <= um.last_read_seq
				ORDER BY m.seq DESC LIMIT 1), 0)
			FROM (SELECT m.seq, m.sender_ordinal FROM {schema}.messages m
				WHERE m.chat_id = um.chat_id AND m.sender = um.user_id
				ORDER BY m.seq DESC LIMIT 1) own
			WHERE own.seq > um.last_read_seq), 0)
		- (SELECT count(*) FROM {schema}.messages m
			WHERE m.chat_id = um.chat_id AND m.deleted AND m.seq > um.last_read_seq AND m.sender <> um.user_id)
	END AS unread
FROM {schema}.members um
JOIN {schema}.chats c ON c.id = um.chat_id
WHERE um.user_id = $1 AND um.chat_id = ANY ($2::text[])`
