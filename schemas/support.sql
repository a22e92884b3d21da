-- The `support` namespace: the upstream KalamDB quick start, made typed.
-- Used by the examples, the README and the tests. Statements are applied in order.

CREATE NAMESPACE IF NOT EXISTS support;

-- Every signed-in user sees only their own messages (USER table).
CREATE TABLE IF NOT EXISTS support.messages (
    id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
    room TEXT NOT NULL DEFAULT 'main',
    role TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
) WITH (TYPE = 'USER');

-- Rooms are global and readable by everyone (SHARED table, PUBLIC access level).
CREATE TABLE IF NOT EXISTS support.rooms (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT false,
    created_by TEXT DEFAULT CURRENT_USER(),
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PUBLIC');

-- Ephemeral typing indicators that expire after 30 seconds (STREAM table).
CREATE TABLE IF NOT EXISTS support.typing_events (
    id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
    room TEXT NOT NULL,
    typing BOOLEAN NOT NULL,
    at TIMESTAMP NOT NULL DEFAULT NOW()
) WITH (TYPE = 'STREAM', TTL_SECONDS = 30);

-- New messages are published to a topic for background workers.
CREATE TOPIC support.message_events PARTITIONS 2;
ALTER TOPIC support.message_events ADD SOURCE support.messages ON INSERT WITH (payload = 'full');
