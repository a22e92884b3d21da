//! Benchmarks: loading a generated 1,000-table schema directory, and checking queries.
//!
//! Run with `cargo bench -p kalam-schema --bench schema -- --warm-up-time 1 --measurement-time 3`.
//! Targets: load under 50 ms, one query check under 100 µs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};

const TABLES: usize = 1000;
const FILES: usize = 10;

/// Writes `FILES` schema files with `TABLES` tables in total into a fresh temp directory.
fn generate() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kalam-schema-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in 0..FILES {
        let mut sql = format!("CREATE NAMESPACE ns{f};\n");
        for t in 0..TABLES / FILES {
            sql.push_str(&format!(
                "CREATE USER TABLE ns{f}.t{t} (\n  id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),\n  title TEXT NOT NULL,\n  body TEXT,\n  qty INT NOT NULL DEFAULT 0,\n  price DECIMAL(10, 2),\n  done BOOLEAN NOT NULL DEFAULT false,\n  created_at TIMESTAMP NOT NULL DEFAULT NOW(),\n  owner TEXT DEFAULT CURRENT_USER()\n) WITH (TYPE = 'USER');\n"
            ));
        }
        std::fs::write(dir.join(format!("{f:02}.sql")), sql).unwrap();
    }
    dir
}

fn queries() -> Vec<String> {
    (0..1000)
        .map(|i| {
            let (f, t) = (i % FILES, i % (TABLES / FILES));
            match i % 4 {
                0 => format!("SELECT id, title, done FROM ns{f}.t{t} WHERE done = $1 ORDER BY id LIMIT 50"),
                1 => format!("SELECT title, COUNT(*) AS n, SUM(qty) AS q FROM ns{f}.t{t} GROUP BY title HAVING SUM(qty) > $1"),
                2 => format!("INSERT INTO ns{f}.t{t} (title, body, qty, price) VALUES ($1, $2, $3, $4)"),
                _ => format!("SELECT a.id, b.title FROM ns{f}.t{t} a LEFT JOIN ns{f}.t{} b ON a.qty = b.qty WHERE a.price > $1 AND b.title LIKE $2", (t + 1) % (TABLES / FILES)),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = generate();
    let loaded = kalam_schema::load_dir(&dir).unwrap();
    assert_eq!(loaded.catalog.tables().count(), TABLES + 3);
    c.bench_function("load_dir 1000 tables", |b| {
        b.iter(|| black_box(kalam_schema::load_dir(black_box(&dir)).unwrap()))
    });
    let qs = queries();
    for q in &qs {
        kalam_schema::describe(&loaded.catalog, q, None).unwrap();
    }
    c.bench_function("describe 1000 queries", |b| {
        b.iter(|| {
            for q in &qs {
                black_box(kalam_schema::describe(&loaded.catalog, black_box(q), None).unwrap());
            }
        })
    });
    c.bench_function("describe simple select", |b| {
        b.iter(|| {
            black_box(
                kalam_schema::describe(
                    &loaded.catalog,
                    black_box("SELECT id, title FROM ns0.t0 WHERE id = $1"),
                    None,
                )
                .unwrap(),
            )
        })
    });
    // Reference point: sqlparser alone on the same text (the floor for `describe`).
    c.bench_function("sqlparser parse simple select", |b| {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        b.iter(|| {
            black_box(
                sqlparser::parser::Parser::parse_sql(
                    &dialect,
                    black_box("SELECT id, title FROM ns0.t0 WHERE id = $1"),
                )
                .unwrap(),
            )
        })
    });
    c.bench_function("live_query", |b| {
        b.iter(|| {
            black_box(
                kalam_schema::live_query(black_box(
                    "SELECT id, title FROM ns0.t0 WHERE done = false AND qty > 3",
                ))
                .unwrap(),
            )
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
