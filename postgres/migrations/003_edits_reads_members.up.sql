-- Edits and deletes, read markers, member changes, and what keeps unread
-- counts cheap.
--
-- Every event still takes its seq from chats.last_seq under the chat's row
-- lock. message.created stays a row of messages; the other persisted events
-- (message.updated, message.deleted, member.added, member.removed) are rows
-- of events. Each seq of a chat is in exactly one of the two tables.
--
-- Unread counts are differences of ordinals rather than counts over a
-- range (see docs/postgres.md): each message carries its position among
-- the chat's messages (ordinal) and among its sender's messages in the chat
-- (sender_ordinal), and chats.message_count is the chat's highest ordinal.
--
-- On a database that already holds messages, this migration writes every
-- message row once to fill in the ordinals, and builds one index over them.

ALTER TABLE chats ADD COLUMN message_count bigint NOT NULL DEFAULT 0;

-- MarkRead updates last_read_seq, which no index covers: with free space on
-- the page that update is HOT. New pages keep 30% free; the rows already
-- there move to such pages on their first update.
ALTER TABLE members
    ADD COLUMN last_read_seq bigint NOT NULL DEFAULT 0,
    SET (fillfactor = 70);

ALTER TABLE messages
    ADD COLUMN edited_at      timestamptz,
    -- A deleted message stays as a tombstone: text '' and metadata NULL.
    ADD COLUMN deleted        boolean NOT NULL DEFAULT false,
    ADD COLUMN ordinal        bigint NOT NULL DEFAULT 0,
    ADD COLUMN sender_ordinal bigint NOT NULL DEFAULT 0;

UPDATE messages m
SET ordinal = n.ordinal, sender_ordinal = n.sender_ordinal
FROM (
    SELECT chat_id, seq,
        row_number() OVER (PARTITION BY chat_id ORDER BY seq) AS ordinal,
        row_number() OVER (PARTITION BY chat_id, sender ORDER BY seq) AS sender_ordinal
    FROM messages
) n
WHERE m.chat_id = n.chat_id AND m.seq = n.seq;

-- Every writer must set the ordinals; a default would hide one that does not.
ALTER TABLE messages
    ALTER COLUMN ordinal DROP DEFAULT,
    ALTER COLUMN sender_ordinal DROP DEFAULT;

UPDATE chats c SET message_count = n.count
FROM (SELECT chat_id, count(*) FROM messages GROUP BY chat_id) n
WHERE c.id = n.chat_id;

-- Nothing recorded what members had read before this migration. They start
-- with everything read, so that an upgrade does not turn the whole history
-- of every chat into unread messages.
UPDATE members m SET last_read_seq = c.last_seq
FROM chats c
WHERE c.id = m.chat_id AND c.last_seq > 0;

-- A sender's messages in a chat by seq: the last one at or below a seq gives
-- how many the sender had sent by then (index-only thanks to INCLUDE).
CREATE INDEX messages_sender_idx ON messages (chat_id, sender, seq) INCLUDE (sender_ordinal);

-- Deleted messages only: unread counts subtract the ones after a marker.
-- Deletes are rare, so the index stays small.
CREATE INDEX messages_deleted_idx ON messages (chat_id, seq) INCLUDE (sender) WHERE deleted;

