//! Insert-to-event latency on loopback: the time from sending an INSERT over HTTP until the
//! live subscription delivers the new row, for kalam-client's typed `live::<Item>()` and the
//! official SDK's `live()`, in the same run against the same server. Each client watches its
//! own table; the inserts alternate between the two (always sent by kalam-client's HTTP
//! client, so the write path is the same).
//!
//! The server is the emulator binary, started here as a subprocess (this crate must not
//! depend on kalam-emulator: its release build compiles DataFusion). Build it first:
//!
//! ```sh
//! cargo build -p kalam-emulator --bin kalam-emulator
//! cargo bench -p kalam-benches --bench live_latency
//! ```
//!
//! `KALAM_EMULATOR_BIN` overrides the binary's path; `KALAMDB_SERVER_URL` (with
//! `KALAMDB_USER`/`KALAMDB_PASSWORD`, a dba) uses a running server instead.
//! `LIVE_LATENCY_SAMPLES` sets the inserts per client (default 300).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{COLUMNS_DDL, Item};
use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LoadState};
use kalam_client::{AuthProvider, KalamClient};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the emulator binary on a free port; returns it with its base URL.
async fn start_emulator() -> (Child, String) {
    let bin = std::env::var("KALAM_EMULATOR_BIN").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/debug/kalam-emulator"
        )
        .to_owned()
    });
    if !std::path::Path::new(&bin).exists() {
        eprintln!(
            "{bin} is missing: run `cargo build -p kalam-emulator --bin kalam-emulator` first"
        );
        std::process::exit(2);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.strip_prefix("listening on ") {
            return (child, url.trim().to_owned());
        }
    }
    panic!("the emulator exited before listening");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={:<4} median {:>7.3} ms   p99 {:>7.3} ms   min {:>7.3} ms   max {:>7.3} ms",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    );
}

fn insert_sql(table: &str, id: i64) -> String {
    format!(
        "INSERT INTO bench.{table} (id, title, done, qty, price, due_at, score, note) VALUES \
         ({id}, 'Item number {id}', false, 3, 12.50, 1748822400000000, 0.5, 'a note')"
    )
}

#[tokio::main]
async fn main() {
    let samples: i64 = std::env::var("LIVE_LATENCY_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let (_child, url, user, password) = match std::env::var("KALAMDB_SERVER_URL") {
        Ok(url) => (
            None,
            url,
            std::env::var("KALAMDB_USER").unwrap(),
            std::env::var("KALAMDB_PASSWORD").unwrap(),
        ),
        Err(_) => {
            let (child, url) = start_emulator().await;
            (Some(child), url, "admin".into(), "AdminPass123!".into())
        }
    };
    println!("server: {url}");

    let ours = KalamClient::builder()
        .base_url(url.clone())
        .auth(AuthProvider::basic_auth(user.clone(), password.clone()))
        .build()
        .unwrap();
    let run = std::process::id();
    let (t_ours, t_official) = (format!("ours_{run}"), format!("official_{run}"));
    for sql in [
        "CREATE NAMESPACE IF NOT EXISTS bench".to_owned(),
        format!("CREATE SHARED TABLE bench.{t_ours} ({COLUMNS_DDL})"),
        format!("CREATE SHARED TABLE bench.{t_official} ({COLUMNS_DDL})"),
    ] {
        kalam_client::query(sql).execute(&ours).await.unwrap();
    }

    let mut live = ours
        .live::<Item>(&format!(
            "SELECT id, title, done, qty, price, due_at, score, note FROM bench.{t_ours}"
        ))
        .await
        .unwrap();
    while live.state() != LoadState::Ready {
        live.next().await.unwrap().unwrap();
    }

    let official = official::KalamLinkClient::builder()
        .base_url(url.clone())
        .auth(official::AuthProvider::basic_auth(user, password))
        .build()
        .unwrap();
    let mut sub = official
        .live(&format!(
            "SELECT id, title, done, qty, price, due_at, score, note FROM bench.{t_official}"
        ))
        .await
        .unwrap();
    // The ack's snapshot, then the initial batch's.
    sub.next().await.unwrap().unwrap();

    let timeout = Duration::from_secs(10);
    let (mut ours_samples, mut official_samples) = (Vec::new(), Vec::new());
    for id in 1..=samples {
        // kalam-client: typed `Inserted(Arc<Item>)`.
        let start = Instant::now();
        kalam_client::query(insert_sql(&t_ours, id))
            .execute(&ours)
            .await
            .unwrap();
        loop {
            let event = tokio::time::timeout(timeout, live.next())
                .await
                .expect("ours: no event")
                .unwrap()
                .unwrap();
            if matches!(&event.change, LiveChange::Inserted(item) if item.id == id) {
                break;
            }
        }
        ours_samples.push(start.elapsed());

        // The official SDK: a `Rows` snapshot that contains the new row.
        let start = Instant::now();
        kalam_client::query(insert_sql(&t_official, id))
            .execute(&ours)
            .await
            .unwrap();
        loop {
            let event = tokio::time::timeout(timeout, sub.next())
                .await
                .expect("official: no event")
                .unwrap()
                .unwrap();
            let official::LiveRowsEvent::Rows { rows, .. } = event else {
                panic!("official: {event:?}")
            };
            let seen = rows
                .iter()
                .any(|r| r.get("id").and_then(|c| c.as_big_int()) == Some(id));
            if seen {
                break;
            }
        }
        official_samples.push(start.elapsed());
    }
    println!("insert → live event, loopback, {samples} inserts per client, alternating:");
    report("kalam-client live::<Item>()", ours_samples);
    report("official SDK live()", official_samples);
}
