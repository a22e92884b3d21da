//! The benchmark report: every benchmark that has an official-SDK counterpart, run side by side
//! in one process against the same in-process data and the same emulator, then one summary
//! table (metric, ours, official or baseline, ratio, target, met?), the scaling tables and
//! their PNG curves.
//!
//! ```sh
//! cargo build -p kalam-emulator --bin kalam-emulator && cargo bench -p kalam-benches --bench report
//! ```
//!
//! Criterion measures the in-process legs (decode, live apply, exact against server-filtered
//! live views) and `fetch_all` (its HTML reports land in the target directory's `criterion/`);
//! the other server legs (round trips per second, insert-to-event latency, reconnect) and
//! memory are measured directly. Every figure in the table is a ratio against a baseline
//! measured in the same run, so a busy machine slows both sides alike.
//!
//! The server is the emulator binary (debug build), started here as a subprocess: this crate
//! must not depend on kalam-emulator, whose release build compiles DataFusion. It is looked
//! up next to this benchmark in the target directory; `KALAM_EMULATOR_BIN` names it
//! explicitly. The tables and plots are written to `benches/results/` (`KALAM_REPORT_DIR`
//! overrides). Criterion's own arguments apply to its legs (`-- decode` runs only the decode
//! group of them; the measured-directly legs always run).

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[path = "../common/mod.rs"]
mod common;
mod local;
mod plot;
mod server;
mod summary;

use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, PlottingBackend};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// Counts allocations for the memory legs (every leg pays the same small overhead).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Samples each leg recorded, by key: the measured unit's cost of every Criterion sample
/// (seconds per row, per change, per call), or one value for the legs measured directly.
static RESULTS: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Criterion's samples per leg; the report's figure is the best of the last this many.
const SAMPLES: usize = 10;

/// Records one sample under `key`.
pub fn record(key: &str, value: f64) {
    RESULTS
        .lock()
        .unwrap()
        .entry(key.to_owned())
        .or_default()
        .push(value);
}

/// The best (smallest) of the last [`SAMPLES`] samples recorded under `key` (Criterion's
/// warm-up calls come first). On a machine shared with other work, the other work only ever
/// adds time, so the fastest sample is the closest to the cost itself, and comparing fastest
/// with fastest keeps the ratios steady while the load changes.
pub fn result(key: &str) -> Option<f64> {
    let all = RESULTS.lock().unwrap();
    let samples = all.get(key)?;
    samples[samples.len().saturating_sub(SAMPLES)..]
        .iter()
        .copied()
        .min_by(f64::total_cmp)
}

/// A Criterion leg whose every iteration runs `run` on a fresh `setup()` (not timed), and whose
/// samples are also recorded under `key`, divided by `units` (rows, changes).
pub fn leg<S, R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    key: &str,
    units: f64,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(S) -> R,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let input = setup();
                let start = Instant::now();
                let output = run(black_box(input));
                total += start.elapsed();
                drop(black_box(output));
            }
            record(key, total.as_secs_f64() / iters as f64 / units);
            total
        });
    });
}

fn main() {
    let started = Instant::now();
    let out_dir = std::env::var_os("KALAM_REPORT_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&out_dir).unwrap();

    // Memory first, while no other thread allocates.
    local::memory();

    let plots = plot::register_font();
    let mut c = Criterion::default()
        .plotting_backend(PlottingBackend::Plotters)
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    if !plots {
        c = c.without_plots();
    }
    local::decode(&mut c);
    local::live_apply(&mut c);
    local::live_filter(&mut c);
    server::run(&mut c);
    c.final_summary();

    let report = summary::render();
    println!("\n{report}");
    std::fs::write(out_dir.join("summary.md"), &report).unwrap();
    if plots {
        plot::all(&out_dir);
    }
    println!(
        "written to {}; the whole run took {:.0} s",
        out_dir.display(),
        started.elapsed().as_secs_f64()
    );
}
