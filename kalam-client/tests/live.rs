//! Live queries against the emulator over loopback WebSocket: raw events, materialized typed
//! and dynamic rows, paging, per-user isolation, gzip frames, quota errors and unsubscribe.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kalam_client::live::{
    LiveChange, LiveEvent, LiveRows, LiveRowsConfig, LoadState, SubscriptionOptions,
};
use kalam_client::{AuthProvider, ColumnSpec, KalamClient, KalamRow, Result, Row, RowRef};
use kalam_emulator::Emulator;

#[derive(Debug, Clone, PartialEq)]
struct Todo {
    id: i64,
    title: String,
    note: Option<String>,
    done: bool,
}

impl KalamRow for Todo {
    fn columns() -> &'static [ColumnSpec] {
        const COLUMNS: &[ColumnSpec] = &[
            ColumnSpec::named::<i64>("id"),
            ColumnSpec::named::<String>("title"),
            ColumnSpec::named::<Option<String>>("note"),
            ColumnSpec::named::<bool>("done"),
        ];
        COLUMNS
    }
    fn from_row(row: &RowRef<'_>) -> Result<Self> {
        Ok(Todo {
            id: row.get(0)?,
            title: row.get(1)?,
            note: row.get(2)?,
            done: row.get(3)?,
        })
    }
}

fn client(server: &Emulator, user: &str, password: &str) -> KalamClient {
    KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(user.into(), password.into()))
        .build()
        .unwrap()
}

async fn exec(client: &KalamClient, sql: &str) {
    client
        .query::<()>(sql.to_owned())
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// An emulator with a USER table `app.todos` and users alice and bob.
async fn setup() -> (Emulator, KalamClient, KalamClient) {
    let server = Emulator::start().await.unwrap();
    let admin = client(&server, "admin", "AdminPass123!");
    exec(&admin, "CREATE NAMESPACE IF NOT EXISTS app").await;
    exec(
        &admin,
        "CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL, note TEXT, done BOOLEAN NOT NULL)",
    )
    .await;
    for user in ["alice", "bob"] {
        exec(
            &admin,
            &format!("CREATE USER '{user}' WITH PASSWORD 'Secret123!' ROLE user"),
        )
        .await;
    }
    let alice = client(&server, "alice", "Secret123!");
    let bob = client(&server, "bob", "Secret123!");
    (server, alice, bob)
}

/// The next stream item, failing the test if none arrives in time.
async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no live event within 10 s")
        .expect("the live stream ended")
}

fn ids<T>(live: &LiveRows<T>, id: impl Fn(&T) -> i64) -> Vec<i64>
where
    T: KalamRow,
{
    live.rows().map(id).collect()
}

#[tokio::test]
async fn typed_rows_follow_initial_load_and_changes() {
    let (_server, alice, _bob) = setup().await;
    exec(&alice, "INSERT INTO app.todos (id, title, note, done) VALUES (1, 'Buy milk', 'x', false), (2, 'Call Bob', NULL, false)").await;
    let mut live = alice
        .live::<Todo>("SELECT * FROM app.todos WHERE done = false")
        .await
        .unwrap();
    assert_eq!(live.key_columns(), ["id"]);
    let ack = next(&mut live).await.unwrap();
    assert!(matches!(ack.change, LiveChange::Snapshot { rows: 0, .. }));
    assert_eq!(ack.state, LoadState::Loading);
    let batch = next(&mut live).await.unwrap();
    assert!(matches!(batch.change, LiveChange::Snapshot { rows: 2, .. }));
    assert_eq!(batch.state, LoadState::Ready);
    assert_eq!(ids(&live, |t| t.id), [1, 2]);
    assert_eq!(live.rows().next().unwrap().note.as_deref(), Some("x"));
    let loaded_seq = batch.last_seq_id.unwrap();

    exec(
        &alice,
        "UPDATE app.todos SET title = 'Buy oat milk' WHERE id = 1",
    )
    .await;
    let update = next(&mut live).await.unwrap();
    let LiveChange::Updated { before, after } = update.change else {
        panic!("{update:?}")
    };
    assert_eq!(before.unwrap().title, "Buy milk");
    assert_eq!(after.title, "Buy oat milk");
    assert_eq!(after.note.as_deref(), Some("x"));
    assert!(update.last_seq_id.unwrap() > loaded_seq);
    assert_eq!(ids(&live, |t| t.id), [1, 2]);

    // Update rows omit NULL columns: the merged row must read NULL, not the old value.
    exec(&alice, "UPDATE app.todos SET note = NULL WHERE id = 1").await;
    let cleared = next(&mut live).await.unwrap();
    assert!(matches!(cleared.change, LiveChange::Updated { .. }));
    assert_eq!(live.rows().next().unwrap().note, None);

    exec(&alice, "DELETE FROM app.todos WHERE id = 2").await;
    let delete = next(&mut live).await.unwrap();
    let LiveChange::Deleted { before, .. } = delete.change else {
        panic!("{delete:?}")
    };
    assert_eq!(before.unwrap().title, "Call Bob");
    assert_eq!(ids(&live, |t| t.id), [1]);

    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (3, 'Water plants', false)",
    )
    .await;
    let insert = next(&mut live).await.unwrap();
    let LiveChange::Inserted(row) = insert.change else {
        panic!("{insert:?}")
    };
    assert_eq!(
        *row,
        Todo {
            id: 3,
            title: "Water plants".into(),
            note: None,
            done: false
        }
    );
    assert_eq!(ids(&live, |t| t.id), [1, 3]);
    assert_eq!(live.checkpoint().unwrap().0, insert.last_seq_id.unwrap());

    // Resuming from the checkpoint replays nothing already applied.
    let mut resumed = alice
        .live_events_with_config(
            "SELECT * FROM app.todos",
            SubscriptionOptions::new().with_from(live.checkpoint().unwrap().0),
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut resumed).await, LiveEvent::Ack { .. }));
    let LiveEvent::InitialBatch { rows, .. } = next(&mut resumed).await else {
        panic!()
    };
    assert!(rows.is_empty(), "{rows:?}");
}

