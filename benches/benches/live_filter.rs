//! The cost of exact live views: a 10,000-row USER table (half the tasks open) and 100,000
//! changes (60 % updates that mark tasks done or open at random, 20 % inserts, 20 % deletes),
//! materialized as `SELECT … WHERE done = false` into an 8-column struct, in the two filter
//! modes of kalam-client, fed the frames each mode receives:
//!
//! - exact (the default): the server sends every change of the table; the client evaluates
//!   the WHERE on each and keeps only open tasks (a task marked done leaves the set);
//! - server-filtered: the server's live filter sends only the changes whose new row is open
//!   (about half), and the client applies them (re-checking each with the same evaluator).
//!
//! Both start from the same initial set (the open tasks). The frames are driven through
//! `LiveRowsMaterializer`, the bookkeeping `live()` runs, without a server: the server's own
//! work (executing the writes, filtering, encoding) is not the client's cost and would drown
//! it (an UPDATE through the emulator costs far more than applying its frame).
//!
//! Run: `cargo bench -p kalam-benches --bench live_filter -- --warm-up-time 1 --measurement-time 5`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Item, ack_frame, apply_all, task_frames};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kalam_client::live::{LiveRowsConfig, LiveRowsMaterializer};

const ROWS: i64 = 10_000;
const CHANGES: usize = 100_000;

fn loaded(initial: &str) -> LiveRowsMaterializer<Item> {
    let mut m = LiveRowsMaterializer::<Item>::new(LiveRowsConfig::new())
        .with_filter("done = false")
        .unwrap();
    m.apply_frame(&ack_frame()).unwrap().for_each(drop);
    m.apply_frame(initial).unwrap().for_each(drop);
    assert_eq!(m.len(), ROWS as usize / 2);
    m
}

fn bench(c: &mut Criterion) {
    let (initial, frames) = task_frames(ROWS, CHANGES);
    let all: Vec<&str> = frames.iter().map(|(f, _)| f.as_str()).collect();
    let delivered: Vec<&str> = frames
        .iter()
        .filter(|(_, open)| *open)
        .map(|(f, _)| f.as_str())
        .collect();
    // Both modes end with the same open tasks, except the tasks the server-filtered mode
    // keeps stale (marked done after being loaded).
    let run = |frames: &[&str]| {
        let mut m = loaded(&initial);
        apply_all(&mut m, frames.iter().copied());
        m
    };
    let exact = run(&all);
    let server = run(&delivered);
    assert!(exact.len() < server.len());
    assert!(exact.rows().all(|i| !i.done));
    println!(
        "frames: exact mode {}, server-filtered {}; open tasks at the end: exact {}, server-filtered {} (stale included)",
        all.len(),
        delivered.len(),
        exact.len(),
        server.len()
    );

    let mut group = c.benchmark_group("live_filter");
    group.sample_size(10);
    for (name, frames) in [
        (
            "exact: 100,000 changes, WHERE done = false on the client",
            &all,
        ),
        ("server-filtered: the changes the server sends", &delivered),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || loaded(&initial),
                |mut m| {
                    apply_all(&mut m, frames.iter().copied());
                    m
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
