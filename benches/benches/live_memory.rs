//! Memory of a 100,000-row live set of an 8-column struct (kalam-client's
//! `LiveRowsMaterializer<Item>`: typed rows behind `Arc`, a key map and an ordered index)
//! against the official SDK's `LiveRowsMaterializer` (a `Vec` of `HashMap<String,
//! KalamCellValue>` row maps) holding the same rows. Bytes are counted by the global
//! allocator: live bytes after loading minus live bytes before (the frame text excluded).
//!
//! Run: `cargo bench -p kalam-benches --bench live_memory`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;

use common::{Item, ack_frame, initial_frame, official_event};
use kalam_client::live::{LiveRowsConfig, LiveRowsMaterializer};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROWS: i64 = 100_000;

/// Live bytes `build`'s result holds (allocated minus freed while building it).
fn retained<R>(build: impl FnOnce() -> R) -> (R, i64) {
    let region = Region::new(GLOBAL);
    let value = build();
    let change = region.change();
    let live = change.bytes_allocated as i64 - change.bytes_deallocated as i64
        + change.bytes_reallocated as i64;
    (value, live)
}

fn main() {
    let ack = ack_frame();
    let initial = initial_frame(ROWS);
    println!(
        "{ROWS} rows, 8 columns; the initial_data_batch frame is {} bytes of JSON",
        initial.len()
    );

    let (ours, ours_bytes) = retained(|| {
        let mut m = LiveRowsMaterializer::<Item>::new(LiveRowsConfig::new());
        m.apply_frame(&ack).unwrap().for_each(drop);
        m.apply_frame(&initial).unwrap().for_each(drop);
        m
    });
    assert_eq!(ours.len(), ROWS as usize);

    let (official, official_bytes) = retained(|| {
        let event = official_event(&initial).unwrap();
        let mut m = official::LiveRowsMaterializer::new(official::LiveRowsConfig::default());
        // The snapshot copy it returns is dropped at once; only the kept rows count.
        drop(m.apply(event));
        m
    });
    assert_eq!(official.rows().len(), ROWS as usize);

    let per_row = |b: i64| b as f64 / ROWS as f64;
    println!(
        "kalam-client LiveRowsMaterializer<Item>: {ours_bytes} bytes ({:.0} per row)",
        per_row(ours_bytes)
    );
    println!(
        "official LiveRowsMaterializer (row maps): {official_bytes} bytes ({:.0} per row)",
        per_row(official_bytes)
    );
    println!(
        "ratio ours / official: {:.2} (target ≤ 0.50)",
        ours_bytes as f64 / official_bytes as f64
    );
}
