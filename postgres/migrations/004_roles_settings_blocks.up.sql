-- Roles and moderation, per-member chat settings and blocks (chat.RoleStore,
-- chat.SettingsStore, chat.BlockStore).
--
-- Catalog-only changes under the policy of docs/postgres.md: nullable
-- columns or constant defaults, a CHECK added NOT VALID, new tables and
-- functions. No row is rewritten: a member whose role is NULL has the role
-- effective_role derives, owner for a group's creator and member for the
-- others, which is what every membership written before this migration
-- means. The previous release keeps working: add_member, edit_message and
-- remove_member keep their signatures and gain the new rules, which the
-- previous release therefore follows too (it does not publish the
-- ownership event of a succession; other nodes read it from the log).
SET LOCAL lock_timeout = '2s';

ALTER TABLE chats ADD COLUMN metadata json;

ALTER TABLE members ADD COLUMN role text;
ALTER TABLE members ADD CONSTRAINT members_role_check CHECK (role IN ('owner', 'admin', 'member')) NOT VALID;
ALTER TABLE members ADD COLUMN muted boolean NOT NULL DEFAULT false;
ALTER TABLE members ADD COLUMN muted_until timestamptz;
ALTER TABLE members ADD COLUMN archived boolean NOT NULL DEFAULT false;
ALTER TABLE members ADD COLUMN pinned boolean NOT NULL DEFAULT false;

-- Who deleted a message when it was not its sender: an owner or admin.
ALTER TABLE messages ADD COLUMN deleted_by text COLLATE "C";

-- The new event types. data holds what an event says beyond its user: the
-- role of member.role, the title and metadata of chat.updated (whose
-- user_id is its actor), the settings of member.settings.
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check_2 CHECK (type IN (
    'message.updated', 'message.deleted', 'member.added', 'member.removed',
    'member.role', 'member.banned', 'member.unbanned', 'chat.updated', 'member.settings')) NOT VALID;
ALTER TABLE events ADD COLUMN data json;

CREATE TABLE bans (
    chat_id   text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id   text COLLATE "C" NOT NULL,
    banned_by text COLLATE "C" NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

CREATE TABLE blocks (
    user_id text COLLATE "C" NOT NULL,
    blocked text COLLATE "C" NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, blocked)
);

