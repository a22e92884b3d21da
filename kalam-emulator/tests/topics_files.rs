//! Topics (protocol 5) and FILE uploads/downloads (protocol 6) over real loopback HTTP
//! against the emulator, including the vectors H21 and H22.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use kalam_emulator::{Emulator, Role};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::Digest;

mod common;
use common::{Client, Resp, strip_took};

fn err_env(code: &str, message: &str) -> Value {
    json!({"status": "error", "results": [], "error": {"code": code, "message": message}})
}

fn payload(m: &Value) -> Value {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(m["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

/// The message minus `payload` and `timestamp_ms` (checked to be an integer).
fn envelope(m: &Value) -> Value {
    let mut m = m.clone();
    let o = m.as_object_mut().unwrap();
    assert!(o.remove("timestamp_ms").unwrap().is_u64());
    assert!(o.remove("payload").unwrap().is_string());
    m
}

struct Fixture {
    emu: Emulator,
    c: Client,
    admin: String,
    alice: String,
    bob: String,
}

async fn fixture(builder: kalam_emulator::EmulatorBuilder) -> Fixture {
    let emu = builder
        .user("admin", "AdminPass123!", Role::Dba)
        .user("alice", "AlicePass1!", Role::User)
        .user("bob", "BobPass1!", Role::User)
        .user("svc", "SvcPass1!", Role::Service)
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let admin = c.login("admin", "AdminPass123!").await;
    let alice = c.login("alice", "AlicePass1!").await;
    let bob = c.login("bob", "BobPass1!").await;
    c.ok(&admin, "CREATE NAMESPACE app").await;
    Fixture {
        emu,
        c,
        admin,
        alice,
        bob,
    }
}

const TODOS: &str = "CREATE TABLE app.todos (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), \
    title TEXT NOT NULL, done BOOLEAN NOT NULL DEFAULT false, due_at TIMESTAMP, \
    price DECIMAL(10, 2)) WITH (TYPE = 'USER')";

#[tokio::test]
async fn h21_consume_ack_and_errors() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin, alice) = (&f.c, &f.admin, &f.alice);
    c.ok(admin, TODOS).await;
    c.ok(admin, "CREATE TOPIC app.todo_events").await;
    // The grammar has no IF NOT EXISTS: the server takes `IF` for the topic name and refuses
    // it as unqualified, whether the topic exists or not.
    for sql in [
        "CREATE TOPIC IF NOT EXISTS app.todo_events",
        "CREATE TOPIC IF NOT EXISTS app.other_events PARTITIONS 2",
        "CREATE TOPIC todo_events",
    ] {
        let r = c.sql(admin, sql).await;
        assert_eq!(r.status, 400, "{sql}");
        assert_eq!(
            r.body["error"],
            json!({"code": "SQL_EXECUTION_ERROR",
                   "message": "Statement 1 failed: Invalid operation: Topic name must be namespace-qualified: <namespace>.<topic>",
                   "details": sql}),
            "{sql}"
        );
    }
    let r = c
        .ok(
            admin,
            "ALTER TOPIC app.todo_events ADD SOURCE app.todos ON INSERT WITH (payload = 'full')",
        )
        .await;
    assert_eq!(
        r["results"][0]["message"],
        "Added source app.todos ON Insert to topic 'app.todo_events'"
    );
    c.ok(
        alice,
        "INSERT INTO app.todos (id, title, due_at, price) VALUES (1, 'Buy milk', \
         '2025-06-02T00:00:00Z', 3.50)",
    )
    .await;
    let seq = c
        .rows(alice, "SELECT _seq FROM app.todos WHERE id = 1")
        .await[0][0]
        .clone();

    let body = json!({"topic_id": "app.todo_events", "group_id": "g1", "start": "Earliest",
                      "limit": 10, "partition_id": 0});
    let r = c.consume(admin, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msgs = r.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        envelope(&msgs[0]),
        json!({"topic_id": "app.todo_events", "partition_id": 0, "offset": 0, "key": "1",
               "user": "alice", "op": "Insert"})
    );
    let mut p = payload(&msgs[0]);
    let commit_seq = p.as_object_mut().unwrap().remove("_commit_seq").unwrap();
    assert!(
        commit_seq.as_str().unwrap().parse::<u64>().is_ok(),
        "{commit_seq}"
    );
    assert_eq!(
        p,
        json!({"done": false, "due_at": 1_748_822_400_000_000_i64, "title": "Buy milk",
               "_deleted": false, "_table": "app:todos", "_seq": seq, "price": "3.50", "id": "1"})
    );
    assert_eq!(r.body["next_offset"], 1);
    assert_eq!(r.body["has_more"], false);

    assert_eq!(
        c.ack(admin, "app.todo_events", "g1", 0, 0).await,
        json!({"success": true, "acknowledged_offset": 0})
    );
    let r = c.consume(admin, body.clone()).await;
    assert_eq!(
        r.body,
        json!({"messages": [], "next_offset": 1, "has_more": false})
    );

    let r = c.consume(alice, body.clone()).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"error": "Topic consumption requires service, dba, or system role",
               "code": "FORBIDDEN"})
    );
    let mut nope = body.clone();
    nope["topic_id"] = json!("app.nope");
    let r = c.consume(admin, nope).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"error": "Topic 'app.nope' does not exist", "code": "NOT_FOUND"})
    );
    let r = c.post(None, "/v1/api/topics/consume", body.clone()).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        strip_took(r.body),
        err_env("MISSING_AUTHORIZATION", "Authentication required")
    );
    let r = c
        .consume(admin, json!({"topic_id": "app.todo_events"}))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        r.body
            .as_str()
            .unwrap()
            .starts_with("Json deserialize error: missing field `group_id`"),
        "{}",
        r.body
    );

    // Start positions of groups without a commit: lower-case offset object, LATEST.
    let r = c
        .consume(
            &c.login("svc", "SvcPass1!").await,
            json!({"topic_id": "app.todo_events", "group_id": "g2", "start": {"offset": 0}}),
        )
        .await;
    assert_eq!(r.body["messages"][0]["offset"], 0);
    let r = c
        .consume(
            admin,
            json!({"topic_id": "app.todo_events", "group_id": "g3", "start": "LATEST"}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"messages": [], "next_offset": 1, "has_more": false})
    );
    // The second insert reaches every group; g1 continues after its commit.
    c.ok(
        alice,
        "INSERT INTO app.todos (id, title) VALUES (2, 'Call Bob')",
    )
    .await;
    let r = c.consume(admin, body).await;
    let offsets: Vec<&Value> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["offset"])
        .collect();
    assert_eq!(offsets, [&json!(1)]);
    assert_eq!(payload(&r.body["messages"][0])["title"], "Call Bob");
}

