//! The compile-time checked macros against a real server (the emulator over loopback, or
//! `KALAMDB_SERVER_URL`): queries are checked against the workspace's `schemas/` while this
//! file compiles, then run, and the typed results are asserted. Each test applies the schema
//! files it needs under fresh namespaces and runs the queries there through
//! `KalamClientBuilder::map_namespace`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LiveRows, LiveRowsConfig, LiveRowsEvent, LoadState};
use kalam_client::types::Timestamp;
use kalam_client::{
    KalamRow, KalamTable, TableKind, execute_as, live, query, query_as, query_file, query_file_as,
    query_scalar,
};
use kalam_tests::{TestUser, server_or_skip, unique_suffix};
use support::{admin_builder, schema_client, user_builder};

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
    let client = schema_client(&server, &["support"]).await;
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
    let client = schema_client(&server, &["support"]).await;
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
    assert_eq!(
        room.created_by.as_deref(),
        Some(server.admin_credentials().0)
    );
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
    assert_eq!(
        (by.as_str(), title.as_deref()),
        (server.admin_credentials().0, Some("Lobby"))
    );

    // Every verb decodes every row: a NULL in a later row of a `"by!"` column is an error
    // for query_scalar! too, not only for fetch_all (the first row alone would decode).
    let later = format!("{name}z");
    query!(
        "INSERT INTO support.rooms (name, title, created_by) VALUES ($1, $2, NULL)",
        &later,
        "Later"
    )
    .execute(&client)
    .await
    .unwrap();
    let scalar = query_scalar!(
        r#"SELECT created_by AS "by!" FROM support.rooms WHERE name = $1 OR name = $2 ORDER BY name"#,
        &name,
        &later
    )
    .fetch_scalar(&client)
    .await;
    assert!(
        matches!(&scalar, Err(kalam_client::Error::Decode { .. })),
        "{scalar:?}"
    );
    let first = query!(
        r#"SELECT created_by AS "by!" FROM support.rooms WHERE name = $1 OR name = $2 ORDER BY name"#,
        &name,
        &later
    )
    .fetch_optional(&client)
    .await;
    assert!(
        matches!(&first, Err(kalam_client::Error::Decode { .. })),
        "{first:?}"
    );

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
    let ns = server.fresh_schema("support").await;
    let mapped =
        |b: kalam_client::KalamClientBuilder| b.map_namespace("support", &ns).build().unwrap();
    let client = mapped(admin_builder(&server));
    let alice = server.create_user("alice", "user").await;
    let bob = server.create_user("bob", "user").await;
    execute_as!(
        &alice.id,
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, $3, $4)",
        10_i64,
        "lobby",
        "user",
        "from alice"
    )
    .execute(&client)
    .await
    .unwrap();
    let read = |who: &TestUser| {
        let client = mapped(user_builder(&server, who));
        async move {
            query_as!(
                MessageBody,
                "SELECT body FROM support.messages WHERE room = $1",
                "lobby"
            )
            .fetch_all(&client)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.body)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(read(&alice).await, ["from alice"]);
    assert!(
        read(&bob).await.is_empty(),
        "bob's partition must not hold alice's row"
    );
    let as_alice = execute_as!(
        &alice.id,
        "SELECT body FROM support.messages WHERE room = $1",
        "lobby"
    )
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(
        as_alice.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(),
        ["from alice"]
    );
}

#[derive(Debug, KalamRow)]
struct MessageBody {
    body: String,
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
    );
    assert_eq!(
        live.sql().unwrap(),
        "SELECT * FROM support.messages WHERE room = 'it''s' AND id > 5"
    );
    // A value with no literal form is reported when subscribing, not at expansion.
    let nan = live!(
        client,
        TypedId,
        "SELECT * FROM types.all_types WHERE f64 > {f64::NAN}"
    );
    assert!(nan.sql().is_err(), "{nan:?}");
}

/// Reads only the key of `types.all_types` (a `SELECT *` live query may be read in part).
#[derive(Debug, KalamRow)]
#[allow(dead_code, reason = "only its column list is used")]
struct TypedId {
    id: i64,
}

#[derive(Debug, KalamRow, PartialEq)]
#[kalam(table = "support.messages")]
struct InboxItem {
    id: i64,
    room: String,
    body: String,
}

