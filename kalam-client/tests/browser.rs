//! The client in a real browser: built for wasm32 and run by wasm-bindgen-test in headless
//! Chromium against an emulator binary on loopback, which scripts/wasm-browser-test.sh starts
//! (its URL comes in at build time as `KALAM_BROWSER_TEST_URL`). HTTP goes through the page's
//! `fetch` (so across origins, through the server's CORS), the live view through the page's
//! WebSocket.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LiveRows, LoadState};
use kalam_client::{AuthProvider, KalamClient, KalamClientBuilder, KalamRow};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const URL: &str = env!("KALAM_BROWSER_TEST_URL");

#[derive(Debug, KalamRow)]
struct Task {
    id: i64,
    title: String,
}

fn admin() -> KalamClientBuilder {
    KalamClient::builder()
        .base_url(URL)
        .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
}

async fn ready(live: &mut LiveRows<Task>) {
    while live.state() != LoadState::Ready {
        live.next().await.transpose().unwrap();
    }
}

#[wasm_bindgen_test]
async fn login_typed_query_and_a_live_view_through_insert_update_delete() {
    let client = admin().build().unwrap();
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
    ready(&mut live).await;
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

    kalam_client::query("UPDATE browser.tasks SET title = $1 WHERE id = $2")
        .bind("tested in a browser")
        .bind(3)
        .execute(&client)
        .await
        .unwrap();
    let event = live.next().await.transpose().unwrap().unwrap();
    match event.change {
        LiveChange::Updated { before, after } => {
            assert_eq!(
                before.map(|b| b.title.clone()).as_deref(),
                Some("test in a browser")
            );
            assert_eq!((after.id, after.title.as_str()), (3, "tested in a browser"));
        }
        other => panic!("expected the update, got {other:?}"),
    }

    kalam_client::query("DELETE FROM browser.tasks WHERE id = $1")
        .bind(1)
        .execute(&client)
        .await
        .unwrap();
    let event = live.next().await.transpose().unwrap().unwrap();
    match event.change {
        LiveChange::Deleted { before, .. } => {
            assert_eq!(before.map(|b| b.id), Some(1));
        }
        other => panic!("expected the delete, got {other:?}"),
    }
    let mut rows: Vec<(i64, String)> = live.rows().map(|t| (t.id, t.title.clone())).collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        [
            (2, "ship".to_owned()),
            (3, "tested in a browser".to_owned())
        ]
    );
}

/// A page cannot send Ping frames and the server answers no JSON ping, so silence on an idle
/// socket proves nothing there: a live view stays connected through several keepalive
/// periods without traffic instead of being given up as half-open.
#[wasm_bindgen_test]
async fn an_idle_live_view_outlives_its_keepalive_periods() {
    let client = admin()
        .live_keepalive(Duration::from_millis(100))
        .build()
        .unwrap();
    kalam_client::query("CREATE NAMESPACE IF NOT EXISTS browser")
        .execute(&client)
        .await
        .unwrap();
    kalam_client::query(
        "CREATE SHARED TABLE browser.idle (id BIGINT PRIMARY KEY, title TEXT NOT NULL)",
    )
    .execute(&client)
    .await
    .unwrap();
    let mut live = client
        .live::<Task>("SELECT id, title FROM browser.idle")
        .await
        .unwrap();
    ready(&mut live).await;
    // Five keepalive periods with nothing on the socket: the absence of a reconnect is what is
    // tested, so there is no event to wait for instead.
    gloo_timers::future::sleep(Duration::from_millis(500)).await;
    kalam_client::query("INSERT INTO browser.idle (id, title) VALUES ($1, $2)")
        .bind(1)
        .bind("still here")
        .execute(&client)
        .await
        .unwrap();
    let event = live.next().await.transpose().unwrap().unwrap();
    assert!(
        matches!(&event.change, LiveChange::Inserted(t) if t.id == 1),
        "expected the insert on the same socket, got {:?}",
        event.change
    );
}