-- The persisted events that are not message.created. Message events point
-- at their message, whose row is its current state; member events name the
-- member. actor_id is who did it: the sender for message events.
CREATE TABLE events (
    chat_id     text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    type        text NOT NULL CHECK (type IN ('message.updated', 'message.deleted', 'member.added', 'member.removed')),
    actor_id    text COLLATE "C" NOT NULL,
    message_seq bigint,
    user_id     text COLLATE "C",
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (chat_id, seq),
    FOREIGN KEY (chat_id, message_seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE,
    CHECK (CASE WHEN type LIKE 'message.%'
        THEN message_seq IS NOT NULL AND user_id IS NULL
        ELSE user_id IS NOT NULL AND message_seq IS NULL END)
);

-- append_message_v2 is append_message that also numbers the message among
-- the chat's messages and its sender's, and returns a duplicate's current
-- state (edited_at, deleted) too. The steps and the reasons for them are
-- those of append_message in 002. The sender's previous message is read
-- under the chat's lock, so sender_ordinal has no gaps either.
CREATE FUNCTION append_message_v2(
    p_chat_id    text,
    p_sender     text,
    p_client_id  text,
    p_text       text,
    p_metadata   json,
    p_created_at timestamptz,
    OUT r_status     text,
    OUT r_seq        bigint,
    OUT r_text       text,
    OUT r_metadata   json,
    OUT r_created_at timestamptz,
    OUT r_edited_at  timestamptz,
    OUT r_deleted    boolean
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_ordinal        bigint;
    v_sender_ordinal bigint;
BEGIN
    PERFORM FROM chats WHERE id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;

    IF NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_sender) THEN
        r_status := 'not_member';
        RETURN;
    END IF;

    IF p_client_id <> '' THEN
        SELECT m.seq, m.text, m.metadata, m.created_at, m.edited_at, m.deleted
        INTO r_seq, r_text, r_metadata, r_created_at, r_edited_at, r_deleted
        FROM messages m
        WHERE m.chat_id = p_chat_id AND m.sender = p_sender
          AND m.client_id = p_client_id AND m.client_id <> '';
        IF FOUND THEN
            r_status := 'duplicate';
            RETURN;
        END IF;
    END IF;

    SELECT m.sender_ordinal INTO v_sender_ordinal
    FROM messages m
    WHERE m.chat_id = p_chat_id AND m.sender = p_sender
    ORDER BY m.seq DESC
    LIMIT 1;

    UPDATE chats
    SET last_seq = last_seq + 1, message_count = message_count + 1, last_activity_at = p_created_at
    WHERE id = p_chat_id
    RETURNING last_seq, message_count INTO r_seq, v_ordinal;

    INSERT INTO messages (chat_id, seq, sender, text, client_id, metadata, created_at, ordinal, sender_ordinal)
    VALUES (p_chat_id, r_seq, p_sender, p_text, p_client_id, p_metadata, p_created_at,
        v_ordinal, coalesce(v_sender_ordinal, 0) + 1);

    r_status := 'created';
END
$$;

-- Servers of the previous release still call append_message while a
-- rolling deploy replaces them; it now numbers messages as well.
CREATE OR REPLACE FUNCTION append_message(
    p_chat_id    text,
    p_sender     text,
    p_client_id  text,
    p_text       text,
    p_metadata   json,
    p_created_at timestamptz,
    OUT r_status     text,
    OUT r_seq        bigint,
    OUT r_text       text,
    OUT r_metadata   json,
    OUT r_created_at timestamptz
)
LANGUAGE sql
SET search_path FROM CURRENT
AS $$
    SELECT r_status, r_seq, r_text, r_metadata, r_created_at
    FROM append_message_v2(p_chat_id, p_sender, p_client_id, p_text, p_metadata, p_created_at)
$$;

-- edit_message edits (p_delete false) or deletes message p_seq of a chat on
-- behalf of p_user_id, as the chat's next event. Like append_message it
-- locks the chat's row before any check, and no outcome raises an error.
--
-- r_status is 'changed' (r_event_seq is the new event's seq), 'unchanged'
-- (a delete of a deleted message), 'no_chat', 'not_member', 'no_message',
-- 'not_sender' or 'deleted' (an edit of a deleted message). For 'changed'
-- and 'unchanged' the other r_ columns are the message after the call.
CREATE FUNCTION edit_message(
    p_chat_id text,
    p_seq     bigint,
    p_user_id text,
    p_delete  boolean,
    p_text    text,
    p_at      timestamptz,
    OUT r_status     text,
    OUT r_event_seq  bigint,
    OUT r_sender     text,
    OUT r_text       text,
    OUT r_client_id  text,
    OUT r_metadata   json,
    OUT r_created_at timestamptz,
    OUT r_edited_at  timestamptz,
    OUT r_deleted    boolean
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    PERFORM FROM chats WHERE id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;

    IF NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_user_id) THEN
        r_status := 'not_member';
        RETURN;
    END IF;

    SELECT m.sender, m.text, m.client_id, m.metadata, m.created_at, m.edited_at, m.deleted
    INTO r_sender, r_text, r_client_id, r_metadata, r_created_at, r_edited_at, r_deleted
    FROM messages m
    WHERE m.chat_id = p_chat_id AND m.seq = p_seq;
    IF NOT FOUND THEN
        r_status := 'no_message';
        RETURN;
    END IF;
    IF r_sender <> p_user_id THEN
        r_status := 'not_sender';
        RETURN;
    END IF;
    IF r_deleted THEN
        r_status := CASE WHEN p_delete THEN 'unchanged' ELSE 'deleted' END;
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_event_seq;

    IF p_delete THEN
        UPDATE messages SET text = '', metadata = NULL, deleted = true
        WHERE chat_id = p_chat_id AND seq = p_seq;
        r_text := '';
        r_metadata := NULL;
        r_deleted := true;
    ELSE
        UPDATE messages SET text = p_text, edited_at = p_at
        WHERE chat_id = p_chat_id AND seq = p_seq;
        r_text := p_text;
        r_edited_at := p_at;
    END IF;

    INSERT INTO events (chat_id, seq, type, actor_id, message_seq, created_at)
    VALUES (p_chat_id, r_event_seq,
        CASE WHEN p_delete THEN 'message.deleted' ELSE 'message.updated' END,
        p_user_id, p_seq, p_at);

    r_status := 'changed';
END
$$;

-- mark_read moves a member's read marker forward to p_seq, clamped to the
-- chat's last_seq. It takes no seq, so it does not lock the chat's row,
-- and reading does not wait for sending: the UPDATE's condition is checked
-- again on the newest version of the member's row, so concurrent calls only
-- ever move the marker forward, and the marker read after an UPDATE that
-- changed nothing includes whatever concurrent call got there first.
--
-- r_status is 'moved', 'unchanged' or 'not_member' (also when there is no
-- chat); r_read_seq is the marker after the call.
CREATE FUNCTION mark_read(
    p_chat_id text,
    p_user_id text,
    p_seq     bigint,
    OUT r_status   text,
    OUT r_read_seq bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_target bigint;
BEGIN
    SELECT least(p_seq, c.last_seq) INTO v_target FROM chats c WHERE c.id = p_chat_id;
    IF NOT FOUND THEN
        r_status := 'not_member';
        RETURN;
    END IF;

    UPDATE members SET last_read_seq = v_target
    WHERE chat_id = p_chat_id AND user_id = p_user_id AND last_read_seq < v_target
    RETURNING last_read_seq INTO r_read_seq;
    IF FOUND THEN
        r_status := 'moved';
        RETURN;
    END IF;

    SELECT m.last_read_seq INTO r_read_seq
    FROM members m
    WHERE m.chat_id = p_chat_id AND m.user_id = p_user_id;
    r_status := CASE WHEN FOUND THEN 'unchanged' ELSE 'not_member' END;
END
$$;

-- add_member adds p_user_id to a group on behalf of p_actor_id as the
-- chat's next event; the new member has read up to that event.
--
-- r_status is 'added' (r_seq is the event's seq), 'unchanged' (already a
-- member), 'no_chat', 'not_member' (the actor), 'direct' or 'full'.
CREATE FUNCTION add_member(
    p_chat_id     text,
    p_actor_id    text,
    p_user_id     text,
    p_at          timestamptz,
    p_max_members bigint,
    OUT r_status text,
    OUT r_seq    bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind text;
BEGIN
    SELECT c.kind INTO v_kind FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    -- Membership first: a non-member learns nothing, not even the kind.
    IF NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_actor_id) THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_user_id) THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    IF (SELECT count(*) FROM members WHERE chat_id = p_chat_id) >= p_max_members THEN
        r_status := 'full';
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;

    INSERT INTO members (chat_id, user_id, last_read_seq) VALUES (p_chat_id, p_user_id, r_seq);
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.added', p_actor_id, p_user_id, p_at);

    r_status := 'added';
END
$$;

-- remove_member removes p_user_id from a group on behalf of p_actor_id,
-- who must be p_user_id or the chat's creator, as the chat's next event.
--
-- r_status is 'removed' (r_seq is the event's seq), 'no_chat',
-- 'not_member' (the actor), 'direct', 'no_user' (p_user_id is no member)
-- or 'forbidden'.
CREATE FUNCTION remove_member(
    p_chat_id  text,
    p_actor_id text,
    p_user_id  text,
    p_at       timestamptz,
    OUT r_status text,
    OUT r_seq    bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind    text;
    v_creator text;
BEGIN
    SELECT c.kind, c.created_by INTO v_kind, v_creator FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_actor_id) THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = p_user_id) THEN
        r_status := 'no_user';
        RETURN;
    END IF;
    IF p_actor_id <> p_user_id AND p_actor_id <> v_creator THEN
        r_status := 'forbidden';
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;

    DELETE FROM members WHERE chat_id = p_chat_id AND user_id = p_user_id;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.removed', p_actor_id, p_user_id, p_at);

    r_status := 'removed';
END
$$;