/// The next live event, failing the test if none arrives in time.
async fn next_event<T: KalamRow>(live: &mut LiveRows<T>) -> LiveRowsEvent<T> {
    tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("no live event within 10 s")
        .expect("the live stream ended")
        .unwrap()
}

#[tokio::test]
async fn live_streams_typed_rows_of_the_filtered_room() {
    let server = server_or_skip!();
    let client = schema_client(&server, &["support"]).await;
    let room = format!("live{}", unique_suffix());
    let other = format!("other{}", unique_suffix());
    query!(
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, 'user', 'first'), ($3, $4, 'user', 'elsewhere')",
        1_i64,
        &room,
        2_i64,
        &other
    )
    .execute(&client)
    .await
    .unwrap();

    let mut inbox = live!(
        client,
        InboxItem,
        "SELECT id, room, body FROM support.messages WHERE room = {room}"
    )
    .with_config(LiveRowsConfig::new().with_limit(10))
    .await
    .unwrap();
    while inbox.state() != LoadState::Ready {
        next_event(&mut inbox).await;
    }
    let loaded: Vec<&InboxItem> = inbox.rows().collect();
    assert_eq!(
        loaded,
        [&InboxItem {
            id: 1,
            room: room.clone(),
            body: "first".into()
        }]
    );

    // A row in another room is filtered out by the server; the next event is ours.
    query!(
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, 'user', 'not mine')",
        3_i64,
        &other
    )
    .execute(&client)
    .await
    .unwrap();
    query!(
        "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, 'agent', 'second')",
        4_i64,
        &room
    )
    .execute(&client)
    .await
    .unwrap();
    let event = next_event(&mut inbox).await;
    let LiveChange::Inserted(row) = event.change else {
        panic!("{event:?}")
    };
    assert_eq!((row.id, row.body.as_str()), (4, "second"));
    assert_eq!(
        inbox.rows().map(|m| m.id).collect::<Vec<_>>(),
        [1, 4],
        "only the filtered room's rows are in the set"
    );

    // `.subscribe()` is the spelled-out form of awaiting; a typed order from the config.
    let mut again = live!(
        client,
        InboxItem,
        "SELECT id, room, body FROM support.messages WHERE room = {room} AND id >= {1_i64}"
    )
    .with_config(LiveRowsConfig::new().order_by_desc(|m: &InboxItem| m.id))
    .subscribe()
    .await
    .unwrap();
    while again.state() != LoadState::Ready {
        next_event(&mut again).await;
    }
    assert_eq!(again.rows().map(|m| m.id).collect::<Vec<_>>(), [4, 1]);
}

#[derive(Debug, KalamRow)]
struct MessageHead {
    id: i64,
    body: String,
}

#[derive(Debug, KalamRow)]
struct MessageInRoom {
    #[kalam(flatten)]
    head: MessageHead,
    title: String,
}

#[derive(Debug, KalamRow, PartialEq)]
struct RoomRow {
    name: String,
    title: String,
    archived: bool,
    created_by: Option<String>,
}

