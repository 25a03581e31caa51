-- write_batch, second version: a run of consecutive sends in a batch is
-- written by one statement instead of one append_message call per send.
--
-- Same arguments, same result, same guarantees as 002_write_batch (read
-- its comment): the chats are locked first, in the order of their ids;
-- every item's outcome is what a call of its own function would return at
-- its place in the batch. Items other than sends, and sends in runs of
-- fewer than 16, still go through their own function: the statement below
-- is planned for each call (a generic plan, with no idea of the run's
-- length, may hash whole tables), and planning it costs about what a dozen
-- sends save, so a short run would be slower than calls one by one.
--
-- Why: a send through append_message is six statements (lock, membership,
-- client id, sender ordinal, chat update, insert) plus the call itself,
-- and into many chats each send also locks and updates its own chat row,
-- so a batch of 33 sends into 33 chats spent most of its time executing
-- statements one by one (docs/postgres.md, "Group commit"). The statement
-- below does the same reads and writes for the whole run: one probe of
-- each chat, member and sender ordinal per send, one insert of all the
-- messages and one update per chat, however many of the run's sends it
-- holds.
--
-- Why the run gets the results append_message would:
--   * no other transaction can change the run's chats, their members or
--     their messages meanwhile: the chats are locked (membership changes
--     and sends lock the chat too), and the statement's snapshot is taken
--     after the locks and after the batch's earlier items, so it reads
--     exactly what a call at the run's place would read;
--   * within a run nothing changes membership, so each send's
--     membership is what its own call would find;
--   * seqs and ordinals are the chat's counters plus the send's rank
--     among the run's created sends of that chat (of that chat and sender
--     for the sender ordinal), in item order: what calls one after the
--     other would take;
--   * a client id already stored is 'duplicate' with the stored message,
--     as in append_message; two sends of the run with the same chat,
--     sender and client id store the first and make the later ones
--     'duplicate' with the first's message (its seq, text, metadata and
--     time; not edited, not deleted), as a later call would find it;
--   * last_activity_at ends as the time of the chat's last created send
--     of the run, as after calls one by one.
-- An error (text PostgreSQL cannot store, a unique violation from a host
-- writing without the lock) fails the whole statement, and so the whole
-- batch, as before; the Store then writes its items one by one.
--
-- The run statement repeats append_message's checks and numbering: a
-- later migration that changes what append_message checks or writes must
-- change write_batch the same way (TestGroupCommitRunOfSendsMatchesCallsOneByOne
-- compares the two).
--
-- A migration that only replaces a function: no lock on any table.
-- Servers of the previous release call write_batch with the same
-- arguments and get the same results.
SET LOCAL lock_timeout = '2s';

