-- The `types` namespace: one table holding every KalamDB column type, nullable and not.
-- Used by round-trip tests of the type table (SQL type ↔ wire encoding ↔ Rust type).

CREATE NAMESPACE IF NOT EXISTS types;

CREATE TABLE IF NOT EXISTS types.all_types (
    id BIGINT PRIMARY KEY,
    b BOOLEAN NOT NULL,
    i16 SMALLINT NOT NULL,
    i32 INT NOT NULL,
    i64 BIGINT NOT NULL,
    f32 FLOAT NOT NULL,
    f64 DOUBLE NOT NULL,
    dec DECIMAL(10, 2) NOT NULL,
    txt TEXT NOT NULL,
    ts TIMESTAMP NOT NULL,
    dt DATETIME,
    d DATE NOT NULL,
    t TIME NOT NULL,
    u UUID NOT NULL,
    j JSON NOT NULL,
    bin BYTES NOT NULL,
    emb EMBEDDING(3) NOT NULL,
    f FILE,
    opt_text TEXT,
    opt_int INT
) WITH (TYPE = 'USER');