#[tokio::test]
async fn dynamic_rows_are_isolated_per_user() {
    let (_server, alice, bob) = setup().await;
    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (1, 'alice 1', false)",
    )
    .await;
    exec(
        &bob,
        "INSERT INTO app.todos (id, title, done) VALUES (1, 'bob 1', true)",
    )
    .await;
    let mut a = alice.live::<Row>("SELECT * FROM app.todos").await.unwrap();
    let mut b = bob.live::<Row>("SELECT * FROM app.todos").await.unwrap();
    for live in [&mut a, &mut b] {
        next(live).await.unwrap();
        next(live).await.unwrap();
        assert_eq!(live.len(), 1);
    }
    let title = |live: &LiveRows<Row>| -> Vec<String> {
        live.rows().map(|r| r.get::<String, _>("title")).collect()
    };
    assert_eq!(title(&a), ["alice 1"]);
    assert_eq!(title(&b), ["bob 1"]);

    // Bob writes first; alice's next event must still be her own insert.
    exec(
        &bob,
        "INSERT INTO app.todos (id, title, done) VALUES (2, 'bob 2', false)",
    )
    .await;
    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (2, 'alice 2', false)",
    )
    .await;
    let ev = next(&mut a).await.unwrap();
    let LiveChange::Inserted(row) = ev.change else {
        panic!("{ev:?}")
    };
    assert_eq!(row.get::<String, _>("title"), "alice 2");
    assert!(!row.get::<bool, _>("_deleted"));
    assert_eq!(title(&a), ["alice 1", "alice 2"]);
    next(&mut b).await.unwrap();
    assert_eq!(title(&b), ["bob 1", "bob 2"]);
}

#[tokio::test]
async fn initial_load_pages_through_batches() {
    let (_server, alice, _bob) = setup().await;
    for id in 1..=5 {
        exec(
            &alice,
            &format!("INSERT INTO app.todos (id, title, done) VALUES ({id}, 't{id}', false)"),
        )
        .await;
    }
    let mut events = alice
        .live_events_with_config(
            "SELECT id, title FROM app.todos",
            SubscriptionOptions::new().with_batch_size(2),
        )
        .await
        .unwrap();
    let LiveEvent::Ack {
        schema,
        batch_control,
    } = next(&mut events).await
    else {
        panic!()
    };
    assert!(batch_control.has_more);
    assert!(schema.iter().any(|f| f.name == "_seq"));
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let LiveEvent::InitialBatch {
            rows,
            batch_control,
        } = next(&mut events).await
        else {
            panic!()
        };
        sizes.push(rows.len());
        seen.extend(rows.iter().map(|r| r.try_get::<i64>("id").unwrap()));
        assert!(rows.iter().all(|r| r.seq().is_some()));
        if !batch_control.has_more {
            assert_eq!(batch_control.status, "ready");
            break;
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, [1, 2, 3, 4, 5]);

    // The materialized view pages the same way, with a limit dropping the oldest rows.
    let mut live = alice
        .live_with_config::<Todo>(
            "SELECT * FROM app.todos",
            LiveRowsConfig::new().with_limit(4),
            SubscriptionOptions::new().with_batch_size(2),
        )
        .await
        .unwrap();
    while live.state() != LoadState::Ready {
        next(&mut live).await.unwrap();
    }
    assert_eq!(ids(&live, |t| t.id), [2, 3, 4, 5]);
}

