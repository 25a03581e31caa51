-- Attachments: files uploaded to a chat and sent with a message (see
-- chat.AttachmentStore). Their bytes are in a chat.BlobStore; these are
-- their records.
--
-- Per the migration policy (docs/postgres.md): the only change to a table
-- that grows with use is a catalog-only ADD COLUMN without a default, under
-- a short lock_timeout. The new table gets no foreign key to chats, whose
-- SHARE ROW EXCLUSIVE lock would hold off every send until this commits;
-- the Store checks the chat and membership when it records an attachment,
-- and chats are never deleted.
SET LOCAL lock_timeout = '2s';

-- The records of a message's attachments as they were when it was sent,
-- a JSON array of attachment objects; NULL for a message without any. A
-- tombstone keeps the column, and the Store shows no attachments for it.
ALTER TABLE messages ADD COLUMN attachments json;

CREATE TABLE attachments (
    id           text COLLATE "C" PRIMARY KEY,
    chat_id      text COLLATE "C" NOT NULL,
    uploader     text COLLATE "C" NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    name         text NOT NULL,
    width        integer NOT NULL DEFAULT 0,
    height       integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    -- The seq of the message that references it; NULL until one does.
    message_seq  bigint
);

-- A message's attachments, for DeleteMessageAttachments.
CREATE INDEX attachments_message_idx ON attachments (chat_id, message_seq) WHERE message_seq IS NOT NULL;

-- The sweep reads the oldest unsent uploads only: sent ones are not in
-- this index, so its cost follows the uploads waiting to be sent.
CREATE INDEX attachments_unsent_idx ON attachments (created_at, id) WHERE message_seq IS NULL;