#[tokio::test]
async fn ops_routes_and_key_payloads() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(
        admin,
        "CREATE TABLE app.board (id INT PRIMARY KEY, note TEXT) WITH (TYPE = 'SHARED', \
         ACCESS_LEVEL = 'PUBLIC')",
    )
    .await;
    c.ok(admin, "CREATE TOPIC app.board_events PARTITIONS 1")
        .await;
    for (op, mode) in [("UPDATE", "key"), ("DELETE", "diff")] {
        c.ok(
            admin,
            &format!(
                "ALTER TOPIC app.board_events ADD SOURCE app.board ON {op} WITH (payload = '{mode}')"
            ),
        )
        .await;
    }
    c.ok(admin, "INSERT INTO app.board (id, note) VALUES (7, 'a')")
        .await;
    c.ok(admin, "UPDATE app.board SET note = 'b' WHERE id = 7")
        .await;
    c.ok(admin, "DELETE FROM app.board WHERE id = 7").await;
    let r = c
        .consume(
            admin,
            json!({"topic_id": "app.board_events", "group_id": "g", "start": "Earliest"}),
        )
        .await;
    let msgs = r.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{}", r.body);
    assert_eq!(
        msgs.iter().map(envelope).collect::<Vec<_>>(),
        [
            json!({"topic_id": "app.board_events", "partition_id": 0, "offset": 0, "key": "7",
                   "user": "admin", "op": "Update"}),
            json!({"topic_id": "app.board_events", "partition_id": 0, "offset": 1, "key": "7",
                   "user": "admin", "op": "Delete"}),
        ]
    );
    let update = payload(&msgs[0]);
    assert_eq!(update["note"], "b");
    assert_eq!(update["id"], 7);
    assert!(update.get("_table").is_none(), "key mode has no _table");
    let delete = payload(&msgs[1]);
    assert_eq!(delete["_deleted"], true);
    assert_eq!(delete["_table"], "app:board");
}

