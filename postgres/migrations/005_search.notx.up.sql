-- Message search (chat.MessageSearcher): a GIN index on the words of each
-- message's text, as the 'simple' text search configuration splits them,
-- which is Config.SearchConfig's default. It is an expression index rather
-- than a stored tsvector column: it keeps itself current on every send,
-- edit and delete without a change to the functions that write (a delete
-- empties the text, so its message leaves the index), adding it rewrites
-- no row, and it is built CONCURRENTLY, so sends and reads go on while it
-- builds. A host that sets another SearchConfig builds the index for it
-- (see docs/postgres.md, "Search").
DROP INDEX CONCURRENTLY IF EXISTS messages_search_idx;
CREATE INDEX CONCURRENTLY messages_search_idx ON messages USING gin (to_tsvector('simple'::regconfig, text));
