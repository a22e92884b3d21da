-- Used by query_file! in tests/macros.rs: the messages of one room, oldest first.
SELECT id, role, body FROM support.messages WHERE room = $1 ORDER BY id