/// The shapes of the trybuild pass cases (joins, aggregates, GROUP BY, query files,
/// flatten over a join, overrides), each run and its typed fields asserted.
#[tokio::test]
async fn joins_aggregates_and_query_files_return_typed_rows() {
    let server = server_or_skip!();
    let client = schema_client(&server, &["support"]).await;
    let room = format!("j{}", unique_suffix());
    let empty = format!("e{}", unique_suffix());
    for (name, title) in [(&room, "Busy"), (&empty, "Quiet")] {
        query!(
            "INSERT INTO support.rooms (name, title) VALUES ($1, $2)",
            name,
            title
        )
        .execute(&client)
        .await
        .unwrap();
    }
    query!(
        "INSERT INTO support.messages (id, room, role, body) VALUES (1, $1, 'user', 'a'), (2, $1, 'agent', 'b'), (3, $1, 'user', 'c')",
        &room
    )
    .execute(&client)
    .await
    .unwrap();

    // Inner join: every column typed from its table.
    let joined = query!(
        "SELECT m.id, m.body, r.title FROM support.messages m JOIN support.rooms r ON r.name = m.room WHERE m.room = $1 AND m.role = $2 ORDER BY m.id",
        &room,
        "user"
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let got: Vec<(i64, &str, &str)> = joined
        .iter()
        .map(|r| (r.id, r.body.as_str(), r.title.as_str()))
        .collect();
    assert_eq!(got, [(1, "a", "Busy"), (3, "c", "Busy")]);

    // Left join: the right side's columns become Option.
    let lonely = query!(
        "SELECT r.name, m.body FROM support.rooms r LEFT JOIN support.messages m ON m.room = r.name WHERE r.name = $1",
        &empty
    )
    .fetch_one(&client)
    .await
    .unwrap();
    let body: Option<String> = lonely.body;
    assert_eq!((lonely.name.as_str(), body), (empty.as_str(), None));

    // Aggregates: COUNT is never NULL; MAX/SUM are NULL over no rows.
    let agg = query!(
        "SELECT COUNT(*) AS n, MAX(id) AS top, SUM(id) AS total FROM support.messages WHERE room = $1",
        &room
    )
    .fetch_one(&client)
    .await
    .unwrap();
    let (n, top, total): (i64, Option<i64>, Option<i64>) = (agg.n, agg.top, agg.total);
    assert_eq!((n, top, total), (3, Some(3), Some(6)));
    let none = query!(
        "SELECT COUNT(*) AS n, MAX(id) AS top FROM support.messages WHERE room = $1",
        &empty
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!((none.n, none.top), (0, None));

    // GROUP BY.
    let by_role = query!(
        "SELECT role, COUNT(*) AS n FROM support.messages WHERE room = $1 GROUP BY role ORDER BY role",
        &room
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let got: Vec<(&str, i64)> = by_role.iter().map(|r| (r.role.as_str(), r.n)).collect();
    assert_eq!(got, [("agent", 1), ("user", 2)]);

    // query_scalar! over an aggregate.
    let users: i64 = query_scalar!(
        "SELECT COUNT(*) AS n FROM support.messages WHERE room = $1 AND role = $2",
        &room,
        "user"
    )
    .fetch_scalar(&client)
    .await
    .unwrap();
    assert_eq!(users, 2);

    // query_file! and query_file_as!: SQL kept in .sql files, checked the same way.
    let from_file = query_file!("tests/macros-queries/messages_in_room.sql", &room)
        .fetch_all(&client)
        .await
        .unwrap();
    let got: Vec<(i64, &str, &str)> = from_file
        .iter()
        .map(|r| (r.id, r.role.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(got, [(1, "user", "a"), (2, "agent", "b"), (3, "user", "c")]);
    let busy: RoomRow = query_file_as!(RoomRow, "tests/macros-queries/room_by_name.sql", &room)
        .fetch_one(&client)
        .await
        .unwrap();
    assert_eq!(
        busy,
        RoomRow {
            name: room.clone(),
            title: "Busy".into(),
            archived: false,
            // The signed-in user (the default of the column): `admin` on the emulator, the
            // configured user on a real server.
            created_by: Some(server.admin_credentials().0.to_owned()),
        }
    );

    // query_as! with a flattened head over a join.
    let flat = query_as!(
        MessageInRoom,
        "SELECT m.id, m.body, r.title FROM support.messages m JOIN support.rooms r ON r.name = m.room WHERE m.room = $1 ORDER BY m.id DESC",
        &room
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let got: Vec<(i64, &str, &str)> = flat
        .iter()
        .map(|r| (r.head.id, r.head.body.as_str(), r.title.as_str()))
        .collect();
    assert_eq!(got, [(3, "c", "Busy"), (2, "b", "Busy"), (1, "a", "Busy")]);

    // UPDATE and DELETE report the rows they touched. A statement without output columns
    // has no record type: its rows are `()`.
    let update: kalam_client::CheckedQuery<()> = query!(
        "UPDATE support.rooms SET archived = $1 WHERE name = $2",
        true,
        &empty
    );
    let archived = update.execute(&client).await.unwrap();
    assert_eq!(archived, 1);
    let flag: bool = query_scalar!("SELECT archived FROM support.rooms WHERE name = $1", &empty)
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert!(flag);
    let deleted = query!(
        "DELETE FROM support.messages WHERE room = $1 AND role = $2",
        &room,
        "agent"
    )
    .execute(&client)
    .await
    .unwrap();
    assert_eq!(deleted, 1);
}

/// Every parameter type of the `types.all_types` table bound through `query!` and read back
/// through `query!`'s record, field by field.
#[tokio::test]
async fn every_column_type_round_trips_through_query() {
    use kalam_client::types::{Date, Decimal, JsonValue, Time, Uuid};

    let server = server_or_skip!();
    let client = schema_client(&server, &["types"]).await;
    let ts: Timestamp = "2025-06-01T00:00:05.123456Z".parse().unwrap();
    let d = Date::from_ymd(2025, 6, 1).unwrap();
    let t = Time::from_hms_micro(12, 34, 56, 1).unwrap();
    let u: Uuid = "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11".parse().unwrap();
    let dec: Decimal = "-12.35".parse().unwrap();
    let j: JsonValue = serde_json::json!({"a": [1, 2], "s": "x\"y"});
    query!(
        "INSERT INTO types.all_types (id, b, i16, i32, i64, f32, f64, dec, txt, ts, d, t, u, j, bin, emb, opt_int) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        7_i64,
        true,
        i16::MIN,
        i32::MAX,
        9_007_199_254_740_993_i64,
        0.25_f32,
        -2.5e-300_f64,
        dec,
        "héllo ✓",
        ts,
        d,
        t,
        u,
        j.clone(),
        b"hi".to_vec(),
        vec![0.25_f32, -1.0, 0.5],
        None::<i32>
    )
    .execute(&client)
    .await
    .unwrap();
    let row = query!(
        "SELECT b, i16, i32, i64, f32, f64, dec, txt, ts, d, t, u, j, bin, emb, opt_text, opt_int FROM types.all_types WHERE id = $1",
        7_i64
    )
    .fetch_one(&client)
    .await
    .unwrap();
    let b: bool = row.b;
    let small: i16 = row.i16;
    let int: i32 = row.i32;
    let big: i64 = row.i64;
    let f: f32 = row.f32;
    let g: f64 = row.f64;
    assert_eq!(
        (b, small, int, big),
        (true, i16::MIN, i32::MAX, 9_007_199_254_740_993)
    );
    assert_eq!((f, g), (0.25, -2.5e-300));
    assert_eq!(row.dec, dec);
    assert_eq!(row.txt, "héllo ✓");
    assert_eq!((row.ts, row.d, row.t, row.u), (ts, d, t, u));
    assert_eq!(row.j, j);
    assert_eq!(row.bin, b"hi");
    assert_eq!(row.emb, [0.25, -1.0, 0.5]);
    let (opt_text, opt_int): (Option<String>, Option<i32>) = (row.opt_text, row.opt_int);
    assert_eq!((opt_text, opt_int), (None, None));

    // Records of up to 16 columns decode through the tuple decoder, wider ones field by field
    // (the 17 columns above): a tuple-decoded record reads the same values.
    let narrow = query!(
        "SELECT b, i16, i32, i64, f32, f64, dec, txt, ts, d, t, u, j, bin, emb, opt_int FROM types.all_types WHERE id = $1",
        7_i64
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(
        (narrow.b, narrow.i16, narrow.i32, narrow.i64),
        (true, i16::MIN, i32::MAX, 9_007_199_254_740_993)
    );
    assert_eq!((narrow.f32, narrow.f64, narrow.dec), (0.25, -2.5e-300, dec));
    assert_eq!(
        (narrow.txt.as_str(), narrow.ts, narrow.d, narrow.t, narrow.u),
        ("héllo ✓", ts, d, t, u)
    );
    assert_eq!(
        (narrow.j, narrow.bin, narrow.emb),
        (j, b"hi".to_vec(), vec![0.25, -1.0, 0.5])
    );
    assert_eq!(narrow.opt_int, None);

    // A value that passes the type check but has no wire form (NaN for DOUBLE) is a typed
    // error naming its 1-based parameter; the statement is never sent.
    let nan = query!(
        "SELECT id FROM types.all_types WHERE id = $1 AND f64 = $2",
        7_i64,
        f64::NAN
    )
    .fetch_all(&client)
    .await;
    assert!(
        matches!(&nan, Err(kalam_client::Error::Param { index: 2, .. })),
        "{nan:?}"
    );
}

/// `map_namespace` renames exactly the identifiers that name the namespace: in `ns.table` and
/// `ns.table.column`, not an alias or a string literal spelled the same.
#[tokio::test]
async fn mapped_namespaces_rename_only_namespace_identifiers() {
    let server = server_or_skip!();
    let client = schema_client(&server, &["support"]).await;
    query!(
        "INSERT INTO support.rooms (name, title) VALUES ($1, $2)",
        "hall",
        "Hall"
    )
    .execute(&client)
    .await
    .unwrap();
    let row = query!(
        "SELECT support.rooms.title, 'support.rooms' AS literal FROM support.rooms WHERE support.rooms.name = $1",
        "hall"
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(
        (row.title.as_str(), row.literal.as_str()),
        ("Hall", "support.rooms")
    );
    let aliased = query!(
        "SELECT support.name FROM support.rooms AS support WHERE support.title = $1",
        "Hall"
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(aliased.name, "hall");
    // The text as checked is kept (the runtime query too); the client renames the
    // namespace when it sends it, as the fetch above shows.
    let q = query!("SELECT name FROM support.rooms WHERE title = $1", "Hall");
    assert_eq!(q.sql(), "SELECT name FROM support.rooms WHERE title = $1");
    let runtime = q.query();
    assert_eq!(
        runtime.sql(),
        "SELECT name FROM support.rooms WHERE title = $1"
    );
    let again = runtime.fetch_one(&client).await.unwrap();
    assert_eq!(again.name, "hall");
}

/// Inserts messages `base + 1 ..= base + n` into `room`; message `i` was created `(i * 37) %
/// 10007` seconds after a fixed instant (distinct, and unrelated to the key's order).
async fn messages(client: &kalam_client::KalamClient, ns: &str, room: &str, base: i64, n: i64) {
    let rows = (1..=n).map(|i| {
        let at = Timestamp::from_micros(created_offset(i) * 1_000_000 + 1_748_736_000_000_000);
        format!("({}, '{room}', 'user', 'm{i}', '{at}')", base + i)
    });
    support::insert_rows(
        client,
        &format!("{ns}.messages (id, room, role, body, created_at)"),
        rows,
    )
    .await;
}

fn created_offset(i: i64) -> i64 {
    (i * 37) % 10007
}

/// A key range of its own for each test, so that runs on a shared server do not collide.
fn id_base() -> i64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    i64::from(nanos) * 1_000_000 + i64::from(std::process::id() % 1000) * 10_000
}

#[tokio::test]
async fn checked_fetch_all_returns_every_row_in_the_order_asked() {
    let server = server_or_skip!();
    let ns = server.fresh_schema("support").await;
    let client = admin_builder(&server)
        .map_namespace("support", &ns)
        .build()
        .unwrap();
    let (small, big) = (
        format!("r{}", unique_suffix()),
        format!("r{}", unique_suffix()),
    );
    let base = id_base();
    messages(&client, &ns, &small, base, 60).await;
    messages(&client, &ns, &big, base + 100, 2500).await;

    // Every row, beyond the implicit LIMIT 50 and the 1,000-row cap.
    for (room, n) in [(&small, 60), (&big, 2500)] {
        let all: Vec<Message> = query_as!(
            Message,
            "SELECT id, room, body, created_at FROM support.messages WHERE room = $1",
            room
        )
        .fetch_all(&client)
        .await
        .unwrap();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|m| &m.room == room));
        let count = query_scalar!(
            "SELECT COUNT(*) AS n FROM support.messages WHERE room = $1",
            room
        )
        .fetch_scalar(&client)
        .await
        .unwrap();
        assert_eq!(count, i64::try_from(n).unwrap());
    }

    // The order asked, by the key or by a column that is not selected.
    let last = query!(
        "SELECT id FROM support.messages WHERE room = $1 ORDER BY id DESC LIMIT 3",
        &small
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let last: Vec<i64> = last.iter().map(|r| r.id).collect();
    assert_eq!(last, [base + 60, base + 59, base + 58]);
    let newest = query!(
        "SELECT id FROM support.messages WHERE room = $1 ORDER BY id DESC LIMIT 1",
        &small
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(newest.id, base + 60);
    let mut by_created: Vec<i64> = (1..=60).collect();
    by_created.sort_by_key(|i| created_offset(*i));
    let oldest = query!(
        "SELECT id FROM support.messages WHERE room = $1 ORDER BY created_at LIMIT 3",
        &small
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let oldest: Vec<i64> = oldest.iter().map(|r| r.id - base).collect();
    assert_eq!(oldest, by_created[..3]);
    let latest = query!(
        "SELECT id, created_at FROM support.messages WHERE room = $1 ORDER BY created_at DESC",
        &small
    )
    .fetch_all(&client)
    .await
    .unwrap();
    let latest: Vec<i64> = latest.iter().map(|r| r.id - base).collect();
    assert_eq!(latest, by_created.iter().rev().copied().collect::<Vec<_>>());

    // Streamed, page by page, in key order across the pages.
    let mut stream = query!(
        "SELECT id, body FROM support.messages WHERE room = $1 ORDER BY id DESC",
        &big
    )
    .fetch(&client);
    let mut expected = base + 100 + 2500;
    while let Some(row) = stream.next().await {
        let row = row.unwrap();
        assert_eq!(row.id, expected);
        assert_eq!(row.body, format!("m{}", expected - base - 100));
        expected -= 1;
    }
    assert_eq!(expected, base + 100);

    // Ordered by another column past the cap: a typed error, not 1,000 rows.
    let err = query!(
        "SELECT id FROM support.messages WHERE room = $1 ORDER BY created_at",
        &big
    )
    .fetch_all(&client)
    .await
    .unwrap_err();
    assert!(
        matches!(err, kalam_client::Error::Truncated { limit: 1000, .. }),
        "{err}"
    );
}

/// Functions and operators the engine plans (from its function catalog), run through `query!`:
/// each value is checked against what the SQL means for the row that was written. The
/// `CAST(f64 AS INT)` column is reported by the server with its source column's type (DOUBLE,
/// protocol 1.7) while `query!` types it INT: the computed column's reported type is not held
/// against it.
#[tokio::test]
async fn engine_functions_run_through_query() {
    use kalam_client::types::{Date, Decimal, Time, Uuid};

    let server = server_or_skip!();
    let client = schema_client(&server, &["types"]).await;
    let id = 11;
    let ts: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
    query!("DELETE FROM types.all_types WHERE id = $1", id)
        .execute(&client)
        .await
        .unwrap();
    query!(
        "INSERT INTO types.all_types (id, b, i16, i32, i64, f32, f64, dec, txt, ts, d, t, u, j, bin, emb) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        id,
        true,
        3_i16,
        -4_i32,
        5_i64,
        0.5_f32,
        2.75_f64,
        "1.50".parse::<Decimal>().unwrap(),
        "Hello",
        ts,
        Date::from_ymd(2026, 12, 24).unwrap(),
        Time::from_hms_micro(1, 2, 3, 0).unwrap(),
        "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11".parse::<Uuid>().unwrap(),
        serde_json::json!({"a": 7, "tag": "x"}),
        b"hi".to_vec(),
        vec![0.25_f32, -1.0, 0.5]
    )
    .execute(&client)
    .await
    .unwrap();
    let row = query!(
        "SELECT GREATEST(i64, 10) AS g, LEAST(i32, 0) AS l, DATE_PART('year', ts) AS y,
                j->>'tag' AS tag, JSON_GET_INT(j, 'a') AS a, JSON_CONTAINS(j, 'nope') AS has,
                CEIL(f64) AS up, LEFT(txt, 2) AS head, STRPOS(txt, 'l') AS at,
                CONCAT_WS('-', txt, txt) AS twice, CAST(f64 AS INT) AS whole,
                ARRAY[1, 2] AS pair
         FROM types.all_types WHERE id = $1",
        id
    )
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(row.g, Some(10));
    assert_eq!(row.l, Some(-4));
    assert_eq!(row.y, 2026);
    assert_eq!(row.tag.as_deref(), Some("x"));
    assert_eq!(row.a, Some(7));
    assert_eq!(row.has, Some(false));
    assert_eq!(row.up, Some(3.0));
    assert_eq!(row.head.as_deref(), Some("He"));
    assert_eq!(row.at, 3);
    assert_eq!(row.twice.as_deref(), Some("Hello-Hello"));
    // A float cast to an integer drops the fraction.
    assert_eq!(row.whole, 2);
    // BIGINT elements are sent as strings, like every BIGINT cell (protocol 1.8).
    assert_eq!(row.pair, Some(serde_json::json!(["1", "2"])));
    query!("DELETE FROM types.all_types WHERE id = $1", id)
        .execute(&client)
        .await
        .unwrap();
}
