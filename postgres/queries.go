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
	lastSeqs          string
	appendMessage     string
	messageByClientID string
	messagesAfter     string
	messagesBefore    string
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{schema}", pq.QuoteIdentifier(schema))
	return queries{
		fill:              r.Replace,
		createChat:        r.Replace(createChatSQL),
		chatByDirectKey:   r.Replace(chatColumnsSQL + ` WHERE c.direct_key = $1`),
		getChat:           r.Replace(chatColumnsSQL + ` WHERE c.id = $1`),
		getMember:         r.Replace(getMemberSQL),
		listChats:         r.Replace(strings.Replace(listChatsSQL, "{after}", "", 1)),
		listChatsAfter:    r.Replace(strings.Replace(listChatsSQL, "{after}", "AND (c.last_activity_at, c.id) < ($3, $4)", 1)),
		chatIDs:           r.Replace(chatIDsSQL),
		lastSeqs:          r.Replace(lastSeqsSQL),
		appendMessage:     r.Replace(appendMessageSQL),
		messageByClientID: r.Replace(messageByClientIDSQL),
		messagesAfter:     r.Replace(messagesAfterSQL),
		messagesBefore:    r.Replace(messagesBeforeSQL),
	}
}

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

// chatColumnsSQL selects a chat with its members' ids, sorted.
const chatColumnsSQL = `
SELECT c.id, c.kind, c.title, c.created_by, c.created_at, c.last_seq, c.last_activity_at,
	ARRAY(SELECT m.user_id FROM {schema}.members m WHERE m.chat_id = c.id ORDER BY m.user_id) AS members
FROM {schema}.chats c`

const getMemberSQL = `
SELECT user_id FROM {schema}.members WHERE chat_id = $1 AND user_id = $2`

// listChatsSQL picks a page of the user's chats first and only then reads
// the members of the chats on it. {after} is empty for the first page.
const listChatsSQL = `
SELECT p.*,
	ARRAY(SELECT m.user_id FROM {schema}.members m WHERE m.chat_id = p.id ORDER BY m.user_id) AS members
FROM (
	SELECT c.id, c.kind, c.title, c.created_by, c.created_at, c.last_seq, c.last_activity_at
	FROM {schema}.members um
	JOIN {schema}.chats c ON c.id = um.chat_id
	WHERE um.user_id = $1 {after}
	ORDER BY c.last_activity_at DESC, c.id DESC
	LIMIT $2
) p
ORDER BY p.last_activity_at DESC, p.id DESC`

const chatIDsSQL = `
SELECT chat_id FROM {schema}.members WHERE user_id = $1`

const lastSeqsSQL = `
SELECT id, last_seq FROM {schema}.chats WHERE id = ANY ($1::text[])`

// appendMessageSQL calls the function that performs a whole send; see
// migrations/002_append_message.up.sql.
const appendMessageSQL = `
SELECT r_status, r_seq, r_text, r_metadata, r_created_at
FROM {schema}.append_message($1, $2, $3, $4, $5, $6)`

const messageByClientIDSQL = `
SELECT chat_id, seq, sender, text, client_id, metadata, created_at
FROM {schema}.messages
WHERE chat_id = $1 AND sender = $2 AND client_id = $3 AND client_id <> ''`

// messagesAfterSQL reads forward from a seq, for ListMessages and
// ListEvents.
const messagesAfterSQL = `
SELECT chat_id, seq, sender, text, client_id, metadata, created_at
FROM {schema}.messages
WHERE chat_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3`

// messagesBeforeSQL reads the newest messages below a seq backwards along
// the primary key and returns them in ascending order.
const messagesBeforeSQL = `
SELECT * FROM (
	SELECT chat_id, seq, sender, text, client_id, metadata, created_at
	FROM {schema}.messages
	WHERE chat_id = $1 AND seq < $2
	ORDER BY seq DESC
	LIMIT $3
) newest
ORDER BY seq`
