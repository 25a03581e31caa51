-- write_batch performs many writes in one statement, so that they commit
-- together: one round trip and one WAL flush for a whole batch of sends,
-- edits, deletes, read markers and member changes (group commit; see
-- docs/postgres.md, "Group commit").
--
-- Item i is (p_kind[i], p_chat_id[i], ...), with p_kind one of
--   'append'  append_message(chat, user = sender, other = client id, text, metadata, at)
--   'edit'    edit_message(chat, seq, user, false, text, at)
--   'delete'  edit_message(chat, seq, user, true, '', at)
--   'read'    mark_read(chat, user, seq)
--   'add'     add_member(chat, user = actor, other = the user added, at, seq = max members)
--   'remove'  remove_member(chat, user = actor, other = the user removed, at)
-- and each is performed by that function, exactly as a call of its own
-- would be, in the order of the arrays. The result has one row per item, in
-- the same order (r_item is i), with the function's status and the columns
-- it returns; the seq it returns (r_seq, r_event_seq or r_read_seq) is
-- r_seq. A refusal is a status, as for a single call, so one item's refusal
-- never fails the others.
--
-- The chats that the items write to are locked first, all of them, in the
-- order of their ids. Two batches (from different servers, say) therefore
-- never wait for each other in a cycle, whatever chats they share.
--
-- A migration that only creates a function: no lock on any table.
CREATE FUNCTION write_batch(
    p_kind     text[],
    p_chat_id  text[],
    p_user_id  text[],
    p_other    text[],
    p_text     text[],
    p_metadata json[],
    p_seq      bigint[],
    p_at       timestamptz[]
)
RETURNS TABLE (
    r_item       integer,
    r_status     text,
    r_seq        bigint,
    r_sender     text,
    r_text       text,
    r_client_id  text,
    r_metadata   json,
    r_created_at timestamptz,
    r_edited_at  timestamptz,
    r_deleted    boolean
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    PERFORM FROM chats
    WHERE id = ANY (ARRAY(
        SELECT p_chat_id[i] FROM generate_subscripts(p_kind, 1) i WHERE p_kind[i] <> 'read'))
    ORDER BY id
    FOR NO KEY UPDATE;

    FOR i IN 1 .. coalesce(array_length(p_kind, 1), 0) LOOP
        r_item := i;
        r_status := NULL; r_seq := NULL; r_sender := NULL; r_text := NULL; r_client_id := NULL;
        r_metadata := NULL; r_created_at := NULL; r_edited_at := NULL; r_deleted := NULL;
        CASE p_kind[i]
        WHEN 'append' THEN
            SELECT a.r_status, a.r_seq, a.r_text, a.r_metadata, a.r_created_at, a.r_edited_at, a.r_deleted
            INTO r_status, r_seq, r_text, r_metadata, r_created_at, r_edited_at, r_deleted
            FROM append_message(p_chat_id[i], p_user_id[i], p_other[i], p_text[i], p_metadata[i], p_at[i]) a;
        WHEN 'edit', 'delete' THEN
            SELECT e.r_status, e.r_event_seq, e.r_sender, e.r_text, e.r_client_id, e.r_metadata,
                e.r_created_at, e.r_edited_at, e.r_deleted
            INTO r_status, r_seq, r_sender, r_text, r_client_id, r_metadata, r_created_at, r_edited_at, r_deleted
            FROM edit_message(p_chat_id[i], p_seq[i], p_user_id[i], p_kind[i] = 'delete', p_text[i], p_at[i]) e;
        WHEN 'read' THEN
            SELECT m.r_status, m.r_read_seq INTO r_status, r_seq
            FROM mark_read(p_chat_id[i], p_user_id[i], p_seq[i]) m;
        WHEN 'add' THEN
            SELECT a.r_status, a.r_seq INTO r_status, r_seq
            FROM add_member(p_chat_id[i], p_user_id[i], p_other[i], p_at[i], p_seq[i]) a;
        WHEN 'remove' THEN
            SELECT m.r_status, m.r_seq INTO r_status, r_seq
            FROM remove_member(p_chat_id[i], p_user_id[i], p_other[i], p_at[i]) m;
        ELSE
            r_status := 'bad_kind';
        END CASE;
        RETURN NEXT;
    END LOOP;
END
$$;
