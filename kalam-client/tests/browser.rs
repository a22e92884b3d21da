//! The client in a real browser: built for wasm32 and run by wasm-bindgen-test in headless
//! Chromium against an emulator binary on loopback, which scripts/wasm-browser-test.sh starts
//! (its URL comes in at build time as `KALAM_BROWSER_TEST_URL`). HTTP goes through the page's
//! `fetch` (so across origins, through the server's CORS), the live view through the page's
//! WebSocket.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LoadState};
use kalam_client::{AuthProvider, KalamClient, KalamRow};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const URL: &str = env!("KALAM_BROWSER_TEST_URL");

#[derive(Debug, KalamRow)]
struct Task {
    id: i64,
    title: String,
}

#[wasm_bindgen_test]
async fn login_typed_query_and_a_live_view_that_sees_an_insert() {
    let client = KalamClient::builder()
        .base_url(URL)
        .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
        .build()
        .unwrap();
    // The first request logs in.
    let me: String = kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(me, "admin");

    kalam_client::query("CREATE NAMESPACE IF NOT EXISTS browser")
        .execute(&client)
        .await
        .unwrap();
    kalam_client::query(
        "CREATE SHARED TABLE browser.tasks (id BIGINT PRIMARY KEY, title TEXT NOT NULL)",
    )
    .execute(&client)
    .await
    .unwrap();
    kalam_client::query("INSERT INTO browser.tasks (id, title) VALUES ($1, $2), ($3, $4)")
        .bind(1)
        .bind("write")
        .bind(2)
        .bind("ship")
        .execute(&client)
        .await
        .unwrap();

    let mut tasks: Vec<Task> =
        kalam_client::query_as("SELECT id, title FROM browser.tasks WHERE id >= $1")
            .bind(2)
            .fetch_all(&client)
            .await
            .unwrap();
    tasks.sort_by_key(|t| t.id);
    let got: Vec<(i64, &str)> = tasks.iter().map(|t| (t.id, t.title.as_str())).collect();
    assert_eq!(got, [(2, "ship")]);

    let mut live = client
        .live::<Task>("SELECT id, title FROM browser.tasks")
        .await
        .unwrap();
    while live.state() != LoadState::Ready {
        live.next().await.transpose().unwrap();
    }
    assert_eq!(live.rows().count(), 2);

    kalam_client::query("INSERT INTO browser.tasks (id, title) VALUES ($1, $2)")
        .bind(3)
        .bind("test in a browser")
        .execute(&client)
        .await
        .unwrap();
    let event = live.next().await.transpose().unwrap().unwrap();
    match event.change {
        LiveChange::Inserted(task) => {
            assert_eq!((task.id, task.title.as_str()), (3, "test in a browser"));
        }
        other => panic!("expected the insert, got {other:?}"),
    }
    let mut ids: Vec<i64> = live.rows().map(|t| t.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
}
