-- The initial schema: chats, their members, their messages and the other
-- events of their logs, and the functions that perform every write.
--
-- Before the first release this file replaced the numbered migrations
-- 001-003 of development builds (see docs/postgres.md, "Migrations"). Every
-- later change is a new numbered file that follows the migration policy in
-- docs/postgres.md: no long ACCESS EXCLUSIVE lock on a table that grows
-- with use, batched backfills, CREATE INDEX CONCURRENTLY outside a
-- transaction.
--
-- Names are unqualified: postgres.Migrate runs this file with search_path set
-- to the configured schema. A host that copies it into its own migration
-- tool does the same (SET LOCAL search_path TO chat;).
--
-- Identifiers are compared byte by byte (COLLATE "C"), as Go compares
-- strings, so that member order and the (last_activity_at, id) cursor of
-- chat lists do not depend on the database's locale.
--
-- Every event of a chat takes its seq from chats.last_seq under the chat's
-- row lock. message.created events are the rows of messages; the other
-- persisted events (message.updated, message.deleted, member.added,
-- member.removed) are rows of events. Each seq of a chat is in exactly one
-- of the two tables.
--
-- Unread counts are differences of ordinals rather than counts over a
-- range (see docs/postgres.md): each message carries its position among
-- the chat's messages (ordinal) and among its sender's messages in the chat
-- (sender_ordinal), and chats.message_count is the chat's highest ordinal.

-- Every send updates its chat's row (last_seq, message_count,
-- last_activity_at). No index covers those columns and pages keep free
-- space, so that the update can be HOT: a new row version on the same page
-- and no new index entries.
CREATE TABLE chats (
    id               text COLLATE "C" PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('direct', 'group')),
    title            text NOT NULL,
    created_by       text COLLATE "C" NOT NULL,
    created_at       timestamptz NOT NULL,
    -- The seq of the chat's latest event. Writers take the next seq by
    -- incrementing it, which also serialises the writers of one chat.
    last_seq         bigint NOT NULL DEFAULT 0,
    -- The chat's number of messages ever sent: the highest ordinal.
    message_count    bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz NOT NULL,
    -- CreateChat's key: one direct chat per pair of users, one group per
    -- creator and client_id; NULL for a group created without client_id.
    -- The key is opaque to the Store and may hold any byte, NUL included,
    -- which text cannot.
    direct_key       bytea UNIQUE
) WITH (fillfactor = 70);

-- MarkRead updates last_read_seq, which no index covers: with free space on
-- the page that update is HOT.
CREATE TABLE members (
    chat_id       text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id       text COLLATE "C" NOT NULL,
    last_read_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
) WITH (fillfactor = 70);

-- A user's chats: ChatIDs reads it alone (index-only scan); ListChats joins
-- it to chats and sorts by activity.
CREATE INDEX members_user_id_chat_id_idx ON members (user_id, chat_id);

-- A message is the payload of its chat's message.created event: seq is the
-- event's seq.
CREATE TABLE messages (
    chat_id        text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    sender         text COLLATE "C" NOT NULL,
    text           text NOT NULL,
    -- The sender's idempotency key, '' when none was given.
    client_id      text COLLATE "C" NOT NULL DEFAULT '',
    -- json, not jsonb: the client's text is kept as it was sent.
    metadata       json,
    created_at     timestamptz NOT NULL,
    edited_at      timestamptz,
    -- A deleted message stays as a tombstone: text '' and metadata NULL.
    deleted        boolean NOT NULL DEFAULT false,
    -- No defaults: every writer must set the ordinals; a default would hide
    -- one that does not.
    ordinal        bigint NOT NULL,
    sender_ordinal bigint NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

-- One message per (chat, sender, client id): retries of a send store it once.
CREATE UNIQUE INDEX messages_client_id_idx ON messages (chat_id, sender, client_id)
    WHERE client_id <> '';

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

-- append_message is the whole of a send: it stores a message as the next
-- event of its chat, numbered among the chat's messages and its sender's,
-- or finds the message that already has its client id. Being one
-- statement, a send is one round trip and keeps the chat's row locked only
-- while the function runs and the transaction commits, never across round
-- trips to the client. It runs alone (autocommit) for Store.AppendMessage
-- and inside the host's transaction for Store.AppendMessageTx.
--
-- It locks the chat's row first. Each later statement of the function takes
-- a new snapshot (READ COMMITTED), which sees every message committed to the
-- chat, and no other write can add one until this transaction ends. So the
-- membership and client id checks are exact, and they come before the seq
-- is taken, so that a duplicate never uses one up. The sender's previous
-- message is read under the same lock, so sender_ordinal has no gaps either.
--
-- r_status is 'created' (r_seq is the new message's seq), 'duplicate'
-- (r_seq and the other r_ columns describe the original in its current
-- state), 'no_chat' or 'not_member'. No outcome raises an error, so a
-- caller's transaction stays usable.
--
-- SET search_path FROM CURRENT pins the schema the migration runs in.
CREATE FUNCTION append_message(
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
        -- client_id <> '' lets the cached plan use the partial index.
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

-- edit_message edits (p_delete false) or deletes message p_seq of a chat on
-- behalf of p_user_id, as the chat's next event. Like append_message, it
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
