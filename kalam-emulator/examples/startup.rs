//! Measures the emulator's start-up: from `Emulator::builder()` to the first answered
//! `SELECT 1` over loopback HTTP (login included, since the query needs a token), N times,
//! without and with the workspace's `schemas/` directory applied at start.
//!
//! ```text
//! cargo run -p kalam-emulator --example startup [-- N]
//! ```
//!
//! Prints median, p95 and max per configuration. The figures are recorded in BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kalam_emulator::{DEFAULT_ADMIN, Emulator};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One start: builder → start → login → `SELECT 1` answered. Returns (start, total).
async fn one(http: &reqwest::Client, schemas: Option<&Path>) -> Res<(Duration, Duration)> {
    let t0 = Instant::now();
    let mut b = Emulator::builder();
    if let Some(dir) = schemas {
        b = b.schemas_dir(dir);
    }
    let emu = b.start().await?;
    let started = t0.elapsed();
    let login: Value = http
        .post(format!("{}/v1/api/auth/login", emu.url()))
        .json(&json!({"user": DEFAULT_ADMIN.0, "password": DEFAULT_ADMIN.1}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .ok_or("login answered without access_token")?;
    let answer: Value = http
        .post(format!("{}/v1/api/sql", emu.url()))
        .bearer_auth(token)
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await?
        .json()
        .await?;
    let total = t0.elapsed();
    if answer["results"][0]["rows"] != json!([["1"]]) {
        return Err(format!("unexpected answer to SELECT 1: {answer}").into());
    }
    emu.shutdown().await;
    Ok((started, total))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    let i = ((last as f64) * p).round() as usize;
    sorted.get(i.min(last)).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(http: &reqwest::Client, n: usize, schemas: Option<&Path>) -> Res<()> {
    let mut starts = Vec::with_capacity(n);
    let mut totals = Vec::with_capacity(n);
    for _ in 0..n {
        let (s, t) = one(http, schemas).await?;
        starts.push(s);
        totals.push(t);
    }
    starts.sort();
    totals.sort();
    let label = match schemas {
        Some(d) => format!("with {}", d.display()),
        None => "no schemas".to_owned(),
    };
    println!(
        "{label}: n = {n}; start() median {} p95 {} max {}; first SELECT 1 answered median {} p95 {} max {}",
        ms(percentile(&starts, 0.5)),
        ms(percentile(&starts, 0.95)),
        ms(percentile(&starts, 1.0)),
        ms(percentile(&totals, 0.5)),
        ms(percentile(&totals, 0.95)),
        ms(percentile(&totals, 1.0)),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 50,
    };
    let schemas = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let schemas = schemas.canonicalize()?;
    // One client for all runs, as a test suite would have; each emulator is a new port, so
    // every run opens a new connection.
    let http = reqwest::Client::builder().build()?;
    // The first start of the process pays for DataFusion's lazy statics: shown on its own,
    // then left out of the statistics.
    let (s, t) = one(&http, None).await?;
    println!(
        "first start in this process: start() {}, first SELECT 1 answered {}",
        ms(s),
        ms(t)
    );
    measure(&http, n, None).await?;
    measure(&http, n, Some(&schemas)).await?;
    Ok(())
}
