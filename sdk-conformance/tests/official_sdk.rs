//! The official KalamDB Rust SDK against `kalam-emulator` (or the server named by
//! `KALAMDB_SERVER_URL`): a client nobody here wrote, in a fresh namespace with fresh users.
//!
//! Login, DDL, inserts with params, SELECT, `live()` with initial rows and insert/update/delete,
//! resume with `from`, a topic consumed and acknowledged, and two users who never see each
//! other's USER-table rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use official::subscription::LiveRowsConfig;
use official::{
    AuthProvider, AutoOffsetReset, KalamLinkClient, LiveRowsEvent, QueryParam, SeqId,
    SubscriptionConfig, SubscriptionOptions,
};

const WAIT: Duration = Duration::from_secs(10);

fn client(url: &str, user: &str, password: &str) -> KalamLinkClient {
    KalamLinkClient::builder()
        .base_url(url)
        .auth(AuthProvider::basic_auth(
            user.to_owned(),
            password.to_owned(),
        ))
        .build()
        .expect("official client builds")
}

async fn sql(c: &KalamLinkClient, sql: &str, params: Option<Vec<QueryParam>>) {
    let res = c.execute_query(sql, None, params, None).await;
    let res = res.unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert!(res.error.is_none(), "{sql}: {:?}", res.error);
}

async fn titles(c: &KalamLinkClient, sql: &str) -> Vec<String> {
    let res = c.execute_query(sql, None, None, None).await.unwrap();
    res.rows_as_maps()
        .iter()
        .map(|r| r["title"].as_text().unwrap().to_owned())
        .collect()
}

/// Waits for the next `Rows` event and returns the ids it holds, sorted.
async fn next_ids(sub: &mut official::LiveRowsSubscription) -> (Vec<i64>, Option<SeqId>) {
    let ev = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("live event in time")
        .expect("stream open")
        .expect("no error");
    match ev {
        LiveRowsEvent::Rows {
            rows, last_seq_id, ..
        } => {
            let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_big_int().unwrap()).collect();
            ids.sort_unstable();
            (ids, last_seq_id)
        }
        LiveRowsEvent::Error { code, message, .. } => panic!("{code}: {message}"),
    }
}

