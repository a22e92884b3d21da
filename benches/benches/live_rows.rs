//! Applying changes to a materialized live set: 100,000 change frames (60 % updates, 20 %
//! inserts, 20 % deletes) against a 10,000-row set, each decoded into an 8-column struct,
//! through kalam-client's `LiveRowsMaterializer` (frame JSON → typed row → keyed set). The
//! official SDK's `LiveRowsMaterializer` copies the whole set on every event, so it runs 100
//! of the same changes on the same 10,000 rows (extrapolate × 1,000).
//!
//! Run: `cargo bench -p kalam-benches --bench live_rows -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;

use common::{Item, ack_frame, apply_all, change_frames, initial_frame, official_event};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kalam_client::live::{LiveRowsConfig, LiveRowsMaterializer};

const ROWS: i64 = 10_000;
const CHANGES: usize = 100_000;
const OFFICIAL_CHANGES: usize = 100;

fn loaded(initial: &str) -> LiveRowsMaterializer<Item> {
    let mut m = LiveRowsMaterializer::<Item>::new(LiveRowsConfig::new());
    m.apply_frame(&ack_frame()).unwrap().for_each(drop);
    m.apply_frame(initial).unwrap().for_each(drop);
    assert_eq!(m.len(), ROWS as usize);
    m
}

fn bench(c: &mut Criterion) {
    let initial = initial_frame(ROWS);
    let frames = change_frames(ROWS, CHANGES);
    let mut group = c.benchmark_group("live_rows");
    group.sample_size(10);
    group.bench_function("ours: 100,000 changes on 10,000 rows", |b| {
        b.iter_batched(
            || loaded(&initial),
            |mut m| {
                apply_all(&mut m, frames.iter().map(String::as_str));
                m
            },
            BatchSize::PerIteration,
        );
    });
    let official_initial = official_event(&initial).unwrap();
    let official_frames: Vec<_> = frames[..OFFICIAL_CHANGES].to_vec();
    group.bench_function("official: 100 changes on 10,000 rows", |b| {
        b.iter_batched(
            || {
                let mut m =
                    official::LiveRowsMaterializer::new(official::LiveRowsConfig::default());
                black_box(m.apply(official_initial.clone()));
                m
            },
            |mut m| {
                for frame in &official_frames {
                    let event = official_event(frame).unwrap();
                    black_box(m.apply(event));
                }
                m
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
