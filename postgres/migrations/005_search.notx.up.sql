-- Message search (chat.MessageSearcher) needs two indexes on messages.
--
-- messages_search_idx: a GIN index on the words of each message's text,
-- as the 'simple' text search configuration splits them, which is
-- Config.SearchConfig's default. It finds the messages that have a rare
-- word. It is an expression index rather than a stored tsvector column: it
-- keeps itself current on every send, edit and delete without a change to
-- the functions that write (a delete empties the text, so its message
-- leaves the index), and adding it rewrites no row. A host that sets
-- another SearchConfig builds the index for it (see docs/postgres.md,
-- "Search").
--
-- messages_created_at_idx: the order of search results, newest first. For
-- a common word, walking it backwards and keeping the messages that match
-- reaches a page of hits long before collecting every match from the GIN
-- index would; the planner picks whichever is cheaper from the word's
-- frequency.
--
-- Both are built CONCURRENTLY, so sends and reads go on while they build.
DROP INDEX CONCURRENTLY IF EXISTS messages_search_idx;
CREATE INDEX CONCURRENTLY messages_search_idx ON messages USING gin (to_tsvector('simple'::regconfig, text));
DROP INDEX CONCURRENTLY IF EXISTS messages_created_at_idx;
CREATE INDEX CONCURRENTLY messages_created_at_idx ON messages (created_at, chat_id, seq);