#[tokio::test]
async fn route_where_filters_and_diff_payloads() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(admin, TODOS).await;
    c.ok(admin, "CREATE TOPIC app.open_todos").await;
    // Insert: only open todos; update: only titles starting with 'Buy'; delete: a filter the
    // live evaluator cannot evaluate (IN), so nothing is published.
    for route in [
        "ON INSERT WHERE done = false AND title <> 'skip' WITH (payload = 'full')",
        "ON UPDATE WHERE title LIKE 'Buy%' WITH (payload = 'diff')",
        "ON DELETE WHERE id IN (1, 2)",
    ] {
        c.ok(
            admin,
            &format!("ALTER TOPIC app.open_todos ADD SOURCE app.todos {route}"),
        )
        .await;
    }
    let routes = c
        .rows(
            admin,
            "SELECT routes FROM system.topics WHERE topic_id = 'app.open_todos'",
        )
        .await;
    let routes: Value = serde_json::from_str(routes[0][0].as_str().unwrap()).unwrap();
    assert_eq!(routes[0]["filter_expr"], "done = false AND title <> 'skip'");
    c.ok(
        &f.alice,
        "INSERT INTO app.todos (id, title, done) VALUES (1, 'Buy milk', false), (2, 'Done', true), (3, 'skip', false)",
    )
    .await;
    c.ok(&f.alice, "UPDATE app.todos SET price = 2.5 WHERE id = 1")
        .await;
    c.ok(
        &f.alice,
        "UPDATE app.todos SET title = 'Sell car' WHERE id = 3",
    )
    .await;
    c.ok(&f.alice, "DELETE FROM app.todos WHERE id = 1").await;
    let msgs = drain(c, admin, "app.open_todos", "g", 0).await;
    let got: Vec<(String, String)> = msgs
        .iter()
        .map(|m| {
            (
                m["op"].as_str().unwrap().to_owned(),
                m["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Insert".to_owned(), "1".to_owned()),
            ("Update".to_owned(), "1".to_owned())
        ]
    );
    // A diff payload is the whole row map with `_table`, like `full` (protocol 5.2).
    let diff = payload(&msgs[1]);
    assert_eq!(diff["_table"], "app:todos");
    assert_eq!(diff["title"], "Buy milk");
    assert_eq!(diff["price"], "2.50");
    assert_eq!(diff["done"], false);
}

/// Consumes one partition to the end with `limit`-sized polls, acking each batch.
async fn drain(c: &Client, tok: &str, topic: &str, group: &str, partition: u32) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let r = c
            .consume(
                tok,
                json!({"topic_id": topic, "group_id": group, "start": "Earliest", "limit": 3,
                       "partition_id": partition}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let msgs = r.body["messages"].as_array().unwrap().clone();
        assert_eq!(r.body["has_more"], msgs.len() == 3);
        let Some(last) = msgs.last() else {
            return all;
        };
        let upto = last["offset"].as_u64().unwrap();
        assert_eq!(r.body["next_offset"], upto + 1);
        c.ack(tok, topic, group, partition, upto).await;
        all.extend(msgs);
    }
}

#[tokio::test]
async fn two_partitions_one_consumer_each() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(
        admin,
        "CREATE TABLE app.jobs (id BIGINT PRIMARY KEY, n INT) WITH (TYPE = 'SHARED')",
    )
    .await;
    let r = c.ok(admin, "CREATE TOPIC app.jobs_t PARTITIONS 2").await;
    assert_eq!(
        r["results"][0]["message"],
        "Created topic 'app.jobs_t' with 2 partition(s)"
    );
    c.ok(
        admin,
        "ALTER TOPIC app.jobs_t ADD SOURCE app.jobs ON INSERT",
    )
    .await;
    for i in 1..=20 {
        c.ok(
            admin,
            &format!("INSERT INTO app.jobs (id, n) VALUES ({i}, {i})"),
        )
        .await;
    }
    let svc = c.login("svc", "SvcPass1!").await;
    let second = Client::new(&f.emu);
    let (p0, p1) = tokio::join!(
        drain(c, admin, "app.jobs_t", "workers", 0),
        drain(&second, &svc, "app.jobs_t", "workers", 1)
    );
    let mut keys = BTreeSet::new();
    for (p, msgs) in [(0, &p0), (1, &p1)] {
        assert!(!msgs.is_empty(), "partition {p} got no messages");
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m["partition_id"], p);
            assert_eq!(m["offset"], i as u64, "gap-free offsets from 0");
            assert!(keys.insert(m["key"].as_str().unwrap().parse::<i64>().unwrap()));
            assert_eq!(payload(m)["id"].as_str(), m["key"].as_str());
        }
    }
    assert_eq!(keys, (1..=20).collect::<BTreeSet<i64>>());
}

