-- Schema of the trybuild cases: USER, SHARED and STREAM tables that join on ids.
CREATE NAMESPACE IF NOT EXISTS app;

CREATE TABLE app.todos (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT false,
    due_at TIMESTAMP,
    owner TEXT,
    priority SMALLINT NOT NULL DEFAULT 0,
    meta JSON
) WITH (TYPE = 'USER');

CREATE TABLE app.comments (
    id BIGINT PRIMARY KEY,
    todo_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
) WITH (TYPE = 'USER');

CREATE TABLE app.board (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    pinned BOOLEAN
) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PUBLIC');

CREATE TABLE app.events (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    at TIMESTAMP NOT NULL DEFAULT NOW()
) WITH (TYPE = 'STREAM', TTL_SECONDS = 60);
