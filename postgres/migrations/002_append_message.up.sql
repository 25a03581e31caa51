-- append_message is the whole of a send: it stores a message as the next
-- event of its chat, or finds the message that already has its client id.
-- Being one statement, a send is one round trip and keeps the chat's row
-- locked only while the function runs and the transaction commits, never
-- across round trips to the client. It runs alone (autocommit) for
-- Store.AppendMessage and inside the host's transaction for
-- Store.AppendMessageTx.
--
-- It locks the chat's row first. Each later statement of the function takes
-- a new snapshot (READ COMMITTED), which sees every message committed to the
-- chat, and no other send can add one until this transaction ends. So the
-- membership and client id checks are exact, and they come before the seq
-- is taken, so that a duplicate never uses one up.
--
-- r_status is 'created' (r_seq is the new message's seq), 'duplicate'
-- (r_seq and the other r_ columns describe the original), 'no_chat' or
-- 'not_member'. No outcome raises an error, so a caller's transaction stays
-- usable.
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
    OUT r_created_at timestamptz
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    -- The lock an update of last_seq takes anyway. Unlike FOR UPDATE it does
    -- not block inserts of rows that refer to the chat.
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
        SELECT m.seq, m.text, m.metadata, m.created_at
        INTO r_seq, r_text, r_metadata, r_created_at
        FROM messages m
        WHERE m.chat_id = p_chat_id AND m.sender = p_sender
          AND m.client_id = p_client_id AND m.client_id <> '';
        IF FOUND THEN
            r_status := 'duplicate';
            RETURN;
        END IF;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_created_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;

    INSERT INTO messages (chat_id, seq, sender, text, client_id, metadata, created_at)
    VALUES (p_chat_id, r_seq, p_sender, p_text, p_client_id, p_metadata, p_created_at);

    r_status := 'created';
END
$$;
