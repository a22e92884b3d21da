//! The in-process legs: decoding SQL responses, applying live changes, exact against
//! server-filtered live views, and the memory of a live set. No server: what is measured is
//! the client's own work on the bytes a server sends.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use kalam_client::live::{LiveRowsConfig, LiveRowsMaterializer};
use serde::Deserialize;
use stats_alloc::Region;

use crate::common::{
    Item, OfficialItem, ack_frame, apply_all, change_frames, initial_frame, official_event,
    query_response, task_frames,
};
use crate::{GLOBAL, leg, record};

/// The sizes of the scaling curves (rows in a result, rows in a live set).
pub const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// Change frames applied to our live set per iteration, at every set size.
const CHANGES: usize = 20_000;

/// Change frames applied to the official SDK's live set per iteration: it copies the whole set
/// on every event, so a few changes at a time are enough to measure the cost of one.
fn official_changes(rows: usize) -> usize {
    if rows <= 1_000 {
        100
    } else if rows <= 10_000 {
        10
    } else {
        2
    }
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

/// The official SDK's way to rows: parse the response, row maps, one accessor per cell.
pub fn official_decode(bytes: &[u8]) -> Vec<OfficialItem> {
    let resp: official::QueryResponse = serde_json::from_slice(bytes).unwrap();
    resp.rows_as_maps()
        .iter()
        .map(OfficialItem::from_map)
        .collect()
}

/// Decoding a result of 1k / 10k / 100k rows of 8 columns into a struct: ours (`KalamRow`),
/// the official SDK's, and plain `serde_json` into a positional struct (the floor).
pub fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for n in SIZES {
        let body = query_response(n);
        let bytes = body.as_bytes();
        assert_eq!(
            kalam_client::__private::decode_rows::<Item>(bytes)
                .unwrap()
                .len(),
            n
        );
        assert_eq!(official_decode(bytes).len(), n);
        group.throughput(Throughput::Elements(n as u64));
        let rows = n as f64;
        leg(
            &mut group,
            BenchmarkId::new("serde_json floor", n),
            &format!("decode/floor/{n}"),
            rows,
            || (),
            |()| {
                let env: PlainEnvelope = serde_json::from_slice(bytes).unwrap();
                env.results.into_iter().next().unwrap().rows
            },
        );
        leg(
            &mut group,
            BenchmarkId::new("ours", n),
            &format!("decode/ours/{n}"),
            rows,
            || (),
            |()| kalam_client::__private::decode_rows::<Item>(bytes).unwrap(),
        );
        leg(
            &mut group,
            BenchmarkId::new("official", n),
            &format!("decode/official/{n}"),
            rows,
            || (),
            |()| official_decode(bytes),
        );
    }
    group.finish();
}

/// Our materializer holding `initial`'s rows.
fn ours_loaded(initial: &str, rows: usize) -> LiveRowsMaterializer<Item> {
    let mut m = LiveRowsMaterializer::<Item>::new(LiveRowsConfig::new());
    m.apply_frame(&ack_frame()).unwrap().for_each(drop);
    m.apply_frame(initial).unwrap().for_each(drop);
    assert_eq!(m.len(), rows);
    m
}

/// Applying change frames (60 % updates, 20 % inserts, 20 % deletes, so the set keeps its
/// size) to live sets of 1k / 10k / 100k rows of an 8-column struct: frame text → typed row →
/// keyed set → change event, per change. The official SDK's materializer (row maps) gets the
/// same first frames.
pub fn live_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("live_apply");
    for n in SIZES {
        let initial = initial_frame(n as i64);
        let frames = change_frames(n as i64, CHANGES);
        leg(
            &mut group,
            BenchmarkId::new("ours", n),
            &format!("apply/ours/{n}"),
            CHANGES as f64,
            || ours_loaded(&initial, n),
            |mut m| {
                apply_all(&mut m, frames.iter().map(String::as_str));
                m
            },
        );
        let official_initial = official_event(&initial).unwrap();
        let k = official_changes(n);
        leg(
            &mut group,
            BenchmarkId::new("official", n),
            &format!("apply/official/{n}"),
            k as f64,
            || {
                let mut m =
                    official::LiveRowsMaterializer::new(official::LiveRowsConfig::default());
                drop(m.apply(official_initial.clone()));
                m
            },
            |mut m| {
                for frame in &frames[..k] {
                    black_box(m.apply(official_event(frame).unwrap()));
                }
                m
            },
        );
    }
    group.finish();
}