CREATE OR REPLACE FUNCTION write_batch(
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
DECLARE
    v_count integer := coalesce(array_length(p_kind, 1), 0);
    v_first integer := 1;
    v_last  integer;
BEGIN
    PERFORM FROM chats
    WHERE id = ANY (ARRAY(
        SELECT p_chat_id[g.k] FROM generate_subscripts(p_kind, 1) g(k) WHERE p_kind[g.k] <> 'read'))
    ORDER BY id
    FOR NO KEY UPDATE;

    WHILE v_first <= v_count LOOP
        v_last := v_first;
        WHILE p_kind[v_first] = 'append' AND v_last < v_count AND p_kind[v_last + 1] = 'append' LOOP
            v_last := v_last + 1;
        END LOOP;

        IF v_last - v_first + 1 >= 16 THEN
            RETURN QUERY
            WITH item AS (
                SELECT g.k, p_chat_id[g.k] AS chat_id, p_user_id[g.k] AS sender, p_other[g.k] AS client_id,
                    p_text[g.k] AS body, p_metadata[g.k] AS meta, p_at[g.k] AS at
                FROM generate_series(v_first, v_last) g(k)
            ),
            checked AS (
                SELECT item.*, c.last_seq, c.message_count,
                    d.seq AS dup_seq, d.text AS dup_text, d.metadata AS dup_meta,
                    d.created_at AS dup_created_at, d.edited_at AS dup_edited_at, d.deleted AS dup_deleted,
                    CASE
                        WHEN c.last_seq IS NULL THEN 'no_chat'
                        WHEN NOT EXISTS (SELECT FROM members mb WHERE mb.chat_id = item.chat_id AND mb.user_id = item.sender)
                            THEN 'not_member'
                        WHEN d.seq IS NOT NULL THEN 'duplicate'
                        ELSE 'created'
                    END AS status,
                    -- The run's first send with this chat, sender and client id.
                    CASE WHEN item.client_id <> '' THEN
                        min(item.k) OVER (PARTITION BY item.chat_id, item.sender, item.client_id)
                    END AS original
                FROM item
                -- OFFSET 0 keeps each a probe of its index per send,
                -- whatever the plan's estimate of the run's length.
                LEFT JOIN LATERAL (
                    SELECT ch.last_seq, ch.message_count FROM chats ch WHERE ch.id = item.chat_id OFFSET 0
                ) c ON true
                LEFT JOIN LATERAL (
                    -- client_id <> '' lets the cached plan use the partial index.
                    SELECT m.seq, m.text, m.metadata, m.created_at, m.edited_at, m.deleted
                    FROM messages m
                    WHERE item.client_id <> '' AND m.chat_id = item.chat_id AND m.sender = item.sender
                      AND m.client_id = item.client_id AND m.client_id <> ''
                    OFFSET 0
                ) d ON true
            ),
            created AS (
                SELECT ck.k, ck.chat_id, ck.sender, ck.client_id, ck.body, ck.meta, ck.at,
                    ck.last_seq + row_number() OVER (PARTITION BY ck.chat_id ORDER BY ck.k) AS seq,
                    ck.message_count + row_number() OVER (PARTITION BY ck.chat_id ORDER BY ck.k) AS ordinal,
                    row_number() OVER (PARTITION BY ck.chat_id, ck.sender ORDER BY ck.k) AS sender_rank
                FROM checked ck
                WHERE ck.status = 'created' AND (ck.original IS NULL OR ck.original = ck.k)
            ),
            inserted AS (
                INSERT INTO messages (chat_id, seq, sender, text, client_id, metadata, created_at, ordinal, sender_ordinal)
                SELECT cr.chat_id, cr.seq, cr.sender, cr.body, cr.client_id, cr.meta, cr.at, cr.ordinal,
                    coalesce((
                        SELECT m.sender_ordinal FROM messages m
                        WHERE m.chat_id = cr.chat_id AND m.sender = cr.sender
                        ORDER BY m.seq DESC
                        LIMIT 1
                    ), 0) + cr.sender_rank
                FROM created cr
            ),
            bumped AS (
                UPDATE chats ch
                SET last_seq = ch.last_seq + a.n, message_count = ch.message_count + a.n, last_activity_at = a.at
                FROM (
                    SELECT cr.chat_id, count(*) AS n, (array_agg(cr.at ORDER BY cr.k DESC))[1] AS at
                    FROM created cr
                    GROUP BY cr.chat_id
                ) a
                WHERE ch.id = a.chat_id
            )
            SELECT ck.k,
                CASE WHEN ck.status = 'created' AND o.k IS NOT NULL THEN 'duplicate' ELSE ck.status END,
                coalesce(cr.seq, o.seq, ck.dup_seq),
                NULL::text,
                coalesce(o.body, ck.dup_text),
                NULL::text,
                coalesce(o.meta, ck.dup_meta),
                coalesce(o.at, ck.dup_created_at),
                ck.dup_edited_at,
                CASE WHEN o.k IS NOT NULL THEN false ELSE ck.dup_deleted END
            FROM checked ck
            LEFT JOIN created cr ON cr.k = ck.k
            LEFT JOIN created o ON o.k = ck.original AND ck.original <> ck.k AND ck.status = 'created'
            ORDER BY ck.k;

            v_first := v_last + 1;
            CONTINUE;
        END IF;

        r_item := v_first;
        r_status := NULL; r_seq := NULL; r_sender := NULL; r_text := NULL; r_client_id := NULL;
        r_metadata := NULL; r_created_at := NULL; r_edited_at := NULL; r_deleted := NULL;
        CASE p_kind[v_first]
        WHEN 'append' THEN
            SELECT a.r_status, a.r_seq, a.r_text, a.r_metadata, a.r_created_at, a.r_edited_at, a.r_deleted
            INTO r_status, r_seq, r_text, r_metadata, r_created_at, r_edited_at, r_deleted
            FROM append_message(p_chat_id[v_first], p_user_id[v_first], p_other[v_first], p_text[v_first],
                p_metadata[v_first], p_at[v_first]) a;
        WHEN 'edit', 'delete' THEN
            SELECT e.r_status, e.r_event_seq, e.r_sender, e.r_text, e.r_client_id, e.r_metadata,
                e.r_created_at, e.r_edited_at, e.r_deleted
            INTO r_status, r_seq, r_sender, r_text, r_client_id, r_metadata, r_created_at, r_edited_at, r_deleted
            FROM edit_message(p_chat_id[v_first], p_seq[v_first], p_user_id[v_first], p_kind[v_first] = 'delete',
                p_text[v_first], p_at[v_first]) e;
        WHEN 'read' THEN
            SELECT m.r_status, m.r_read_seq INTO r_status, r_seq
            FROM mark_read(p_chat_id[v_first], p_user_id[v_first], p_seq[v_first]) m;
        WHEN 'add' THEN
            SELECT a.r_status, a.r_seq INTO r_status, r_seq
            FROM add_member(p_chat_id[v_first], p_user_id[v_first], p_other[v_first], p_at[v_first], p_seq[v_first]) a;
        WHEN 'remove' THEN
            SELECT m.r_status, m.r_seq INTO r_status, r_seq
            FROM remove_member(p_chat_id[v_first], p_user_id[v_first], p_other[v_first], p_at[v_first]) m;
        ELSE
            r_status := 'bad_kind';
        END CASE;
        RETURN NEXT;
        v_first := v_first + 1;
    END LOOP;
END
$$;
