//! `fetch` streams a large result with the memory of one page: measured with a counting
//! global allocator, so this binary holds this one test (other tests running beside it would
//! count in). The server is the in-process emulator (or `KALAMDB_SERVER_URL`); the rows it
//! stores are allocated before the measurement starts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::alloc::System;

use futures_util::StreamExt;
use kalam_client::KalamClient;
use kalam_tests::server_or_skip;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::{admin_client, exec, insert_rows};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed since `region` started (`bytes_allocated` and
/// `bytes_deallocated` already count what reallocations grew and shrank).
fn in_use(region: &Region<'_, System>) -> isize {
    let c = region.change();
    let allocated = isize::try_from(c.bytes_allocated).unwrap_or(isize::MAX);
    let freed = isize::try_from(c.bytes_deallocated).unwrap_or(isize::MAX);
    allocated - freed
}

/// Streams `sql`, keeping every `keep_every`-th row; returns the highest memory in use seen
/// after each row and the number of rows.
async fn stream_peak(client: &KalamClient, sql: String, keep_every: usize) -> (isize, usize) {
    let region = Region::new(GLOBAL);
    let mut kept: Vec<(i64, String)> = Vec::new();
    let mut rows = kalam_client::query_as::<(i64, String)>(sql).fetch(client);
    let (mut peak, mut n) = (0, 0);
    while let Some(row) = rows.next().await {
        let row = row.unwrap();
        n += 1;
        if n % keep_every == 0 {
            kept.push(row);
        }
        peak = peak.max(in_use(&region));
    }
    drop(rows);
    (peak, n)
}

#[tokio::test(flavor = "current_thread")]
async fn fetch_streams_ten_thousand_rows_in_the_memory_of_one_page() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    let ns = server.fresh_namespace("mem").await;
    exec(
        &client,
        format!("CREATE SHARED TABLE {ns}.rows (id BIGINT PRIMARY KEY, payload TEXT)"),
    )
    .await;
    insert_rows(
        &client,
        &format!("{ns}.rows (id, payload)"),
        (1..=10_000).map(|i| format!("({i}, 'payload of row {i:>08} ..........................')")),
    )
    .await;
    // Warm up the connection and the token, so that neither counts below.
    let _: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, payload FROM {ns}.rows LIMIT 1"))
            .fetch_all(&client)
            .await
            .unwrap();

    // One page's worth: the response body of a 1,000-row page plus its decoded rows.
    let token = server.admin_token().await;
    let (_, page) = server
        .sql_raw(
            &token,
            &format!("SELECT id, payload FROM {ns}.rows ORDER BY id LIMIT 1000"),
            None,
        )
        .await;
    let body = page.to_string().len();
    let rows: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, payload FROM {ns}.rows"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(rows.len(), 10_000);
    let held = |rows: &[(i64, String)]| {
        std::mem::size_of_val(rows) + rows.iter().map(|r| r.1.capacity()).sum::<usize>()
    };
    let every_row = held(&rows);
    let one_page = body + held(&rows[..1000]);
    drop(rows);

    // Ten pages streamed, keeping one row in 100.
    let (peak, n) = stream_peak(
        &client,
        format!("SELECT id, payload FROM {ns}.rows ORDER BY id"),
        100,
    )
    .await;
    assert_eq!(n, 10_000);
    let kept = 100 * (std::mem::size_of::<(i64, String)>() + 64);
    // The HTTP client's buffers and the pager's state come on top of the page.
    let bound = isize::try_from(one_page + kept + 64 * 1024).unwrap();
    println!("one page {one_page} B, every row {every_row} B, streamed peak {peak} B");
    assert!(
        peak <= bound,
        "streaming 10,000 rows peaked at {peak} B, over one page ({one_page} B) plus the kept rows"
    );
    assert!(
        peak * 4 < isize::try_from(every_row).unwrap(),
        "streaming held about as much as every row: {peak} B of {every_row} B"
    );
}