async fn poll(c: &Client, tok: &str, limit: u64, start: Value) -> Value {
    let body = json!({"topic_id": "app.ev_t", "group_id": "g", "start": start,
                      "limit": limit, "timeout_seconds": 30});
    c.consume(tok, body).await.body
}

#[tokio::test]
async fn restart_continues_from_committed_offset() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(
        admin,
        "CREATE TABLE app.ev (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
    )
    .await;
    c.ok(admin, "CREATE TOPIC app.ev_t").await;
    c.ok(admin, "ALTER TOPIC app.ev_t ADD SOURCE app.ev ON INSERT")
        .await;
    for i in 0..10 {
        c.ok(admin, &format!("INSERT INTO app.ev (id) VALUES ({i})"))
            .await;
    }
    let mut seen = Vec::new();
    for _ in 0..2 {
        let b = poll(c, admin, 4, json!("Earliest")).await;
        let msgs = b["messages"].as_array().unwrap();
        seen.extend(msgs.iter().map(|m| m["key"].clone()));
        c.ack(
            admin,
            "app.ev_t",
            "g",
            0,
            msgs.last().unwrap()["offset"].as_u64().unwrap(),
        )
        .await;
    }
    // A new process: new HTTP client, new login, a stale start position (ignored after a
    // commit).
    let c2 = Client::new(&f.emu);
    let tok2 = c2.login("svc", "SvcPass1!").await;
    c.ok(admin, "INSERT INTO app.ev (id) VALUES (10)").await;
    let b = poll(&c2, &tok2, 100, json!({"Offset": 0})).await;
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["offset"], 8);
    assert_eq!(b["next_offset"], 11);
    assert_eq!(b["has_more"], false);
    seen.extend(msgs.iter().map(|m| m["key"].clone()));
    let want: Vec<Value> = (0..=10).map(|i| json!(i.to_string())).collect();
    assert_eq!(seen, want, "nothing lost, nothing duplicated");
}

#[tokio::test]
async fn claims_are_disjoint_and_commits_monotonic() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(
        admin,
        "CREATE TABLE app.q (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
    )
    .await;
    c.ok(admin, "CREATE TOPIC app.q_t").await;
    c.ok(admin, "ALTER TOPIC app.q_t ADD SOURCE app.q ON INSERT")
        .await;
    for i in 0..8 {
        c.ok(admin, &format!("INSERT INTO app.q (id) VALUES ({i})"))
            .await;
    }
    let body = json!({"topic_id": "app.q_t", "group_id": "g", "start": "Earliest", "limit": 3});
    let svc = c.login("svc", "SvcPass1!").await;
    let offsets = |b: &Value| -> Vec<u64> {
        b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["offset"].as_u64().unwrap())
            .collect()
    };
    let a = c.consume(admin, body.clone()).await.body;
    let b = c.consume(&svc, body.clone()).await.body;
    assert_eq!(offsets(&a), [0, 1, 2]);
    assert_eq!(offsets(&b), [3, 4, 5]);
    assert_eq!(b["has_more"], true);
    c.ack(&svc, "app.q_t", "g", 0, 5).await;
    // A lower ack does not move the commit back.
    c.ack(admin, "app.q_t", "g", 0, 2).await;
    let rest = c.consume(admin, body.clone()).await.body;
    assert_eq!(offsets(&rest), [6, 7]);
    assert_eq!(rest["has_more"], false);
    c.ack(admin, "app.q_t", "g", 0, 7).await;
    assert_eq!(
        c.consume(&svc, body).await.body,
        json!({"messages": [], "next_offset": 8, "has_more": false})
    );
}

