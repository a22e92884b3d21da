//! Decoding a 10,000-row, 8-column result (about 1 MB of JSON) into a struct, against the
//! floor: plain `serde_json::from_slice` into an equivalent positional serde struct.
//!
//! Run: `cargo bench -p kalam-benches --bench decode`. It lives in its own crate so that the
//! release build does not compile kalam-client's dev-dependencies (the emulator, DataFusion).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

mod common;

const ROWS: usize = 10_000;

/// A streamed-path response shaped like the server's (protocol 1.5), 8 columns.
fn response() -> String {
    let mut s = String::with_capacity(1_100_000);
    s.push_str(
        r#"{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"title","data_type":"Text","index":1,"flags":["nn"]},{"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},{"name":"qty","data_type":"Int","index":3},{"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},{"name":"due_at","data_type":"Timestamp","index":5},{"name":"score","data_type":"Double","index":6},{"name":"note","data_type":"Text","index":7}],"rows":["#,
    );
    for i in 0..ROWS {
        if i > 0 {
            s.push(',');
        }
        let note = if i % 3 == 0 {
            "null".to_owned()
        } else {
            format!("\"note number {i} with a bit of text\"")
        };
        write!(
            s,
            r#"["{id}","Todo item number {i}: buy milk",{done},{qty},"{p}.{c:02}",{ts},{score},{note}]"#,
            id = 384_961_449_138_425_856_u64 + i as u64,
            done = i % 2 == 0,
            qty = i % 1000,
            p = i % 500,
            c = i % 100,
            ts = 1_748_822_400_000_000_i64 + i as i64 * 1_000_000,
            score = i as f64 * 0.37,
        )
        .unwrap();
    }
    write!(
        s,
        r#"],"row_count":{ROWS},"as_user":"alice"}}],"took":2.257,"error":null}}"#
    )
    .unwrap();
    s
}

/// The typed row: the benchmarks' shared 8-column `Item`.
use common::Item as Todo;

/// The same row built the official SDK's way (kalam-client 0.5.6-rc.0): parse the response,
/// turn rows into maps, read each cell with its accessor. DECIMAL becomes a lossy f64 there.
#[allow(dead_code)]
struct OfficialTodo {
    id: i64,
    title: String,
    done: bool,
    qty: Option<i32>,
    price: Option<f64>,
    due_at: Option<i64>,
    score: Option<f64>,
    note: Option<String>,
}

fn official_decode(bytes: &[u8]) -> Vec<OfficialTodo> {
    let resp: official::QueryResponse = serde_json::from_slice(bytes).unwrap();
    resp.rows_as_maps()
        .iter()
        .map(|m| OfficialTodo {
            id: m["id"].as_big_int().unwrap(),
            title: m["title"].as_text().unwrap().to_owned(),
            done: m["done"].as_boolean().unwrap(),
            qty: m["qty"].as_int(),
            price: m["price"].as_decimal(),
            due_at: m["due_at"].as_timestamp(),
            score: m["score"].as_double(),
            note: m["note"].as_text().map(str::to_owned),
        })
        .collect()
}

/// The floor: the same row as a positional serde struct (BIGINT and DECIMAL stay strings,
/// which is what plain serde can do with them).
#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainRow(
    String,
    String,
    bool,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<f64>,
    Option<String>,
);

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainResult {
    schema: serde::de::IgnoredAny,
    rows: Vec<PlainRow>,
    row_count: u64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainEnvelope {
    status: String,
    results: Vec<PlainResult>,
    took: f64,
}

fn bench(c: &mut Criterion) {
    let body = response();
    let bytes = body.as_bytes();
    assert_eq!(
        kalam_client::__private::decode_rows::<Todo>(bytes)
            .unwrap()
            .len(),
        ROWS
    );
    assert_eq!(official_decode(bytes).len(), ROWS);
    let mut group = c.benchmark_group("decode_10k_rows_8_cols");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("serde_json_positional_floor", |b| {
        b.iter(|| {
            let env: PlainEnvelope = serde_json::from_slice(black_box(bytes)).unwrap();
            black_box(env.results[0].rows.len())
        })
    });
    group.bench_function("kalam_client_typed", |b| {
        b.iter(|| {
            let rows = kalam_client::__private::decode_rows::<Todo>(black_box(bytes)).unwrap();
            black_box(rows.len())
        })
    });
    group.bench_function("official_sdk_row_maps", |b| {
        b.iter(|| black_box(official_decode(black_box(bytes)).len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