#[tokio::test]
async fn large_batches_arrive_gzip_compressed_and_decode() {
    let (_server, alice, _bob) = setup().await;
    let values: Vec<String> = (1..=30)
        .map(|i| format!("({i}, 'a fairly long title for row number {i}', false)"))
        .collect();
    exec(
        &alice,
        &format!(
            "INSERT INTO app.todos (id, title, done) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    let mut live = alice.live::<Todo>("SELECT * FROM app.todos").await.unwrap();
    next(&mut live).await.unwrap();
    next(&mut live).await.unwrap();
    assert_eq!(live.len(), 30);
    assert_eq!(
        live.rows().last().unwrap().title,
        "a fairly long title for row number 30"
    );
}

#[tokio::test]
async fn subscription_errors_surface_and_drop_unsubscribes() {
    let (_server, alice, _bob) = setup().await;
    let err = alice.live_events("SELECT * FROM todos").await.unwrap_err();
    assert_eq!(err.code().unwrap().as_str(), "INVALID_SQL", "{err}");
    let err = alice
        .live::<Todo>("SELECT * FROM app.nope")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().as_str(), "NOT_FOUND", "{err}");

    // Per-user quota: 10 subscriptions.
    let mut subs = Vec::new();
    for _ in 0..10 {
        subs.push(alice.live_events("SELECT * FROM app.todos").await.unwrap());
    }
    let err = alice
        .live_events("SELECT * FROM app.todos")
        .await
        .unwrap_err();
    assert_eq!(
        err.code().unwrap().as_str(),
        "SUBSCRIPTION_LIMIT_EXCEEDED",
        "{err}"
    );
    // Dropping one sends `unsubscribe`, which frees a slot.
    drop(subs.pop());
    let mut again = alice
        .live_events_with_config(
            "SELECT * FROM app.todos",
            SubscriptionOptions::without_initial_data(),
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut again).await, LiveEvent::Ack { .. }));
    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (1, 'x', false)",
    )
    .await;
    let LiveEvent::Insert { rows } = next(&mut again).await else {
        panic!()
    };
    assert_eq!(rows[0].try_get::<String>("title").unwrap(), "x");
}

#[tokio::test]
async fn reconnects_and_resumes_after_the_connection_drops() {
    let (server, alice, _bob) = setup().await;
    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (1, 'one', false), (2, 'two', false)",
    )
    .await;
    let mut live = alice.live::<Todo>("SELECT * FROM app.todos").await.unwrap();
    while live.state() != LoadState::Ready {
        next(&mut live).await.unwrap();
    }
    let before = live.checkpoint().unwrap();
    assert!(server.faults().drop_connections() > 0);
    let ev = next(&mut live).await.unwrap();
    assert!(
        matches!(ev.change, LiveChange::Disconnected { .. }),
        "{ev:?}"
    );
    // Written around the reconnect: it arrives either in the resumed snapshot or as a change.
    exec(
        &alice,
        "UPDATE app.todos SET title = 'one again' WHERE id = 1",
    )
    .await;
    let mut resumed_from = None;
    while live.rows().next().map(|t| t.title.as_str()) != Some("one again")
        || live.state() != LoadState::Ready
    {
        let ev = next(&mut live).await.unwrap();
        if let LiveChange::Resumed { from } = ev.change {
            resumed_from = from;
        }
    }
    assert_eq!(resumed_from, Some(before.0));
    assert_eq!(ids(&live, |t| t.id), [1, 2]);
    assert!(live.checkpoint().unwrap() > before);

    // The subscription is live on the new socket.
    exec(
        &alice,
        "INSERT INTO app.todos (id, title, done) VALUES (3, 'three', false)",
    )
    .await;
    loop {
        let ev = next(&mut live).await.unwrap();
        if let LiveChange::Inserted(row) = ev.change {
            assert_eq!(row.id, 3);
            break;
        }
    }
    assert_eq!(ids(&live, |t| t.id), [1, 2, 3]);
}