-- effective_role is a member's role: the stored one, or the one a
-- membership from before roles means. Direct chats have none ('').
CREATE FUNCTION effective_role(p_kind text, p_role text, p_user_id text, p_created_by text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN p_kind <> 'group' THEN ''
        WHEN p_role IS NOT NULL THEN p_role
        WHEN p_user_id = p_created_by THEN 'owner'
        ELSE 'member' END
$$;

CREATE FUNCTION role_rank(p_role text)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE p_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END
$$;

-- member_role returns p_user_id's role in a chat whose row the caller has
-- locked, or NULL when they are not a member.
CREATE FUNCTION member_role(p_chat_id text, p_user_id text)
RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    SELECT effective_role(c.kind, m.role, m.user_id, c.created_by)
    FROM chats c JOIN members m ON m.chat_id = c.id
    WHERE c.id = p_chat_id AND m.user_id = p_user_id
$$;

-- leave_group removes p_user_id from a group whose row the caller has
-- locked, as its next event, and, when they were its last owner and
-- members remain, makes the oldest admin, or else the oldest member, owner
-- as the event after: oldest by their latest member.added, initial members
-- (who have none) first, ties by user id.
CREATE FUNCTION leave_group(
    p_chat_id  text,
    p_actor_id text,
    p_user_id  text,
    p_at       timestamptz,
    OUT r_seq      bigint,
    OUT r_heir     text,
    OUT r_heir_seq bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_was_owner boolean;
BEGIN
    v_was_owner := member_role(p_chat_id, p_user_id) = 'owner';

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;
    DELETE FROM members WHERE chat_id = p_chat_id AND user_id = p_user_id;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.removed', p_actor_id, p_user_id, p_at);

    IF NOT v_was_owner OR EXISTS (
        SELECT FROM members m JOIN chats c ON c.id = m.chat_id
        WHERE m.chat_id = p_chat_id AND effective_role(c.kind, m.role, m.user_id, c.created_by) = 'owner'
    ) THEN
        RETURN;
    END IF;

    SELECT m.user_id INTO r_heir
    FROM members m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id = p_chat_id
    ORDER BY role_rank(effective_role(c.kind, m.role, m.user_id, c.created_by)) DESC,
        coalesce((SELECT max(e.seq) FROM events e
            WHERE e.chat_id = p_chat_id AND e.type = 'member.added' AND e.user_id = m.user_id), 0),
        m.user_id
    LIMIT 1;
    IF r_heir IS NULL THEN
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_heir_seq;
    UPDATE members SET role = 'owner' WHERE chat_id = p_chat_id AND user_id = r_heir;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, data, created_at)
    VALUES (p_chat_id, r_heir_seq, 'member.role', p_actor_id, r_heir, json_build_object('role', 'owner'), p_at);
END
$$;

-- remove_member_2 is remove_member with roles: p_actor_id must be
-- p_user_id or outrank them, and the last owner leaving passes ownership
-- on (leave_group).
--
-- r_status is 'removed', 'no_chat', 'not_member' (the actor), 'direct',
-- 'no_user' or 'forbidden'.
CREATE FUNCTION remove_member_2(
    p_chat_id  text,
    p_actor_id text,
    p_user_id  text,
    p_at       timestamptz,
    OUT r_status   text,
    OUT r_seq      bigint,
    OUT r_heir     text,
    OUT r_heir_seq bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind   text;
    v_actor  text;
    v_target text;
BEGIN
    SELECT c.kind INTO v_kind FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    v_actor := member_role(p_chat_id, p_actor_id);
    IF v_actor IS NULL THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    v_target := member_role(p_chat_id, p_user_id);
    IF v_target IS NULL THEN
        r_status := 'no_user';
        RETURN;
    END IF;
    IF p_actor_id <> p_user_id AND role_rank(v_actor) <= greatest(role_rank(v_target), 1) THEN
        r_status := 'forbidden';
        RETURN;
    END IF;

    SELECT l.r_seq, l.r_heir, l.r_heir_seq INTO r_seq, r_heir, r_heir_seq
    FROM leave_group(p_chat_id, p_actor_id, p_user_id, p_at) l;
    r_status := 'removed';
END
$$;

-- remove_member, which write_batch and the previous release call, follows
-- the rules of remove_member_2.
CREATE OR REPLACE FUNCTION remove_member(
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
BEGIN
    SELECT r.r_status, r.r_seq INTO r_status, r_seq FROM remove_member_2(p_chat_id, p_actor_id, p_user_id, p_at) r;
END
$$;

-- add_member as before, but a banned user is refused ('banned') and the
-- new member of a group gets the role member.
CREATE OR REPLACE FUNCTION add_member(
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
    IF EXISTS (SELECT FROM bans WHERE chat_id = p_chat_id AND user_id = p_user_id) THEN
        r_status := 'banned';
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;

    INSERT INTO members (chat_id, user_id, last_read_seq, role) VALUES (p_chat_id, p_user_id, r_seq, 'member');
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.added', p_actor_id, p_user_id, p_at);

    r_status := 'added';
END
$$;

-- edit_message as before, but an owner or admin of a group may delete
-- another's message, which records them in deleted_by.
CREATE OR REPLACE FUNCTION edit_message(
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
DECLARE
    v_role text;
BEGIN
    PERFORM FROM chats WHERE id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;

    v_role := member_role(p_chat_id, p_user_id);
    IF v_role IS NULL THEN
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
    IF r_sender <> p_user_id AND NOT (p_delete AND role_rank(v_role) >= 2) THEN
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
        UPDATE messages SET text = '', metadata = NULL, deleted = true,
            deleted_by = CASE WHEN r_sender <> p_user_id THEN p_user_id END
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

-- set_role gives p_user_id the role p_role in a group, on behalf of
-- p_actor_id: an owner, or anyone lowering their own role.
--
-- r_status is 'changed', 'unchanged', 'no_chat', 'not_member' (the
-- actor), 'direct', 'no_user', 'forbidden' or 'last_owner'.
CREATE FUNCTION set_role(
    p_chat_id  text,
    p_actor_id text,
    p_user_id  text,
    p_role     text,
    p_at       timestamptz,
    OUT r_status text,
    OUT r_seq    bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind   text;
    v_actor  text;
    v_target text;
BEGIN
    SELECT c.kind INTO v_kind FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    v_actor := member_role(p_chat_id, p_actor_id);
    IF v_actor IS NULL THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    v_target := member_role(p_chat_id, p_user_id);
    IF v_target IS NULL THEN
        r_status := 'no_user';
        RETURN;
    END IF;
    IF v_target = p_role THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    IF v_actor <> 'owner' AND NOT (p_actor_id = p_user_id AND role_rank(p_role) < role_rank(v_target)) THEN
        r_status := 'forbidden';
        RETURN;
    END IF;
    IF v_target = 'owner' AND (
        SELECT count(*) FROM members m JOIN chats c ON c.id = m.chat_id
        WHERE m.chat_id = p_chat_id AND effective_role(c.kind, m.role, m.user_id, c.created_by) = 'owner') = 1 THEN
        r_status := 'last_owner';
        RETURN;
    END IF;

    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;
    UPDATE members SET role = p_role WHERE chat_id = p_chat_id AND user_id = p_user_id;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, data, created_at)
    VALUES (p_chat_id, r_seq, 'member.role', p_actor_id, p_user_id, json_build_object('role', p_role), p_at);
    r_status := 'changed';
END
$$;

-- ban_user bans p_user_id from a group on behalf of p_actor_id, an owner
-- or admin who outranks them if they are a member, removing them first
-- (leave_group). r_status is 'banned' (r_seq is the member.banned event;
-- r_removed_seq, r_heir and r_heir_seq are set when they were a member),
-- 'unchanged', 'no_chat', 'not_member', 'direct', 'self' or 'forbidden'.
CREATE FUNCTION ban_user(
    p_chat_id  text,
    p_actor_id text,
    p_user_id  text,
    p_at       timestamptz,
    OUT r_status      text,
    OUT r_seq         bigint,
    OUT r_removed_seq bigint,
    OUT r_heir        text,
    OUT r_heir_seq    bigint
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind   text;
    v_actor  text;
    v_target text;
BEGIN
    SELECT c.kind INTO v_kind FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    v_actor := member_role(p_chat_id, p_actor_id);
    IF v_actor IS NULL THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    IF p_actor_id = p_user_id THEN
        r_status := 'self';
        RETURN;
    END IF;
    v_target := member_role(p_chat_id, p_user_id);
    IF role_rank(v_actor) < 2 OR v_target IS NOT NULL AND role_rank(v_actor) <= role_rank(v_target) THEN
        r_status := 'forbidden';
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM bans WHERE chat_id = p_chat_id AND user_id = p_user_id) THEN
        r_status := 'unchanged';
        RETURN;
    END IF;

    IF v_target IS NOT NULL THEN
        SELECT l.r_seq, l.r_heir, l.r_heir_seq INTO r_removed_seq, r_heir, r_heir_seq
        FROM leave_group(p_chat_id, p_actor_id, p_user_id, p_at) l;
    END IF;
    INSERT INTO bans (chat_id, user_id, banned_by, at) VALUES (p_chat_id, p_user_id, p_actor_id, p_at);
    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.banned', p_actor_id, p_user_id, p_at);
    r_status := 'banned';
END
$$;

-- unban_user lifts a ban on behalf of an owner or admin. r_status is
-- 'unbanned', 'unchanged', 'no_chat', 'not_member', 'direct' or
-- 'forbidden'.
CREATE FUNCTION unban_user(
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
    v_kind  text;
    v_actor text;
BEGIN
    SELECT c.kind INTO v_kind FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    v_actor := member_role(p_chat_id, p_actor_id);
    IF v_actor IS NULL THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    IF role_rank(v_actor) < 2 THEN
        r_status := 'forbidden';
        RETURN;
    END IF;
    DELETE FROM bans WHERE chat_id = p_chat_id AND user_id = p_user_id;
    IF NOT FOUND THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, created_at)
    VALUES (p_chat_id, r_seq, 'member.unbanned', p_actor_id, p_user_id, p_at);
    r_status := 'unbanned';
END
$$;

-- update_chat sets a group's title (unless p_title is NULL) and metadata
-- (when p_set_metadata) on behalf of an owner or admin. r_status is
-- 'changed', 'unchanged', 'no_chat', 'not_member', 'direct' or
-- 'forbidden'; r_title and r_metadata are the chat's after the call.
CREATE FUNCTION update_chat(
    p_chat_id      text,
    p_actor_id     text,
    p_title        text,
    p_set_metadata boolean,
    p_metadata     json,
    p_at           timestamptz,
    OUT r_status   text,
    OUT r_seq      bigint,
    OUT r_title    text,
    OUT r_metadata json
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_kind     text;
    v_actor    text;
    v_title    text;
    v_metadata json;
BEGIN
    SELECT c.kind, c.title, c.metadata INTO v_kind, v_title, v_metadata
    FROM chats c WHERE c.id = p_chat_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        r_status := 'no_chat';
        RETURN;
    END IF;
    v_actor := member_role(p_chat_id, p_actor_id);
    IF v_actor IS NULL THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    IF v_kind = 'direct' THEN
        r_status := 'direct';
        RETURN;
    END IF;
    IF role_rank(v_actor) < 2 THEN
        r_status := 'forbidden';
        RETURN;
    END IF;
    r_title := coalesce(p_title, v_title);
    r_metadata := CASE WHEN p_set_metadata THEN p_metadata ELSE v_metadata END;
    IF r_title = v_title AND r_metadata::text IS NOT DISTINCT FROM v_metadata::text THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    UPDATE chats SET title = r_title, metadata = r_metadata, last_seq = last_seq + 1, last_activity_at = p_at
    WHERE id = p_chat_id
    RETURNING last_seq INTO r_seq;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, data, created_at)
    VALUES (p_chat_id, r_seq, 'chat.updated', p_actor_id, p_actor_id,
        json_build_object('title', r_title, 'metadata', r_metadata), p_at);
    r_status := 'changed';
END
$$;

-- set_settings changes a member's own settings (NULL arguments leave a
-- setting as it is; p_muted false clears muted_until) as the chat's next
-- event, without moving last_activity_at. r_status is 'changed',
-- 'unchanged' or 'not_member' (also when there is no chat); the other
-- r_ columns are the settings after the call.
CREATE FUNCTION set_settings(
    p_chat_id     text,
    p_user_id     text,
    p_muted       boolean,
    p_muted_until timestamptz,
    p_archived    boolean,
    p_pinned      boolean,
    p_at          timestamptz,
    OUT r_status      text,
    OUT r_seq         bigint,
    OUT r_muted       boolean,
    OUT r_muted_until timestamptz,
    OUT r_archived    boolean,
    OUT r_pinned      boolean
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_muted       boolean;
    v_muted_until timestamptz;
    v_archived    boolean;
    v_pinned      boolean;
BEGIN
    PERFORM FROM chats WHERE id = p_chat_id FOR NO KEY UPDATE;
    SELECT m.muted, m.muted_until, m.archived, m.pinned INTO v_muted, v_muted_until, v_archived, v_pinned
    FROM members m WHERE m.chat_id = p_chat_id AND m.user_id = p_user_id;
    IF NOT FOUND THEN
        r_status := 'not_member';
        RETURN;
    END IF;
    r_muted := coalesce(p_muted, v_muted);
    r_muted_until := CASE WHEN p_muted IS NULL THEN v_muted_until WHEN p_muted THEN p_muted_until END;
    r_archived := coalesce(p_archived, v_archived);
    r_pinned := coalesce(p_pinned, v_pinned);
    IF r_muted = v_muted AND r_muted_until IS NOT DISTINCT FROM v_muted_until
        AND r_archived = v_archived AND r_pinned = v_pinned THEN
        r_status := 'unchanged';
        RETURN;
    END IF;
    UPDATE chats SET last_seq = last_seq + 1 WHERE id = p_chat_id RETURNING last_seq INTO r_seq;
    UPDATE members SET muted = r_muted, muted_until = r_muted_until, archived = r_archived, pinned = r_pinned
    WHERE chat_id = p_chat_id AND user_id = p_user_id;
    INSERT INTO events (chat_id, seq, type, actor_id, user_id, data, created_at)
    VALUES (p_chat_id, r_seq, 'member.settings', p_user_id, p_user_id,
        json_build_object('muted', r_muted, 'muted_until', r_muted_until, 'archived', r_archived, 'pinned', r_pinned), p_at);
    r_status := 'changed';
END
$$;