/// A materializer holding the open tasks; `check`: it evaluates the WHERE on every row (exact
/// mode, and the re-check of server-filtered mode), else it applies frames as they come (the
/// server-filtered mode of earlier versions, and of the official SDK).
fn tasks_loaded(initial: &str, check: bool, rows: usize) -> LiveRowsMaterializer<Item> {
    let mut m = LiveRowsMaterializer::<Item>::new(LiveRowsConfig::new());
    if check {
        m = m.with_filter("done = false").unwrap();
    }
    m.apply_frame(&ack_frame()).unwrap().for_each(drop);
    m.apply_frame(initial).unwrap().for_each(drop);
    assert_eq!(m.len(), rows / 2);
    m
}

/// Exact against server-filtered live views: `SELECT … WHERE done = false` over a
/// 10,000-row table (half the tasks open) and 100,000 changes (60 % updates that mark tasks
/// done or open at random, 20 % inserts, 20 % deletes), each mode fed the frames it receives:
/// exact mode every change (the client evaluates the WHERE and drops tasks marked done),
/// server-filtered mode only the changes whose new row is open (what the server's live filter
/// sends), with and without the client's re-check of each row.
pub fn live_filter(c: &mut Criterion) {
    const ROWS: usize = 10_000;
    const FILTER_CHANGES: usize = 100_000;
    let (initial, frames) = task_frames(ROWS as i64, FILTER_CHANGES);
    let all: Vec<&str> = frames.iter().map(|(f, _)| f.as_str()).collect();
    let delivered: Vec<&str> = frames
        .iter()
        .filter(|(_, open)| *open)
        .map(|(f, _)| f.as_str())
        .collect();
    // Exact mode ends with open tasks only; server-filtered mode keeps tasks marked done
    // after they were loaded (stale).
    let run = |frames: &[&str]| {
        let mut m = tasks_loaded(&initial, true, ROWS);
        apply_all(&mut m, frames.iter().copied());
        m
    };
    let (exact, server) = (run(&all), run(&delivered));
    assert!(exact.rows().all(|i| !i.done));
    assert!(exact.len() < server.len());
    record("filter/frames/exact", all.len() as f64);
    record("filter/frames/server", delivered.len() as f64);
    record("filter/stale", (server.len() - exact.len()) as f64);

    let mut group = c.benchmark_group("live_filter");
    for (name, key, frames, check) in [
        ("exact", "filter/exact", &all, true),
        ("server-filtered", "filter/server", &delivered, true),
        (
            "server-filtered without re-check",
            "filter/unchecked",
            &delivered,
            false,
        ),
    ] {
        leg(
            &mut group,
            BenchmarkId::from_parameter(name),
            key,
            1.0,
            || tasks_loaded(&initial, check, ROWS),
            |mut m| {
                apply_all(&mut m, frames.iter().copied());
                m
            },
        );
    }
    group.finish();
}

/// Live bytes `build`'s result holds (allocated minus freed while building it).
fn retained<R>(build: impl FnOnce() -> R) -> (R, f64) {
    let region = Region::new(GLOBAL);
    let value = build();
    let change = region.change();
    let live = change.bytes_allocated as f64 - change.bytes_deallocated as f64
        + change.bytes_reallocated as f64;
    (value, live)
}

/// Bytes per row of a live set of 1k / 10k / 100k rows, ours (typed rows behind `Arc`, a key
/// map and an ordered index) against the official SDK's (a `Vec` of row maps), counted by the
/// global allocator: live bytes after loading the set minus before, the frame text excluded.
pub fn memory() {
    for n in SIZES {
        let initial = initial_frame(n as i64);
        let (ours, ours_bytes) = retained(|| ours_loaded(&initial, n));
        let (official, official_bytes) = retained(|| {
            let event = official_event(&initial).unwrap();
            let mut m = official::LiveRowsMaterializer::new(official::LiveRowsConfig::default());
            // The snapshot copy it returns is dropped at once; only the kept rows count.
            drop(m.apply(event));
            m
        });
        assert_eq!(official.rows().len(), n);
        drop((ours, official));
        record(&format!("memory/ours/{n}"), ours_bytes / n as f64);
        record(&format!("memory/official/{n}"), official_bytes / n as f64);
    }
}
