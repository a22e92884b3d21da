//! The compile-time checked macros against a real server (the emulator over loopback, or
//! `KALAMDB_SERVER_URL`): queries are checked against the workspace's `schemas/` while this
//! file compiles, then run, and the typed results are asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kalam_client::types::Timestamp;
use kalam_client::{
    KalamRow, KalamTable, TableKind, execute_as, live, query, query_as, query_scalar,
};
use kalam_tests::{server_or_skip, unique_suffix};
use support::admin_client;

#[derive(Debug, KalamRow, PartialEq)]
#[kalam(table = "support.messages")]
struct Message {
    id: i64,
    room: String,
    #[kalam(rename = "body")]
    text: String,
    created_at: Timestamp,
    #[kalam(skip)]
    seen: bool,
}

#[derive(Debug, KalamRow)]
struct RoomHead {
    name: String,
    title: String,
}

#[derive(Debug, KalamRow)]
#[kalam(table = "support.rooms")]
struct Room {
    #[kalam(flatten)]
    head: RoomHead,
    archived: bool,
    created_by: Option<String>,
    #[kalam(default)]
    unread: i64,
}

#[tokio::test]
async fn query_and_query_as_decode_typed_rows() {
    let server = server_or_skip!();
    server.apply_example_schemas().await;
    let client = admin_client(&server);
    let room = format!("r{}", unique_suffix());

    let inserted = query!(
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, $3, $4), ($5, $2, $3, $6)",
        1_i64,
        &room,
        "user",
        "hello",
        2_i64,
        "again"
    )
    .execute(&client)
    .await
    .unwrap();
    assert_eq!(inserted, 2);

    let rows = query!(
        "SELECT id, body, created_at FROM support.messages WHERE room = $1 ORDER BY id",
        room.as_str()
    )
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].id, rows[0].body.as_str()), (1, "hello"));
    assert_eq!((rows[1].id, rows[1].body.as_str()), (2, "again"));
    assert!(rows[0].created_at.as_millis() > 0);

    let messages: Vec<Message> = query_as!(
        Message,
        "SELECT id, room, body, created_at FROM support.messages WHERE room = $1 ORDER BY id",
        &room
    )
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].text, "again");
    assert_eq!(messages[1].room, room);
    assert!(!messages[1].seen);
    assert_eq!(Message::KIND, TableKind::User);
    assert_eq!(Message::PRIMARY_KEY, Some("id"));

    let n: i64 = query_scalar!(
        "SELECT COUNT(*) AS n FROM support.messages WHERE room = $1",
        &room
    )
    .fetch_scalar(&client)
    .await
    .unwrap();
    assert_eq!(n, 2);

    let missing = query_as!(
        Message,
        "SELECT id, room, body, created_at FROM support.messages WHERE room = $1",
        "no such room"
    )
    .fetch_optional(&client)
    .await
    .unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn flatten_default_and_overrides_against_a_shared_table() {
    let server = server_or_skip!();
    server.apply_example_schemas().await;
    let client = admin_client(&server);
    let name = format!("room{}", unique_suffix());

    query!(
        "INSERT INTO support.rooms (name, title) VALUES ($1, $2)",
        &name,
        "Lobby"
    )
    .execute(&client)
    .await
    .unwrap();

    let room = query_as!(
        Room,
        "SELECT name, title, archived, created_by FROM support.rooms WHERE name = $1",
        &name
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(room.head.name, name);
    assert_eq!(room.head.title, "Lobby");
    assert!(!room.archived);
    assert_eq!(room.created_by.as_deref(), Some("admin"));
    assert_eq!(room.unread, 0);
    assert_eq!(Room::KIND, TableKind::Shared);

    // `"by!"` overrides the nullable column to a plain String.
    let row = query!(
        r#"SELECT created_by AS "by!", title AS "title?" FROM support.rooms WHERE name = $1"#,
        &name
    )
    .fetch_one(&client)
    .await
    .unwrap();
    let by: String = row.by;
    let title: Option<String> = row.title;
    assert_eq!((by.as_str(), title.as_deref()), ("admin", Some("Lobby")));

    // Reading a SHARED table as another user is allowed (writing is a compile error).
    let as_alice = execute_as!(
        "alice",
        "SELECT name FROM support.rooms WHERE name = $1",
        &name
    )
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(as_alice.len(), 1);
}

#[tokio::test]
async fn execute_as_writes_into_the_target_users_partition() {
    let server = server_or_skip!();
    server.apply_example_schemas().await;
    let client = admin_client(&server);
    let room = format!("x{}", unique_suffix());
    execute_as!(
        "alice",
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, $3, $4)",
        10_i64,
        &room,
        "user",
        "from alice"
    )
    .execute(&client)
    .await
    .unwrap();
    let mine = query!("SELECT id FROM support.messages WHERE room = $1", &room)
        .fetch_all(&client)
        .await
        .unwrap();
    assert!(
        mine.is_empty(),
        "admin's partition must not hold alice's row"
    );
    let hers = execute_as!(
        "alice",
        "SELECT body FROM support.messages WHERE room = $1",
        &room
    )
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(hers.len(), 1);
    assert_eq!(hers[0].body, "from alice");
}

#[test]
fn live_renders_typed_values_as_literals() {
    let client = kalam_client::KalamClient::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let room = "it's";
    let live = live!(
        client,
        Message,
        "SELECT * FROM support.messages WHERE room = {room} AND id > {5_i64}"
    )
    .unwrap();
    assert_eq!(
        live.sql(),
        "SELECT * FROM support.messages WHERE room = 'it''s' AND id > 5"
    );
}