#[tokio::test]
async fn unacked_claims_are_redelivered_after_the_visibility_timeout() {
    let f = fixture(Emulator::builder().topic_visibility_timeout(Duration::ZERO)).await;
    let (c, admin) = (&f.c, &f.admin);
    c.ok(
        admin,
        "CREATE TABLE app.r (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
    )
    .await;
    c.ok(admin, "CREATE TOPIC app.r_t").await;
    c.ok(admin, "ALTER TOPIC app.r_t ADD SOURCE app.r ON INSERT")
        .await;
    for i in 0..5 {
        c.ok(admin, &format!("INSERT INTO app.r (id) VALUES ({i})"))
            .await;
    }
    let body = json!({"topic_id": "app.r_t", "group_id": "g", "start": "Earliest", "limit": 3});
    let first = c.consume(admin, body.clone()).await.body;
    // The consumer crashed without acking: its claim has expired, the range comes back.
    let again = c.consume(admin, body.clone()).await.body;
    assert_eq!(first["messages"], again["messages"]);
    c.ack(admin, "app.r_t", "g", 0, 2).await;
    let rest = c.consume(admin, body).await.body;
    assert_eq!(rest["messages"][0]["offset"], 3);
    assert_eq!(rest["next_offset"], 5);
}

const DOCS: &str =
    "CREATE TABLE app.docs (id BIGINT PRIMARY KEY, attachment FILE) WITH (TYPE='USER')";

fn upload_form(sql: &str, name: &str, filename: &str, data: Vec<u8>, mime: &str) -> Form {
    Form::new().text("sql", sql.to_owned()).part(
        format!("file:{name}"),
        Part::bytes(data)
            .file_name(filename.to_owned())
            .mime_str(mime)
            .unwrap(),
    )
}

