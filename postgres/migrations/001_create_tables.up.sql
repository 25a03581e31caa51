-- Chats, their members and their messages.
--
-- Names are unqualified: postgres.Migrate runs this file with search_path set
-- to the configured schema. A host that copies it into its own migration
-- tool does the same (SET LOCAL search_path TO chat;).
--
-- Identifiers are compared byte by byte (COLLATE "C"), as Go compares
-- strings, so that member order and the (last_activity_at, id) cursor of
-- chat lists do not depend on the database's locale.

-- Every send updates its chat's row (last_seq, last_activity_at). No index
-- covers those columns and pages keep free space, so that the update can be
-- HOT: a new row version on the same page and no new index entries.
CREATE TABLE chats (
    id               text COLLATE "C" PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('direct', 'group')),
    title            text NOT NULL,
    created_by       text COLLATE "C" NOT NULL,
    created_at       timestamptz NOT NULL,
    -- The seq of the chat's latest event. Writers take the next seq by
    -- incrementing it, which also serialises the writers of one chat.
    last_seq         bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz NOT NULL,
    -- One direct chat per pair of users; NULL for groups. The key is opaque
    -- to the Store and may hold any byte, NUL included, which text cannot.
    direct_key       bytea UNIQUE
) WITH (fillfactor = 70);

CREATE TABLE members (
    chat_id text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

-- A user's chats: ChatIDs reads it alone (index-only scan); ListChats joins
-- it to chats and sorts by activity.
CREATE INDEX members_user_id_chat_id_idx ON members (user_id, chat_id);

-- A message is the payload of its chat's message.created event: seq is the
-- event's seq. Later event types go to a table of their own keyed the same
-- way, and both draw their seqs from chats.last_seq.
CREATE TABLE messages (
    chat_id    text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    sender     text COLLATE "C" NOT NULL,
    text       text NOT NULL,
    -- The sender's idempotency key, '' when none was given.
    client_id  text COLLATE "C" NOT NULL DEFAULT '',
    -- json, not jsonb: the client's text is kept as it was sent.
    metadata   json,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

-- One message per (chat, sender, client id): retries of a send store it once.
CREATE UNIQUE INDEX messages_client_id_idx ON messages (chat_id, sender, client_id)
    WHERE client_id <> '';
