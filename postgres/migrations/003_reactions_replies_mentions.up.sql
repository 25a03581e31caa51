-- Reactions, replies (threads) and mentions.
--
-- By the migration policy (docs/postgres.md): the only change to a table
-- that grows is adding two nullable columns to messages, which touches the
-- catalog alone; the rest creates new tables, empty, and new functions.
-- Nothing that the previous release runs changes: append_message,
-- edit_message and write_batch stay as they are, and its inserts into
-- messages leave the new columns NULL, which means "no reply, no mentions".
SET LOCAL lock_timeout = '2s';

-- The thread index: the replies of a parent, by seq. A reply's reply_to
-- column says the same; this table is what ListReplies walks, so that
-- messages needs no new index (which would have to be built CONCURRENTLY).
CREATE TABLE replies (
    chat_id    text COLLATE "C" NOT NULL,
    parent_seq bigint NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (chat_id, parent_seq, seq),
    FOREIGN KEY (chat_id, seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
);

-- The thread counters of each message that has replies, kept as replies
-- come so that reading them is one primary key lookup. Every reply updates
-- its parent's row; no index covers the counters, so with free space on
-- the page the update is HOT.
CREATE TABLE threads (
    chat_id        text COLLATE "C" NOT NULL,
    parent_seq     bigint NOT NULL,
    reply_count    bigint NOT NULL,
    last_reply_seq bigint NOT NULL,
    last_reply_at  timestamptz NOT NULL,
    PRIMARY KEY (chat_id, parent_seq),
    FOREIGN KEY (chat_id, parent_seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
) WITH (fillfactor = 70);

-- One row per mention of another user (a self-mention never counts as
-- unread, so it has none). ordinal numbers the mentions of user_id in the
-- chat from 1, so that unread mentions are a difference of ordinals, as
-- unread counts are: the user's last mention's ordinal less that of their
-- last one at or below the read marker, two descents of the primary key.
CREATE TABLE mentions (
    chat_id text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL,
    ordinal bigint NOT NULL,
    PRIMARY KEY (chat_id, user_id, seq) INCLUDE (ordinal),
    FOREIGN KEY (chat_id, seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
);

-- Who reacted with what: one row per user, message and emoji.
CREATE TABLE reactions (
    chat_id     text COLLATE "C" NOT NULL,
    message_seq bigint NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    emoji       text COLLATE "C" NOT NULL,
    PRIMARY KEY (chat_id, message_seq, user_id, emoji),
    FOREIGN KEY (chat_id, message_seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
);

-- The count of each emoji on a message, kept as reactions come and go, so
-- that a message with thousands of reactions is read as a few rows.
-- first_seq is the seq of the event that added the emoji when it had none,
-- which orders the emojis of a message. A count that drops to 0 is deleted.
CREATE TABLE reaction_counts (
    chat_id     text COLLATE "C" NOT NULL,
    message_seq bigint NOT NULL,
    emoji       text COLLATE "C" NOT NULL,
    count       bigint NOT NULL CHECK (count > 0),
    first_seq   bigint NOT NULL,
    PRIMARY KEY (chat_id, message_seq, emoji),
    FOREIGN KEY (chat_id, message_seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
) WITH (fillfactor = 70);

-- reaction.added and reaction.removed events: a third part of each chat's
-- log, next to messages and events; each seq of a chat is in exactly one of
-- the three. count is the emoji's count on the message right after the
-- event.
CREATE TABLE reaction_events (
    chat_id     text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    type        text NOT NULL CHECK (type IN ('reaction.added', 'reaction.removed')),
    user_id     text COLLATE "C" NOT NULL,
    message_seq bigint NOT NULL,
    emoji       text COLLATE "C" NOT NULL,
    count       bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

-- send_message is append_message for a message that replies to another or
-- mentions users: the same checks, numbering and results, and besides:
--
--   'no_parent'   p_reply_to is no message of the chat
--   'deleted_parent' p_reply_to is deleted
--   'bad_mention' a user of p_mentions is not a member of the chat
--
-- each checked under the chat's row lock, after the client id (a retry
-- finds its original whatever happened since) and before a seq is taken.
-- A reply is added to its parent's thread; a mention of another user gets
-- its ordinal. r_reply_to and r_mentions are the message's (the
-- original's for a duplicate).
--
-- It repeats append_message's numbering rather than calling it: calling it
-- and then setting reply_to and mentions would update the row just
-- inserted, a second version of every such message and new entries in
-- every index of messages. append_message itself stays as it is, since
-- the previous release and write_batch call it.
CREATE FUNCTION send_message(
    p_chat_id    text,
    p_sender     text,
    p_client_id  text,
    p_text       text,
    p_metadata   json,
    p_created_at timestamptz,
    p_reply_to   bigint,
    p_mentions   text[],
    OUT r_status     text,
    OUT r_seq        bigint,
    OUT r_text       text,
    OUT r_metadata   json,
    OUT r_created_at timestamptz,
    OUT r_edited_at  timestamptz,
    OUT r_deleted    boolean,
    OUT r_reply_to   bigint,
    OUT r_mentions   text[]
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_parent_deleted boolean;
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
        SELECT m.seq, m.text, m.metadata, m.created_at, m.edited_at, m.deleted, m.reply_to, m.mentions
        INTO r_seq, r_text, r_metadata, r_created_at, r_edited_at, r_deleted, r_reply_to, r_mentions
        FROM messages m
        WHERE m.chat_id = p_chat_id AND m.sender = p_sender
          AND m.client_id = p_client_id AND m.client_id <> '';
        IF FOUND THEN
            r_status := 'duplicate';
            RETURN;
        END IF;
    END IF;

    IF p_reply_to IS NOT NULL THEN
        SELECT m.deleted INTO v_parent_deleted FROM messages m
        WHERE m.chat_id = p_chat_id AND m.seq = p_reply_to;
        IF NOT FOUND THEN
            r_status := 'no_parent';
            RETURN;
        END IF;
        IF v_parent_deleted THEN
            r_status := 'deleted_parent';
            RETURN;
        END IF;
    END IF;

    IF EXISTS (SELECT FROM unnest(p_mentions) u(id)
            WHERE NOT EXISTS (SELECT FROM members WHERE chat_id = p_chat_id AND user_id = u.id)) THEN
        r_status := 'bad_mention';
        RETURN;
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

    INSERT INTO messages (chat_id, seq, sender, text, client_id, metadata, created_at, ordinal, sender_ordinal,
        reply_to, mentions)
    VALUES (p_chat_id, r_seq, p_sender, p_text, p_client_id, p_metadata, p_created_at,
        v_ordinal, coalesce(v_sender_ordinal, 0) + 1, p_reply_to, p_mentions);

    IF p_reply_to IS NOT NULL THEN
        INSERT INTO replies (chat_id, parent_seq, seq) VALUES (p_chat_id, p_reply_to, r_seq);
        INSERT INTO threads (chat_id, parent_seq, reply_count, last_reply_seq, last_reply_at)
        VALUES (p_chat_id, p_reply_to, 1, r_seq, p_created_at)
        ON CONFLICT (chat_id, parent_seq) DO UPDATE
        SET reply_count = threads.reply_count + 1,
            last_reply_seq = excluded.last_reply_seq,
            last_reply_at = excluded.last_reply_at;
    END IF;

    INSERT INTO mentions (chat_id, user_id, seq, ordinal)
    SELECT p_chat_id, u.id, r_seq, coalesce((
        SELECT mn.ordinal FROM mentions mn
        WHERE mn.chat_id = p_chat_id AND mn.user_id = u.id
        ORDER BY mn.seq DESC LIMIT 1), 0) + 1
    FROM unnest(p_mentions) u(id)
    WHERE u.id <> p_sender;

    r_text := p_text;
    r_metadata := p_metadata;
    r_created_at := p_created_at;
    r_deleted := false;
    r_reply_to := p_reply_to;
    r_mentions := p_mentions;
    r_status := 'created';
END
$$;

-- react adds (p_remove false) or removes p_user_id's reaction p_emoji to
-- message p_seq as the chat's next event. Like the other writes, it locks
-- the chat's row before any check, and no outcome raises an error.
--
-- r_status is 'changed' (r_seq is the event's seq), 'unchanged' (the
-- reaction was already there, or already gone), 'no_chat', 'not_member',
-- 'no_message', 'deleted' or 'full' (a new emoji on a message that has
-- p_max_emojis). r_count is the emoji's count on the message after the
-- call.
CREATE FUNCTION react(
    p_chat_id    text,
    p_seq        bigint,
    p_user_id    text,
    p_emoji      text,
    p_remove     boolean,
    p_at         timestamptz,
    p_max_emojis bigint,
    OUT r_status text,
    OUT r_seq    bigint,
    OUT r_count  bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_deleted boolean;
    v_has     boolean;
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
    SELECT m.deleted INTO v_deleted FROM messages m WHERE m.chat_id = p_chat_id AND m.seq = p_seq;
    IF NOT FOUND THEN
        r_status := 'no_message';
        RETURN;
    END IF;
    IF v_deleted THEN
        r_status := 'deleted';
        RETURN;
    END IF;

    v_has := EXISTS (SELECT FROM reactions
        WHERE chat_id = p_chat_id AND message_seq = p_seq AND user_id = p_user_id AND emoji = p_emoji);
    SELECT rc.count INTO r_count FROM reaction_counts rc
    WHERE rc.chat_id = p_chat_id AND rc.message_seq = p_seq AND rc.emoji = p_emoji;
    r_count := coalesce(r_count, 0);
    IF v_has <> p_remove THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    IF NOT p_remove AND r_count = 0 AND (SELECT count(*) FROM reaction_counts
            WHERE chat_id = p_chat_id AND message_seq = p_seq) >= p_max_emojis THEN
        r_status := 'full';
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;

    IF p_remove THEN
        DELETE FROM reactions
        WHERE chat_id = p_chat_id AND message_seq = p_seq AND user_id = p_user_id AND emoji = p_emoji;
        r_count := r_count - 1;
        IF r_count = 0 THEN
            DELETE FROM reaction_counts WHERE chat_id = p_chat_id AND message_seq = p_seq AND emoji = p_emoji;
        ELSE
            UPDATE reaction_counts SET count = r_count
            WHERE chat_id = p_chat_id AND message_seq = p_seq AND emoji = p_emoji;
        END IF;
    ELSE
        INSERT INTO reactions (chat_id, message_seq, user_id, emoji) VALUES (p_chat_id, p_seq, p_user_id, p_emoji);
        r_count := r_count + 1;
        INSERT INTO reaction_counts (chat_id, message_seq, emoji, count, first_seq)
        VALUES (p_chat_id, p_seq, p_emoji, 1, r_seq)
        ON CONFLICT (chat_id, message_seq, emoji) DO UPDATE SET count = r_count;
    END IF;

    INSERT INTO reaction_events (chat_id, seq, type, user_id, message_seq, emoji, count, created_at)
    VALUES (p_chat_id, r_seq, CASE WHEN p_remove THEN 'reaction.removed' ELSE 'reaction.added' END,
        p_user_id, p_seq, p_emoji, r_count, p_at);

    r_status := 'changed';
END
$$;

-- reply_to is the seq of the message replied to; mentions are the user ids
-- mentioned, sorted, the sender's own included if they named themself.
-- Last, because its ACCESS EXCLUSIVE lock on messages, which stops every
-- read of the table, is held until the migration commits.
ALTER TABLE messages ADD COLUMN reply_to bigint, ADD COLUMN mentions text[];