/// Waits until the materialized ids equal `want`.
async fn until_ids(sub: &mut official::LiveRowsSubscription, want: &[i64]) -> Option<SeqId> {
    loop {
        let (ids, seq) = next_ids(sub).await;
        if ids == want {
            return seq;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_against_the_emulator() {
    let server = kalam_tests::server_or_skip!();
    let url = server.url().to_owned();
    let (admin_user, admin_password) = server.admin_credentials();
    let admin = client(&url, admin_user, admin_password);
    let ns = server.fresh_namespace("sdk").await;
    let alice_user = server.create_user("alice", "user").await;
    let bob_user = server.create_user("bob", "user").await;

    // DDL as the admin.
    sql(
        &admin,
        &format!("CREATE TABLE {ns}.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL, done BOOLEAN NOT NULL DEFAULT false) WITH (TYPE = 'USER')"),
        None,
    )
    .await;
    sql(&admin, &format!("CREATE TOPIC {ns}.todo_events"), None).await;
    sql(
        &admin,
        &format!(
            "ALTER TOPIC {ns}.todo_events ADD SOURCE {ns}.todos ON INSERT WITH (payload = 'full')"
        ),
        None,
    )
    .await;

    let alice = client(&url, &alice_user.id, &alice_user.password);
    let bob = client(&url, &bob_user.id, &bob_user.password);

    // Login through the SDK's own endpoint.
    let login = alice
        .login(&alice_user.id, &alice_user.password)
        .await
        .unwrap();
    assert_eq!(login.user.id.to_string(), alice_user.id);

    // Inserts with params, SELECT.
    sql(
        &alice,
        &format!("INSERT INTO {ns}.todos (id, title) VALUES ($1, $2)"),
        Some(vec![
            QueryParam::Int(1),
            QueryParam::Text("Buy milk".into()),
        ]),
    )
    .await;
    sql(
        &alice,
        &format!("INSERT INTO {ns}.todos (id, title) VALUES ($1, $2)"),
        Some(vec![
            QueryParam::Int(2),
            QueryParam::Text("Call Bob".into()),
        ]),
    )
    .await;
    assert_eq!(
        titles(&alice, &format!("SELECT id, title FROM {ns}.todos")).await,
        ["Buy milk", "Call Bob"]
    );

    // Two users never see each other's USER rows.
    sql(
        &bob,
        &format!("INSERT INTO {ns}.todos (id, title) VALUES (1, 'Bob only')"),
        None,
    )
    .await;
    assert_eq!(
        titles(&bob, &format!("SELECT id, title FROM {ns}.todos")).await,
        ["Bob only"]
    );
    assert_eq!(
        titles(&alice, &format!("SELECT id, title FROM {ns}.todos")).await,
        ["Buy milk", "Call Bob"]
    );

    // live(): initial rows, then insert, update and delete.
    let mut live = alice
        .live(&format!("SELECT id, title FROM {ns}.todos"))
        .await
        .unwrap();
    until_ids(&mut live, &[1, 2]).await;
    sql(
        &alice,
        &format!("INSERT INTO {ns}.todos (id, title) VALUES (3, 'Water plants')"),
        None,
    )
    .await;
    until_ids(&mut live, &[1, 2, 3]).await;
    sql(
        &alice,
        &format!("UPDATE {ns}.todos SET title = 'Buy oat milk' WHERE id = 1"),
        None,
    )
    .await;
    let after_update = until_ids(&mut live, &[1, 2, 3]).await;
    sql(
        &alice,
        &format!("DELETE FROM {ns}.todos WHERE id = 2"),
        None,
    )
    .await;
    let checkpoint = until_ids(&mut live, &[1, 3]).await.or(after_update);
    live.close().await.unwrap();
    // Bob's live view holds only his own row.
    let mut bob_live = bob
        .live(&format!("SELECT id, title FROM {ns}.todos"))
        .await
        .unwrap();
    until_ids(&mut bob_live, &[1]).await;
    bob_live.close().await.unwrap();

    // Resume with `from`: only rows changed after the checkpoint come back.
    let from = checkpoint.expect("a SeqId after the delete");
    sql(
        &alice,
        &format!("INSERT INTO {ns}.todos (id, title) VALUES (4, 'After checkpoint')"),
        None,
    )
    .await;
    let config = SubscriptionConfig {
        options: Some(SubscriptionOptions::new().with_from(from)),
        ..SubscriptionConfig::new("resume_1", format!("SELECT id, title FROM {ns}.todos"))
    };
    let mut resumed = alice
        .live_with_config(config, LiveRowsConfig::default())
        .await
        .unwrap();
    until_ids(&mut resumed, &[4]).await;
    resumed.close().await.unwrap();

    // Topic consume and ack with a consumer group.
    let mut consumer = admin
        .consumer()
        .group_id("workers")
        .topic(format!("{ns}.todo_events"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let records = consumer.poll().await.unwrap();
        if records.is_empty() {
            break;
        }
        for r in &records {
            let row: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            seen.push((
                r.offset,
                row["title"].as_str().unwrap_or_default().to_owned(),
            ));
            consumer.mark_processed(r);
        }
    }
    let titles_seen: Vec<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        titles_seen,
        [
            "Buy milk",
            "Call Bob",
            "Bob only",
            "Water plants",
            "After checkpoint"
        ]
    );
    consumer.commit_sync().await.unwrap();
    consumer.close().await.unwrap();
    // A new consumer of the same group starts after the committed offset: nothing is left.
    let mut again = admin
        .consumer()
        .group_id("workers")
        .topic(format!("{ns}.todo_events"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    assert!(again.poll().await.unwrap().is_empty());
    again.close().await.unwrap();

    admin.disconnect().await;
    alice.disconnect().await;
    bob.disconnect().await;
}