fn sha_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn h22_upload_download_and_permissions() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin, alice, bob) = (&f.c, &f.admin, &f.alice, &f.bob);
    c.ok(admin, DOCS).await;
    let data = b"%PDF-1.7 test".to_vec();
    let sql = "INSERT INTO app.docs (id, attachment) VALUES (1, FILE(\"contract\"))";
    let r = c
        .multipart(
            alice,
            upload_form(
                sql,
                "contract",
                "Contract.pdf",
                data.clone(),
                "application/pdf",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        strip_took(r.body),
        json!({"status": "success", "results": [{"row_count": 1, "message": "Inserted 1 row(s)",
               "as_user": "alice"}]})
    );
    let res = c.ok(alice, "SELECT attachment FROM app.docs").await;
    assert_eq!(
        res["results"][0]["schema"],
        json!([{"name": "attachment", "data_type": "File", "index": 0}])
    );
    let cell = res["results"][0]["rows"][0][0].as_str().unwrap().to_owned();
    let fref: Value = serde_json::from_str(&cell).unwrap();
    let id = fref["id"].as_str().unwrap().to_owned();
    assert!(id.parse::<u64>().is_ok());
    assert_eq!(
        fref,
        json!({"id": id, "sub": "f0001", "name": "Contract.pdf", "size": 13,
               "mime": "application/pdf",
               "sha256": "eddc31937fbdaf708e866af0d20b9fb8c79dd001881c8a11e4c617f2882e779f"})
    );
    let path = format!("/v1/files/app/docs/f0001/{id}-contract.pdf");
    let d = c.get(Some(alice), &path).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.bytes, data);
    assert_eq!(d.headers["content-type"], "application/pdf");
    assert_eq!(
        d.headers["content-disposition"].to_str().unwrap(),
        format!("inline; filename=\"{id}-contract.pdf\"")
    );
    let r = c.sql(alice, sql).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        strip_took(r.body),
        err_env(
            "INVALID_INPUT",
            "FILE placeholders require multipart/form-data"
        )
    );

    // Download rules (protocol 6.3).
    let r = c.get(Some(bob), &path).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"error": "File not found", "code": "FILE_NOT_FOUND"})
    );
    let r = c.get(Some(admin), &format!("{path}?user_id=alice")).await;
    assert_eq!((r.status, r.bytes), (200, data.clone()));
    let r = c.get(Some(bob), &format!("{path}?user_id=alice")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        strip_took(r.body),
        err_env(
            "PERMISSION_DENIED",
            "Requested user is not allowed for the current role"
        )
    );
    let r = c.get(Some(alice), "/v1/files/app/docs/x0001/a.pdf").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        strip_took(r.body),
        err_env("INVALID_INPUT", "Invalid file path")
    );
    let r = c.get(Some(alice), "/v1/files/app/docs/f0001/..a.pdf").await;
    assert_eq!(
        strip_took(r.body),
        err_env("INVALID_INPUT", "Invalid file path")
    );
    let r = c.get(Some(alice), "/v1/files/app/nodocs/f0001/a.pdf").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"error": "Table 'app:nodocs' not found"}));
    let r = c.get(None, &path).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        strip_took(r.body),
        err_env("MISSING_AUTHORIZATION", "Authentication required")
    );
    c.ok(
        admin,
        "CREATE STREAM TABLE app.evs (id BIGINT PRIMARY KEY) WITH (TTL_SECONDS = 60)",
    )
    .await;
    let r = c.get(Some(alice), "/v1/files/app/evs/f0001/a.pdf").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "INVALID_INPUT");

    // A SHARED table: access-level read, no user_id.
    c.ok(
        admin,
        "CREATE TABLE app.pub_docs (id BIGINT PRIMARY KEY, f FILE) WITH (TYPE = 'SHARED', \
         ACCESS_LEVEL = 'PUBLIC')",
    )
    .await;
    let r = c
        .multipart(
            admin,
            upload_form(
                "INSERT INTO app.pub_docs (id, f) VALUES (1, file('x'))",
                "x",
                "notes.txt",
                b"hello".to_vec(),
                "text/plain",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cell = c.rows(bob, "SELECT f FROM app.pub_docs").await[0][0].clone();
    let fref: Value = serde_json::from_str(cell.as_str().unwrap()).unwrap();
    let spath = format!(
        "/v1/files/app/pub_docs/f0001/{}-notes.txt",
        fref["id"].as_str().unwrap()
    );
    let r = c.get(Some(bob), &spath).await;
    assert_eq!((r.status, r.bytes), (200, b"hello".to_vec()));
    assert_eq!(r.headers["content-type"], "text/plain");
    let r = c.get(Some(admin), &format!("{spath}?user_id=bob")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "INVALID_INPUT");
}

#[tokio::test]
async fn upload_errors() {
    let f = fixture(Emulator::builder().max_files_per_request(2)).await;
    let (c, admin, alice) = (&f.c, &f.admin, &f.alice);
    c.ok(admin, DOCS).await;
    let code = |r: &Resp| {
        (
            r.status,
            r.body["error"]["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    // A placeholder without its part is not taken down the file path (the part `b` is
    // ignored): the statement runs with `FILE('a')` in it and fails on the unknown function;
    // a user sees the redacted message.
    for (tok, admin_caller) in [(alice, false), (admin, true)] {
        let form = upload_form(
            "INSERT INTO app.docs (id, attachment) VALUES (1, FILE('a'))",
            "b",
            "b.bin",
            vec![1],
            "application/octet-stream",
        );
        let r = c.multipart(tok, form).await;
        assert_eq!(code(&r), (400, "SQL_EXECUTION_ERROR".into()));
        let message = r.body["error"]["message"].as_str().unwrap();
        if admin_caller {
            assert!(
                message.starts_with("Statement 1 failed: ")
                    && message.contains("Invalid function 'file'"),
                "{message}"
            );
        } else {
            assert_eq!(message, "SQL statement failed");
        }
    }
    let r = c
        .multipart(
            alice,
            upload_form(
                "INSERT INTO app.docs (id, attachment) VALUES (1, FILE('a')); SELECT 1",
                "a",
                "a.bin",
                vec![1],
                "application/octet-stream",
            ),
        )
        .await;
    assert_eq!(
        strip_took(r.body),
        err_env(
            "INVALID_INPUT",
            "File uploads require a single SQL statement"
        )
    );
    let form = upload_form(
        "INSERT INTO app.docs (id, attachment) VALUES ($1, FILE('a'))",
        "a",
        "a.bin",
        vec![1],
        "application/octet-stream",
    )
    .text("params", "{\"x\": 1}");
    assert_eq!(
        code(&c.multipart(alice, form).await),
        (400, "INVALID_PARAMETER".into())
    );
    let mut form = Form::new().text(
        "sql",
        "INSERT INTO app.docs (id, attachment) VALUES (1, FILE('a'))",
    );
    for n in ["a", "b", "c"] {
        form = form.part(
            format!("file:{n}"),
            Part::bytes(vec![0u8]).file_name("x.bin"),
        );
    }
    assert_eq!(
        code(&c.multipart(alice, form).await),
        (400, "TOO_MANY_FILES".into())
    );
    // params work, and a failing statement leaves the table unchanged.
    let form = upload_form(
        "INSERT INTO app.docs (id, attachment) VALUES ($1, FILE('a'))",
        "a",
        "a.bin",
        vec![1, 2],
        "application/octet-stream",
    )
    .text("params", "[5]");
    assert_eq!(c.multipart(alice, form).await.status, 200);
    let form = upload_form(
        "INSERT INTO app.docs (id, attachment) VALUES (5, FILE('a'))",
        "a",
        "a.bin",
        vec![1, 2],
        "application/octet-stream",
    );
    assert_eq!(
        code(&c.multipart(alice, form).await),
        (400, "SQL_EXECUTION_ERROR".into())
    );
    assert_eq!(
        c.rows(alice, "SELECT id FROM app.docs").await,
        json!([["5"]])
    );
}

#[tokio::test]
async fn large_uploads() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin, alice) = (&f.c, &f.admin, &f.alice);
    c.ok(admin, DOCS).await;
    let big: Vec<u8> = (0..9 * 1024 * 1024 + 17)
        .map(|i: u32| (i.wrapping_mul(31) % 251) as u8)
        .collect();
    let r = c
        .multipart(
            alice,
            upload_form(
                "INSERT INTO app.docs (id, attachment) VALUES (1, FILE('big'))",
                "big",
                "big.bin",
                big.clone(),
                "application/octet-stream",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cell = c.rows(alice, "SELECT attachment FROM app.docs").await[0][0].clone();
    let fref: Value = serde_json::from_str(cell.as_str().unwrap()).unwrap();
    assert_eq!(fref["size"], big.len() as u64);
    assert_eq!(fref["sha256"], sha_hex(&big));
    let d = c
        .get(
            Some(alice),
            &format!(
                "/v1/files/app/docs/f0001/{}-big.bin",
                fref["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(d.status, 200);
    assert!(d.bytes == big, "downloaded bytes differ");
    assert_eq!(d.headers["content-type"], "application/octet-stream");

    let too_big = vec![7u8; 25 * 1024 * 1024 + 1];
    let r = c
        .multipart(
            alice,
            upload_form(
                "INSERT INTO app.docs (id, attachment) VALUES (2, FILE('big'))",
                "big",
                "big.bin",
                too_big,
                "application/octet-stream",
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "FILE_TOO_LARGE");
    assert_eq!(
        c.rows(alice, "SELECT id FROM app.docs").await,
        json!([["1"]])
    );
}

#[tokio::test]
async fn sql_consume_and_ack() {
    let f = fixture(Emulator::builder()).await;
    let (c, admin, alice) = (&f.c, &f.admin, &f.alice);
    c.ok(
        admin,
        "CREATE TABLE app.s (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
    )
    .await;
    c.ok(admin, "CREATE TOPIC app.s_t").await;
    c.ok(admin, "ALTER TOPIC app.s_t ADD SOURCE app.s ON INSERT")
        .await;
    for i in 0..3 {
        c.ok(admin, &format!("INSERT INTO app.s (id) VALUES ({i})"))
            .await;
    }
    let r = c
        .ok(
            admin,
            "CONSUME FROM app.s_t GROUP 'g' FROM EARLIEST LIMIT 2",
        )
        .await;
    let res = &r["results"][0];
    let names: Vec<&str> = res["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "topic_id",
            "partition_id",
            "offset",
            "key",
            "payload",
            "timestamp_ms",
            "user_id",
            "op"
        ]
    );
    let rows = res["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].as_array().unwrap()[..4],
        [json!("app.s_t"), json!(0), json!("1"), json!("1")]
    );
    let bytes: Vec<u8> = rows[1][4]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect();
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap()["id"], "1");
    assert_eq!(
        rows[1].as_array().unwrap()[6..],
        [json!("admin"), json!("Insert")]
    );
    // GROUP auto-acks: the next CONSUME continues after the last returned offset.
    let rows = c
        .rows(admin, "CONSUME FROM app.s_t GROUP 'g' FROM EARLIEST")
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0][2], "2");
    let r = c.ok(admin, "ACK app.s_t GROUP 'h' UPTO OFFSET 0").await;
    assert_eq!(r["results"][0]["rows"], json!([["app.s_t", "h", 0, "0"]]));
    let b = c
        .consume(
            admin,
            json!({"topic_id": "app.s_t", "group_id": "h", "start": "Earliest"}),
        )
        .await
        .body;
    assert_eq!(b["messages"][0]["offset"], 1);
    let r = c.sql(alice, "CONSUME FROM app.s_t FROM EARLIEST").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["code"], "PERMISSION_DENIED");
}
