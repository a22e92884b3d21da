//! WebSocket live queries (protocol 3, vectors W1–W13 of section 11.2) over real loopback
//! sockets against the emulator.
//!
//! Absence of a frame is never asserted by waiting: a later change that *is* delivered acts as
//! a barrier (the emulator delivers one socket's frames in commit order, and for one change in
//! subscription order).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kalam_emulator::{Emulator, EmulatorBuilder, RateLimits, Role, WsSettings};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const PW: &str = "Secret123!";
/// Safety net against a hung test; never reached when the emulator behaves.
const LIMIT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------------------------- setup

struct Env {
    emu: Emulator,
    http: reqwest::Client,
    admin: String,
    alice: String,
    bob: String,
}

async fn env_with(settings: WsSettings) -> Env {
    env_from(Emulator::builder().websocket(settings)).await
}

/// The users admin (dba), alice, bob (user), svc (service) on `builder`; logs in three of them.
async fn env_from(builder: EmulatorBuilder) -> Env {
    let emu = builder
        .user("admin", PW, Role::Dba)
        .user("alice", PW, Role::User)
        .user("bob", PW, Role::User)
        .user("svc", PW, Role::Service)
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let mut e = Env {
        emu,
        http,
        admin: String::new(),
        alice: String::new(),
        bob: String::new(),
    };
    e.admin = e.login("admin").await;
    e.alice = e.login("alice").await;
    e.bob = e.login("bob").await;
    e
}

async fn env() -> Env {
    env_with(WsSettings::default().max_subscriptions_per_user(1000)).await
}

impl Env {
    async fn login(&self, user: &str) -> String {
        self.login_with(user, PW).await
    }

    async fn login_with(&self, user: &str, password: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/v1/api/auth/login", self.emu.url()))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_owned()
    }

    async fn sql(&self, tok: &str, sql: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/api/sql", self.emu.url()))
            .bearer_auth(tok)
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{sql}: {v}");
        v
    }

    async fn rows(&self, tok: &str, sql: &str) -> Vec<Value> {
        self.sql(tok, sql).await["results"][0]["rows"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `_seq` of each id (`SELECT id, _seq`), as integers.
    async fn seqs(&self, tok: &str, table: &str) -> Vec<(String, i64)> {
        let rows = self
            .rows(tok, &format!("SELECT id, _seq FROM {table} ORDER BY id"))
            .await;
        rows.iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_owned(),
                    r[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    async fn todos(&self) {
        self.sql(&self.admin, "CREATE NAMESPACE app").await;
        self.sql(
            &self.admin,
            "CREATE TABLE app.todos (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), title TEXT NOT NULL, \
             done BOOLEAN NOT NULL DEFAULT false, due_at TIMESTAMP, price DECIMAL(10, 2)) WITH (TYPE = 'USER')",
        )
        .await;
    }

    async fn ws(&self, tok: Option<&str>, query: &str) -> Ws {
        let mut req = format!("{}{query}", self.emu.ws_url())
            .into_client_request()
            .unwrap();
        if let Some(t) = tok {
            req.headers_mut()
                .insert("Authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (s, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Ws { s }
    }

    /// A JSON-mode socket (`compress=false`) authenticated by header; `auth_success` consumed.
    async fn authed(&self, tok: &str) -> Ws {
        let mut ws = self.ws(Some(tok), "?compress=false").await;
        assert_eq!(ws.json().await["type"], "auth_success");
        ws
    }
}

// ------------------------------------------------------------------------------------ frames

#[derive(Debug, PartialEq)]
enum Frame {
    Text(Value),
    Gzip(Vec<u8>),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Ended,
}

struct Ws {
    s: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

impl Ws {
    async fn frame(&mut self) -> Frame {
        loop {
            let m = tokio::time::timeout(LIMIT, self.s.next())
                .await
                .expect("no frame in time");
            return match m {
                None | Some(Err(_)) => Frame::Ended,
                Some(Ok(Message::Text(t))) => {
                    Frame::Text(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(Message::Binary(b))) if b.starts_with(&[0x1f, 0x8b]) => {
                    Frame::Gzip(b.to_vec())
                }
                Some(Ok(Message::Binary(b))) => Frame::Binary(b.to_vec()),
                Some(Ok(Message::Pong(p))) => Frame::Pong(p.to_vec()),
                // 1005: a close frame without a status code
                Some(Ok(Message::Close(c))) => c.map_or(Frame::Close(1005, String::new()), |c| {
                    Frame::Close(u16::from(c.code), c.reason.as_str().to_owned())
                }),
                Some(Ok(_)) => continue,
            };
        }
    }

    /// The next frame as JSON (text, or gzip-compressed JSON).
    async fn json(&mut self) -> Value {
        match self.frame().await {
            Frame::Text(v) => v,
            Frame::Gzip(b) => serde_json::from_slice(&gunzip(&b)).unwrap(),
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    async fn send(&mut self, v: Value) {
        self.s.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn send_raw(&mut self, m: Message) {
        self.s.send(m).await.unwrap();
    }

    async fn subscribe(&mut self, id: &str, sql: &str, options: Option<Value>) {
        let mut sub = json!({"id": id, "sql": sql});
        if let Some(o) = options {
            sub["options"] = o;
        }
        self.send(json!({"type": "subscribe", "subscription": sub}))
            .await;
    }

    /// Subscribes without initial data and checks the ack.
    async fn live(&mut self, id: &str, sql: &str) -> Value {
        self.subscribe(id, sql, None).await;
        let ack = self.json().await;
        assert_eq!(ack["type"], "subscription_ack", "{sql}: {ack}");
        ack
    }

    /// Subscribes with `options` and returns (ack, batch).
    async fn initial(&mut self, id: &str, sql: &str, options: Value) -> (Value, Value) {
        self.subscribe(id, sql, Some(options)).await;
        let ack = self.json().await;
        assert_eq!(ack["type"], "subscription_ack", "{sql}: {ack}");
        let batch = self.json().await;
        assert_eq!(batch["type"], "initial_data_batch", "{sql}: {batch}");
        (ack, batch)
    }

    async fn closed(&mut self) -> (u16, String) {
        match self.frame().await {
            Frame::Close(c, r) => (c, r),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Subscription ids of the frames before the one of `zz_barrier2` (subscribed last).
async fn until_barrier(ws: &mut Ws) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let f = ws.json().await;
        match f["subscription_id"].as_str().unwrap() {
            "zz_barrier2" => return seen,
            other => seen.push(other.to_owned()),
        }
    }
}

/// `(change_type, rows[0].id)` of a change frame.
fn kind_id(f: &Value) -> (&str, &str) {
    (
        f["change_type"].as_str().unwrap_or(""),
        f["rows"][0]["id"].as_str().unwrap_or(""),
    )
}

fn bc(num: u32, more: bool, status: &str, last: Option<i64>) -> Value {
    json!({"batch_num": num, "has_more": more, "status": status, "last_seq_id": last})
}

fn todos_schema() -> Value {
    json!([
        {"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
        {"name":"title","data_type":"Text","index":1,"flags":["nn"]},
        {"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},
        {"name":"due_at","data_type":"Timestamp","index":3},
        {"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},
        {"name":"_seq","data_type":"BigInt","index":5,"flags":["nn"]},
        {"name":"_deleted","data_type":"Boolean","index":6,"flags":["nn"]}
    ])
}

fn todo(
    id: &str,
    title: &str,
    done: bool,
    due: Value,
    price: Value,
    seq: i64,
    deleted: bool,
) -> Value {
    json!({"id": id, "title": title, "done": done, "due_at": due, "price": price,
           "_seq": seq.to_string(), "_deleted": deleted})
}

fn seq_of(row: &Value) -> i64 {
    row["_seq"].as_str().unwrap().parse().unwrap()
}

const DUE: i64 = 1_748_822_400_000_000;

/// A minimal MessagePack reader for the frames the emulator sends (maps, arrays, strings,
/// integers, floats, booleans, nil).
fn unpack(b: &[u8], at: &mut usize) -> Value {
    let byte = |at: &mut usize| {
        *at += 1;
        b[*at - 1]
    };
    let be = |at: &mut usize, n: usize| {
        let v = b[*at..*at + n]
            .iter()
            .fold(0u64, |a, x| (a << 8) | u64::from(*x));
        *at += n;
        v
    };
    let t = byte(at);
    let (kind, len) = match t {
        0x00..=0x7f => return json!(t),
        0xe0..=0xff => return json!(t as i8),
        0xc0 => return Value::Null,
        0xc2 => return json!(false),
        0xc3 => return json!(true),
        0xcb => return json!(f64::from_bits(be(at, 8))),
        0xcc..=0xcf => return json!(be(at, 1 << (t - 0xcc))),
        0xd0 => return json!(be(at, 1) as u8 as i8),
        0xd1 => return json!(be(at, 2) as u16 as i16),
        0xd2 => return json!(be(at, 4) as u32 as i32),
        0xd3 => return json!(be(at, 8) as i64),
        0xa0..=0xbf => ('s', usize::from(t & 0x1f)),
        0xd9..=0xdb => ('s', be(at, 1 << (t - 0xd9)) as usize),
        0x90..=0x9f => ('a', usize::from(t & 0x0f)),
        0xdc => ('a', be(at, 2) as usize),
        0x80..=0x8f => ('m', usize::from(t & 0x0f)),
        0xde => ('m', be(at, 2) as usize),
        other => panic!("unexpected MessagePack tag {other:#x}"),
    };
    match kind {
        's' => {
            let s = std::str::from_utf8(&b[*at..*at + len]).unwrap().to_owned();
            *at += len;
            Value::String(s)
        }
        'a' => Value::Array((0..len).map(|_| unpack(b, at)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..len {
                let k = unpack(b, at).as_str().unwrap().to_owned();
                m.insert(k, unpack(b, at));
            }
            Value::Object(m)
        }
    }
}

fn msgpack(frame: Frame) -> Value {
    let bytes = match frame {
        Frame::Binary(b) => b,
        Frame::Gzip(b) => gunzip(&b),
        other => panic!("expected a MessagePack frame, got {other:?}"),
    };
    let mut at = 0;
    let v = unpack(&bytes, &mut at);
    assert_eq!(at, bytes.len());
    v
}

// ----------------------------------------------------------------------- vectors W1 – W13

#[tokio::test]
async fn w1_header_auth_and_w3_bad_token() {
    let e = env().await;
    let mut ws = e.ws(Some(&e.alice), "?compress=false").await;
    assert_eq!(
        ws.frame().await,
        Frame::Text(json!({"type":"auth_success","user":"alice","role":"user",
                           "protocol":{"serialization":"json","compression":"gzip"}}))
    );
    let mut bad = e.ws(Some("not-a-jwt"), "").await;
    assert_eq!(
        bad.frame().await,
        Frame::Text(json!({"type":"auth_error","message":"Invalid credentials"}))
    );
    assert_eq!(bad.closed().await, (1008, "Authentication failed".into()));
    // message auth with a bad token ends the same way
    let mut bad = e.ws(None, "").await;
    bad.send(
        json!({"type":"authenticate","method":"jwt","token":"garbage",
                    "protocol":{"serialization":"json","compression":"gzip"}}),
    )
    .await;
    assert_eq!(
        bad.json().await,
        json!({"type":"auth_error","message":"Invalid credentials"})
    );
    assert_eq!(bad.closed().await.0, 1008);
}

#[tokio::test]
async fn w2_message_auth_with_msgpack() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'Buy milk')",
    )
    .await;
    let mut ws = e.ws(None, "").await;
    ws.send(json!({"type":"authenticate","method":"jwt","token":e.alice,
                   "protocol":{"serialization":"msgpack","compression":"gzip"}}))
        .await;
    assert_eq!(
        ws.frame().await,
        Frame::Text(json!({"type":"auth_success","user":"alice","role":"user",
                           "protocol":{"serialization":"msgpack","compression":"gzip"}}))
    );
    ws.subscribe("mp", "SELECT id, title FROM app.todos", Some(json!({})))
        .await;
    let ack = msgpack(ws.frame().await);
    let batch = msgpack(ws.frame().await);
    let seq = e.seqs(&e.alice, "app.todos").await[0].1;
    assert_eq!(ack["type"], "subscription_ack");
    assert_eq!(ack["batch_control"]["last_seq_id"], json!(seq));
    assert_eq!(
        batch["rows"],
        json!([{"id":"1","title":"Buy milk","_seq":seq.to_string()}])
    );
    // error frames stay JSON text
    ws.subscribe("bad", "SELECT * FROM todos", Some(json!({})))
        .await;
    assert!(matches!(ws.frame().await, Frame::Text(v) if v["code"] == "INVALID_SQL"));
    // changes are MessagePack too
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (2, 'b')",
    )
    .await;
    let ch = msgpack(ws.frame().await);
    assert_eq!(kind_id(&ch), ("insert", "2"));
    // a MessagePack client frame is understood (unsubscribe, then a subscribe that answers)
    let mut packed = Vec::new();
    packed.extend_from_slice(&[0x82, 0xa4]);
    packed.extend_from_slice(b"type");
    packed.push(0xa9);
    packed.extend_from_slice(b"subscribe");
    packed.push(0xac);
    packed.extend_from_slice(b"subscription");
    packed.extend_from_slice(&[0x82, 0xa2]);
    packed.extend_from_slice(b"id");
    packed.extend_from_slice(&[0xa1, b'z', 0xa3]);
    packed.extend_from_slice(b"sql");
    let sql = b"SELECT id FROM app.todos";
    packed.push(0xa0 | sql.len() as u8);
    packed.extend_from_slice(sql);
    ws.send_raw(Message::Binary(packed.into())).await;
    let ack = msgpack(ws.frame().await);
    assert_eq!(
        (ack["type"].as_str(), ack["subscription_id"].as_str()),
        (Some("subscription_ack"), Some("z"))
    );
}

/// W4–W11 in the protocol's order, on one fixture.
#[tokio::test]
async fn w4_to_w11_subscription_lifecycle() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title, due_at, price) VALUES (1, 'Buy milk', 1748822400000000, 3.5)",
    )
    .await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (2, 'Call Bob')",
    )
    .await;
    let seqs = e.seqs(&e.alice, "app.todos").await;
    let (s1, s2) = (seqs[0].1, seqs[1].1);
    let sql = "SELECT * FROM app.todos WHERE done = false";

    // W4: ack + batch, both with batch 0's control; admin (other partition) gets nothing
    let mut a = e.authed(&e.alice).await;
    let mut admin = e.authed(&e.admin).await;
    let (_, ab) = admin.initial("sub_1", sql, json!({})).await;
    assert_eq!(ab["rows"], json!([]));
    assert_eq!(ab["batch_control"], bc(0, false, "ready", None));
    let (ack, batch) = a.initial("sub_1", sql, json!({})).await;
    let ctl = bc(0, false, "ready", Some(s2));
    assert_eq!(
        ack,
        json!({"type":"subscription_ack","subscription_id":"sub_1","total_rows":0,
               "batch_control":ctl,"schema":todos_schema()})
    );
    assert_eq!(
        batch,
        json!({"type":"initial_data_batch","subscription_id":"sub_1","batch_control":ctl,
               "rows":[todo("1","Buy milk",false,json!(DUE),json!("3.50"),s1,false),
                       todo("2","Call Bob",false,Value::Null,Value::Null,s2,false)]})
    );

    // W5: options null → ack only, projection schema without _seq
    let mut w5 = e.authed(&e.alice).await;
    w5.subscribe(
        "sub_5",
        "SELECT id, title FROM app.todos",
        Some(Value::Null),
    )
    .await;
    assert_eq!(
        w5.json().await,
        json!({"type":"subscription_ack","subscription_id":"sub_5","total_rows":0,
               "batch_control":bc(0,false,"ready",None),
               "schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
                         {"name":"title","data_type":"Text","index":1,"flags":["nn"]}]})
    );

    // W6: paged load
    let (ack, b0) = w5
        .initial(
            "sub_6",
            "SELECT id, title FROM app.todos",
            json!({"batch_size": 1}),
        )
        .await;
    assert_eq!(ack["batch_control"], bc(0, true, "loading", Some(s1)));
    assert_eq!(
        b0["rows"],
        json!([{"id":"1","title":"Buy milk","_seq":s1.to_string()}])
    );
    assert_eq!(b0["batch_control"], ack["batch_control"]);
    w5.send(json!({"type":"next_batch","subscription_id":"sub_6","last_seq_id":s1}))
        .await;
    assert_eq!(
        w5.json().await,
        json!({"type":"initial_data_batch","subscription_id":"sub_6",
               "rows":[{"id":"2","title":"Call Bob","_seq":s2.to_string()}],
               "batch_control":bc(1,false,"ready",Some(s2))})
    );

    // W7: update
    e.sql(
        &e.alice,
        "UPDATE app.todos SET title = 'Buy oat milk' WHERE id = 1",
    )
    .await;
    let w7 = a.json().await;
    let s3 = seq_of(&w7["rows"][0]);
    assert!(s3 > s2);
    assert_eq!(
        w7,
        json!({"type":"change","subscription_id":"sub_1","change_type":"update",
               "rows":[{"_seq":s3.to_string(),"id":"1","title":"Buy oat milk","done":false,
                        "due_at":DUE,"price":"3.50"}],
               "old_values":[{"_seq":s1.to_string(),"id":"1","title":"Buy milk"}]})
    );
    // W8: delete
    e.sql(&e.alice, "DELETE FROM app.todos WHERE id = 2").await;
    let w8 = a.json().await;
    let s4 = seq_of(&w8["old_values"][0]);
    assert!(s4 > s3);
    assert_eq!(
        w8,
        json!({"type":"change","subscription_id":"sub_1","change_type":"delete",
               "old_values":[todo("2","Call Bob",false,Value::Null,Value::Null,s4,true)]})
    );
    // W9: insert
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (3, 'Water plants')",
    )
    .await;
    let w9 = a.json().await;
    let s5 = seq_of(&w9["rows"][0]);
    assert_eq!(
        w9,
        json!({"type":"change","subscription_id":"sub_1","change_type":"insert",
               "rows":[todo("3","Water plants",false,Value::Null,Value::Null,s5,false)]})
    );
    // the admin saw none of W7–W9: its next frame is its own row
    e.sql(
        &e.admin,
        "INSERT INTO app.todos (id, title) VALUES (9, 'mine')",
    )
    .await;
    let own = admin.json().await;
    assert_eq!(kind_id(&own), ("insert", "9"));

    // W11: resume from S3 on a new socket: only row 3, not the deleted row 2
    let mut r = e.authed(&e.alice).await;
    let (ack, batch) = r.initial("sub_1", sql, json!({"from": s3})).await;
    let ctl = bc(0, false, "ready", Some(s5));
    assert_eq!(ack["batch_control"], ctl);
    assert_eq!(ack["schema"], todos_schema());
    assert_eq!(
        batch,
        json!({"type":"initial_data_batch","subscription_id":"sub_1","batch_control":ctl,
               "rows":[todo("3","Water plants",false,Value::Null,Value::Null,s5,false)]})
    );

    // W10: an update leaving the filter is not delivered (the next frame is a later insert)
    e.sql(&e.alice, "UPDATE app.todos SET done = true WHERE id = 3")
        .await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (4, 'next')",
    )
    .await;
    let f = a.json().await;
    assert_eq!(kind_id(&f), ("insert", "4"));
}

#[tokio::test]
async fn w12_protocol_errors() {
    let e = env().await;
    e.todos().await;
    let err = |sid: &str, code: &str, msg: &str| json!({"type":"error","subscription_id":sid,"code":code,"message":msg});
    // before authentication
    let mut ws = e.ws(None, "").await;
    ws.subscribe("x", "SELECT * FROM app.todos", None).await;
    assert_eq!(
        ws.json().await,
        err(
            "subscribe",
            "AUTH_REQUIRED",
            "Authentication required before subscribing"
        )
    );
    let mut ws = e.authed(&e.alice).await;
    let cases = [
        (
            "sub_9",
            "SELECT * FROM todos",
            json!({}),
            "INVALID_SQL",
            "Invalid SQL: Query must use namespace.table format",
        ),
        (
            "sub_o",
            "SELECT * FROM app.todos ORDER BY id",
            json!({}),
            "INVALID_SQL",
            "Invalid SQL: Invalid SQL: Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported.",
        ),
        (
            "sub_nf",
            "SELECT * FROM app.nope",
            json!({}),
            "NOT_FOUND",
            "Not found: Table not found: app:nope",
        ),
        (
            "sub_lr",
            "SELECT * FROM app.todos",
            json!({"batch_size":10,"last_rows":11}),
            "UNSUPPORTED",
            "last_rows (11) cannot exceed batch_size (10); paginated last_rows replay is not supported",
        ),
    ];
    for (sid, sql, opts, code, msg) in cases {
        ws.subscribe(sid, sql, Some(opts)).await;
        assert_eq!(ws.json().await, err(sid, code, msg), "{sql}");
    }
    ws.subscribe("", "SELECT * FROM app.todos", Some(json!({})))
        .await;
    assert_eq!(
        ws.json().await,
        err(
            "invalid_subscription",
            "INVALID_SUBSCRIPTION_ID",
            "Subscription ID cannot be empty"
        )
    );
    ws.send_raw(Message::Binary(b"\x00\x01binary".to_vec().into()))
        .await;
    assert_eq!(
        ws.json().await,
        err("protocol", "UNSUPPORTED_DATA", "Binary not supported")
    );
    // unsubscribe (unknown id) and ping: no frames; the next frame answers the next request
    ws.send(json!({"type":"unsubscribe","subscription_id":"sub_1"}))
        .await;
    ws.send(json!({"type":"ping"})).await;
    ws.subscribe("after", "SELECT id FROM app.todos", None)
        .await;
    assert_eq!(ws.json().await["subscription_id"], "after");
    ws.send_raw(Message::text("hello")).await;
    assert_eq!(
        ws.closed().await,
        (
            1011,
            "Invalid message: expected value at line 1 column 1".into()
        )
    );
}

#[tokio::test]
async fn w13_gzip_binary_frames() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.admin,
        "CREATE TABLE app.many (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'USER')",
    )
    .await;
    let values: Vec<String> = (1..=30)
        .map(|i| format!("({i}, 'a todo with a reasonably long title number {i}')"))
        .collect();
    e.sql(
        &e.alice,
        &format!(
            "INSERT INTO app.many (id, body) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    let mut ws = e.ws(Some(&e.alice), "").await;
    assert!(
        matches!(ws.frame().await, Frame::Text(_)),
        "auth_success is text"
    );
    ws.subscribe(
        "big",
        "SELECT * FROM app.many",
        Some(json!({"batch_size": 20})),
    )
    .await;
    assert!(matches!(ws.frame().await, Frame::Text(v) if v["type"] == "subscription_ack"));
    let Frame::Gzip(gz) = ws.frame().await else {
        panic!("batch not gzip")
    };
    let raw = gunzip(&gz);
    assert!(raw.len() >= 512 && gz.len() < raw.len());
    let batch: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(batch["rows"].as_array().unwrap().len(), 20);
    // compress=FALSE keeps text; compression=none is only echoed
    let mut plain = e.ws(Some(&e.alice), "?compress=FALSE").await;
    plain.json().await;
    plain
        .subscribe(
            "big",
            "SELECT * FROM app.many",
            Some(json!({"batch_size": 20})),
        )
        .await;
    plain.json().await;
    assert!(
        matches!(plain.frame().await, Frame::Text(v) if v["rows"].as_array().unwrap().len() == 20)
    );
    let mut none = e.ws(Some(&e.alice), "?compression=none").await;
    assert_eq!(none.json().await["protocol"]["compression"], "none");
    none.subscribe(
        "big",
        "SELECT * FROM app.many",
        Some(json!({"batch_size": 20})),
    )
    .await;
    none.json().await;
    assert!(matches!(none.frame().await, Frame::Gzip(_)));
}

// ------------------------------------------------------------------------- authentication

#[tokio::test]
async fn authentication_edge_cases() {
    let e = env().await;
    // before auth: next_batch / unsubscribe / ping are ignored; then authenticate works
    let mut ws = e.ws(None, "").await;
    ws.send(json!({"type":"ping"})).await;
    ws.send(json!({"type":"next_batch","subscription_id":"x"}))
        .await;
    ws.send(json!({"type":"unsubscribe","subscription_id":"x"}))
        .await;
    ws.send(json!({"type":"authenticate","method":"jwt","token":e.alice,
                   "protocol":{"serialization":"json","compression":"none"}}))
        .await;
    assert_eq!(
        ws.json().await,
        json!({"type":"auth_success","user":"alice","role":"user",
               "protocol":{"serialization":"json","compression":"none"}})
    );
    // repeated authenticate: not re-validated, original protocol repeated
    ws.send(
        json!({"type":"authenticate","method":"jwt","token":"garbage",
                   "protocol":{"serialization":"msgpack","compression":"gzip"}}),
    )
    .await;
    assert_eq!(
        ws.json().await["protocol"],
        json!({"serialization":"json","compression":"none"})
    );
    // authenticate without protocol does not parse
    let mut ws = e.ws(None, "").await;
    ws.send(json!({"type":"authenticate","method":"jwt","token":e.alice}))
        .await;
    assert_eq!(
        ws.closed().await,
        (1011, "Invalid message: missing field `protocol`".into())
    );
}

#[tokio::test]
async fn auth_timeout_and_idle_timeout() {
    let e = env_with(
        WsSettings::default()
            .auth_timeout(Duration::from_millis(150))
            .client_timeout(Duration::from_millis(300))
            .heartbeat_interval(Duration::from_millis(50)),
    )
    .await;
    let mut no_auth = e.ws(None, "").await;
    let mut idle = e.ws(Some(&e.alice), "").await;
    assert_eq!(
        no_auth.json().await,
        json!({"type":"auth_error",
               "message":"Authentication timeout - no auth message received within 3 seconds"})
    );
    assert_eq!(
        no_auth.closed().await,
        (1008, "Authentication timeout".into())
    );
    assert_eq!(idle.json().await["type"], "auth_success");
    assert_eq!(idle.closed().await, (1000, "Heartbeat timeout".into()));
}

#[tokio::test]
async fn ping_pong_and_frame_errors() {
    let e = env_with(WsSettings::default().max_message_size(200)).await;
    let mut ws = e.authed(&e.alice).await;
    ws.send_raw(Message::Ping(b"kalam".to_vec().into())).await;
    assert_eq!(ws.frame().await, Frame::Pong(b"kalam".to_vec()));
    ws.send_raw(Message::text(format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(300)
    )))
    .await;
    let big = ws.json().await;
    assert_eq!(
        (big["code"].as_str(), big["subscription_id"].as_str()),
        (Some("MESSAGE_TOO_LARGE"), Some("protocol"))
    );
    ws.send(json!({"type":"bogus"})).await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 1011);
    assert!(
        reason.starts_with("Invalid message: unknown variant `bogus`, expected one of"),
        "{reason}"
    );
    assert!(reason.len() <= 123);
    // a string `from` does not parse either
    let mut ws = e.authed(&e.alice).await;
    ws.subscribe("s", "SELECT * FROM app.t", Some(json!({"from": "12"})))
        .await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 1011);
    assert!(
        reason.starts_with("Invalid message: invalid type: string \"12\", expected i64"),
        "{reason}"
    );
}

#[tokio::test]
async fn shutdown_closes_with_1001() {
    let e = env().await;
    let mut ws = e.authed(&e.alice).await;
    e.emu.shutdown().await;
    assert_eq!(ws.closed().await, (1001, "Server shutting down".into()));
}

// ---------------------------------------------------------------------- options & errors

#[tokio::test]
async fn options_forms_and_next_batch_errors() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    .await;
    let top = e
        .seqs(&e.alice, "app.todos")
        .await
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap();
    let mut ws = e.authed(&e.alice).await;
    let sql = "SELECT id, title FROM app.todos";
    ws.live("absent", sql).await;
    let (_, b) = ws.initial("zero", sql, json!({"batch_size": 0})).await;
    assert_eq!(
        (b["rows"].clone(), b["batch_control"].clone()),
        (json!([]), bc(0, false, "ready", None))
    );
    let (_, b) = ws.initial("unk", sql, json!({"whatever": 1})).await;
    assert_eq!(b["rows"].as_array().unwrap().len(), 3);
    let (_, b) = ws
        .initial("alias", sql, json!({"from_seq_id": top - 1}))
        .await;
    assert_eq!(b["rows"][0]["_seq"], json!(top.to_string()));
    // same id: replaced, new schema
    let ack = ws.live("absent", "SELECT id FROM app.todos").await;
    assert_eq!(ack["schema"].as_array().unwrap().len(), 1);
    ws.send(json!({"type":"next_batch","subscription_id":"nope","last_seq_id":null}))
        .await;
    assert_eq!(
        ws.json().await,
        json!({"type":"error","subscription_id":"nope","code":"BATCH_FETCH_FAILED",
               "message":"Not found: Subscription not found: nope"})
    );
    ws.send(json!({"type":"next_batch","subscription_id":"absent"}))
        .await;
    assert_eq!(
        ws.json().await["message"],
        "Invalid operation: Subscription absent was created without initial data loading"
    );
    for (sid, q, code) in [
        ("sys", "SELECT * FROM system.users", "UNAUTHORIZED"),
        (
            "agg",
            "SELECT COUNT(*) FROM app.todos",
            "SUBSCRIPTION_FAILED",
        ),
        ("lim", "SELECT * FROM app.todos LIMIT 5", "INVALID_SQL"),
        ("col", "SELECT nope FROM app.todos", "SUBSCRIPTION_FAILED"),
        (
            "where",
            "SELECT id FROM app.todos WHERE nope = 1",
            "SUBSCRIPTION_FAILED",
        ),
    ] {
        ws.subscribe(sid, q, Some(json!({}))).await;
        let f = ws.json().await;
        assert_eq!(
            (f["type"].as_str(), f["code"].as_str()),
            (Some("error"), Some(code)),
            "{q}: {f}"
        );
    }
    // an admin may subscribe to system tables
    let mut adm = e.authed(&e.admin).await;
    let (_, b) = adm
        .initial("sys", "SELECT user_id FROM system.users", json!({}))
        .await;
    assert!(!b["rows"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn projection_quirks() {
    let e = env().await;
    e.sql(&e.admin, "CREATE NAMESPACE ex").await;
    e.sql(
        &e.admin,
        "CREATE TABLE ex.t (id BIGINT PRIMARY KEY, body TEXT NOT NULL, n INT) WITH (TYPE = 'USER')",
    )
    .await;
    e.sql(
        &e.alice,
        "INSERT INTO ex.t (id, body, n) VALUES (1, 'a', 1)",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    // an alias fails the initial load …
    ws.subscribe("al", "SELECT id AS x, body FROM ex.t", Some(json!({})))
        .await;
    let f = ws.json().await;
    assert_eq!(f["code"], "SUBSCRIPTION_FAILED");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("Execution error: Invalid operation: Schema error: No field named x"),
        "{f}"
    );
    // … and without options the change rows carry only the bare columns
    let ack = ws.live("al", "SELECT id AS x, body FROM ex.t").await;
    assert_eq!(ack["schema"].as_array().unwrap().len(), 1);
    // an un-aliased expression: not in the schema, in initial rows by display name, not in changes
    let (ack, b) = ws
        .initial("ex", "SELECT id, n + 1 FROM ex.t", json!({}))
        .await;
    assert_eq!(ack["schema"].as_array().unwrap().len(), 1);
    let row = &b["rows"][0];
    assert_eq!(
        (row["id"].as_str(), row["ex.t.n + Int64(1)"].as_str()),
        (Some("1"), Some("2"))
    );
    e.sql(
        &e.alice,
        "INSERT INTO ex.t (id, body, n) VALUES (6, 'c', 5)",
    )
    .await;
    let f1 = ws.json().await;
    let f2 = ws.json().await;
    let by_sub = |f: &Value| {
        (
            f["subscription_id"].as_str().unwrap().to_owned(),
            f["rows"][0].clone(),
        )
    };
    let mut got = [by_sub(&f1), by_sub(&f2)];
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let seq = got[0].1["_seq"].clone();
    assert_eq!(got[0], ("al".to_owned(), json!({"body":"c","_seq":seq})));
    assert_eq!(got[1], ("ex".to_owned(), json!({"id":"6","_seq":seq})));
}

// ------------------------------------------------------------------- initial-data quirks

#[tokio::test]
async fn initial_rows_in_key_order_and_paging_loses_rows() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.admin,
        "CREATE TABLE app.ord (id BIGINT PRIMARY KEY, v INT) WITH (TYPE = 'USER')",
    )
    .await;
    for (id, v) in [(1, 30), (2, 20), (3, 10)] {
        e.sql(
            &e.alice,
            &format!("INSERT INTO app.ord (id, v) VALUES ({id}, {v})"),
        )
        .await;
    }
    e.sql(&e.alice, "UPDATE app.ord SET v = 99 WHERE id = 1")
        .await;
    let seqs = e.seqs(&e.alice, "app.ord").await;
    let mut ws = e.authed(&e.alice).await;
    // key projected: key order, last_seq_id is the last row's, not the largest
    let (_, b) = ws
        .initial("pk", "SELECT id, v FROM app.ord", json!({}))
        .await;
    let ids: Vec<&str> = b["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(b["batch_control"]["last_seq_id"], json!(seqs[2].1));
    // key not projected: _seq order
    let (_, b) = ws.initial("nopk", "SELECT v FROM app.ord", json!({})).await;
    let vs: Vec<i64> = b["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["v"].as_i64().unwrap())
        .collect();
    assert_eq!(vs, [20, 10, 99]);
    // batch_size 1: batches [2], [1], then has_more false — row 3 is never sent
    let (_, b) = ws
        .initial("pg", "SELECT id, v FROM app.ord", json!({"batch_size": 1}))
        .await;
    let mut got = vec![b["rows"][0]["id"].as_str().unwrap().to_owned()];
    let mut last = b["batch_control"].clone();
    while last["has_more"] == json!(true) {
        ws.send(
            json!({"type":"next_batch","subscription_id":"pg","last_seq_id":last["last_seq_id"]}),
        )
        .await;
        let nb = ws.json().await;
        got.extend(
            nb["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        last = nb["batch_control"].clone();
    }
    assert_eq!(got, ["2", "1"]);
    assert_eq!(last["status"], "ready");
}

#[tokio::test]
async fn last_rows_picks_smallest_keys_among_newest() {
    let e = env().await;
    e.todos().await;
    // newest rows by _seq: 50, 11, 10 (inserted in that reverse order)
    for id in [1, 2, 10, 11, 50] {
        e.sql(
            &e.alice,
            &format!("INSERT INTO app.todos (id, title) VALUES ({id}, 't{id}')"),
        )
        .await;
    }
    let mut ws = e.authed(&e.alice).await;
    let sql = "SELECT id, title FROM app.todos";
    let ids = |b: &Value| -> Vec<String> {
        b["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, b) = ws.initial("l1", sql, json!({"last_rows": 1})).await;
    assert_eq!(ids(&b), ["11"]);
    let (_, b) = ws.initial("l2", sql, json!({"last_rows": 2})).await;
    assert_eq!(ids(&b), ["11", "10"]);
    assert_eq!(b["batch_control"]["has_more"], false);
    // without the key: the N newest in _seq order
    let (_, b) = ws
        .initial("l3", "SELECT title FROM app.todos", json!({"last_rows": 2}))
        .await;
    assert_eq!(
        b["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].clone())
            .collect::<Vec<_>>(),
        [json!("t11"), json!("t50")]
    );
    // last_rows is ignored when `from` is set
    let first = e.seqs(&e.alice, "app.todos").await[0].1;
    let (_, b) = ws
        .initial("lf", sql, json!({"last_rows": 1, "from": first}))
        .await;
    assert_eq!(b["rows"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn snapshot_cap_of_1000_rows() {
    let e = env().await;
    e.todos().await;
    for chunk in 0..3 {
        let values: Vec<String> = (0..500)
            .map(|i| format!("({}, 'row')", chunk * 500 + i + 1))
            .collect();
        e.sql(
            &e.alice,
            &format!(
                "INSERT INTO app.todos (id, title) VALUES {}",
                values.join(", ")
            ),
        )
        .await;
    }
    let mut ws = e.authed(&e.alice).await;
    let (_, b) = ws
        .initial("all", "SELECT id FROM app.todos", json!({}))
        .await;
    assert_eq!(b["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(b["batch_control"]["has_more"], false);
    let (_, b) = ws
        .initial(
            "big",
            "SELECT id FROM app.todos",
            json!({"batch_size": 2000}),
        )
        .await;
    assert_eq!(b["rows"].as_array().unwrap().len(), 1000);
    let (_, b0) = ws
        .initial("p", "SELECT id FROM app.todos", json!({"batch_size": 999}))
        .await;
    assert_eq!(
        (
            b0["rows"].as_array().unwrap().len(),
            b0["batch_control"]["status"].as_str()
        ),
        (999, Some("loading"))
    );
    ws.send(json!({"type":"next_batch","subscription_id":"p","last_seq_id":b0["batch_control"]["last_seq_id"]}))
        .await;
    let b1 = ws.json().await;
    assert_eq!(b1["rows"].as_array().unwrap().len(), 501);
    assert_eq!(
        b1["batch_control"],
        bc(1, false, "ready", Some(seq_of(&b1["rows"][500])))
    );
}

#[tokio::test]
async fn changes_wait_until_the_subscription_is_live() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'a'), (2, 'b')",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    let (_, b0) = ws
        .initial("s", "SELECT id FROM app.todos", json!({"batch_size": 1}))
        .await;
    assert_eq!(b0["batch_control"]["has_more"], true);
    // written while loading: held back until the last batch has gone out
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (3, 'c')",
    )
    .await;
    ws.send(json!({"type":"next_batch","subscription_id":"s","last_seq_id":b0["batch_control"]["last_seq_id"]}))
        .await;
    let b1 = ws.json().await;
    assert_eq!(
        (b1["type"].as_str(), b1["rows"][0]["id"].as_str()),
        (Some("initial_data_batch"), Some("2"))
    );
    let ch = ws.json().await;
    assert_eq!(kind_id(&ch), ("insert", "3"));
}

// ---------------------------------------------------------------------- changes & routing

#[tokio::test]
async fn change_shapes() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.admin,
        "CREATE TABLE app.flt (id BIGINT PRIMARY KEY, title TEXT, n INT) WITH (TYPE = 'USER')",
    )
    .await;
    e.sql(
        &e.alice,
        "INSERT INTO app.flt (id, title, n) VALUES (1, 'abc', 5)",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    ws.live("star", "SELECT * FROM app.flt").await;
    ws.live("proj", "SELECT id, title FROM app.flt").await;
    let strip = |mut f: Value| {
        for k in ["rows", "old_values"] {
            if let Some(r) = f
                .get_mut(k)
                .and_then(|r| r.get_mut(0))
                .and_then(Value::as_object_mut)
            {
                assert!(r.remove("_seq").unwrap().is_string());
            }
        }
        f
    };
    e.sql(&e.alice, "UPDATE app.flt SET title = NULL WHERE id = 1")
        .await;
    assert_eq!(
        strip(ws.json().await),
        json!({"type":"change","subscription_id":"star","change_type":"update",
               "rows":[{"id":"1","n":5}],"old_values":[{"id":"1","title":"abc"}]})
    );
    assert_eq!(
        strip(ws.json().await),
        json!({"type":"change","subscription_id":"proj","change_type":"update",
               "rows":[{"id":"1"}],"old_values":[{"id":"1","title":"abc"}]})
    );
    e.sql(
        &e.alice,
        "UPDATE app.flt SET n = 7, title = 'abc' WHERE id = 1",
    )
    .await;
    ws.json().await;
    let _ = ws.json().await;
    e.sql(&e.alice, "UPDATE app.flt SET n = 8 WHERE id = 1")
        .await;
    ws.json().await;
    assert_eq!(
        strip(ws.json().await),
        json!({"type":"change","subscription_id":"proj","change_type":"update",
               "rows":[{"id":"1","title":"abc"}],"old_values":[{"id":"1"}]})
    );
    // one frame per row and subscription
    e.sql(
        &e.alice,
        "INSERT INTO app.flt (id, title, n) VALUES (10, 'a', 1), (11, 'b', 2)",
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let f = ws.json().await;
        ids.push((
            f["subscription_id"].as_str().unwrap().to_owned(),
            f["rows"][0]["id"].as_str().unwrap().to_owned(),
        ));
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            ("proj".into(), "10".into()),
            ("proj".into(), "11".into()),
            ("star".into(), "10".into()),
            ("star".into(), "11".into())
        ]
    );
    e.sql(&e.alice, "DELETE FROM app.flt WHERE id = 10").await;
    let star = strip(ws.json().await);
    assert_eq!(
        star["old_values"],
        json!([{"id":"10","title":"a","n":1,"_deleted":true}])
    );
    assert_eq!(
        strip(ws.json().await),
        json!({"type":"change","subscription_id":"proj","change_type":"delete",
               "old_values":[{"id":"10","title":"a"}]})
    );
}

#[tokio::test]
async fn live_filter_delivery_table() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.admin,
        "CREATE TABLE app.flt (id BIGINT PRIMARY KEY, title TEXT, n INT) WITH (TYPE = 'USER')",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    let filters = [
        ("eq", "n = 5", true),
        ("ne", "n <> 6", true),
        ("and", "n > 2 AND title = 'zed'", true),
        ("or", "(n = 5 OR n = 6) AND title <> 'q'", true),
        ("not", "NOT (n = 6)", true),
        ("like", "title LIKE 'z%'", true),
        ("in", "id IN (20, 21)", false),
        ("between", "n BETWEEN 0 AND 10", false),
        ("isnull", "title IS NOT NULL", false),
        ("fn", "length(title) > 0", false),
        ("lower", "LOWER(title) = 'zed'", false),
        ("arith", "n + 1 > 0", false),
        ("user", "title = CURRENT_USER()", false),
        ("miss", "n = 6", false),
    ];
    for (sid, w, _) in filters {
        ws.live(sid, &format!("SELECT * FROM app.flt WHERE {w}"))
            .await;
    }
    ws.live("zz_barrier", "SELECT * FROM app.flt").await;
    e.sql(
        &e.alice,
        "INSERT INTO app.flt (id, title, n) VALUES (20, 'zed', 5)",
    )
    .await;
    let mut got = Vec::new();
    loop {
        let f = ws.json().await;
        let sid = f["subscription_id"].as_str().unwrap().to_owned();
        if sid == "zz_barrier" {
            break;
        }
        got.push(sid);
    }
    let want: Vec<&str> = filters.iter().filter(|f| f.2).map(|f| f.0).collect();
    assert_eq!(got, want);
    // no three-valued logic: a NULL title passes `NOT title = 'zzz'`
    ws.live(
        "nul",
        "SELECT * FROM app.flt WHERE (n = 5 OR n = 6) AND NOT title = 'zzz'",
    )
    .await;
    ws.live("zz_barrier2", "SELECT * FROM app.flt").await;
    e.sql(&e.alice, "INSERT INTO app.flt (id, n) VALUES (21, 6)")
        .await;
    assert!(until_barrier(&mut ws).await.iter().any(|s| s == "nul"));
    // CURRENT_USER() in the WHERE: the change is dropped, the initial rows are right
    e.sql(
        &e.alice,
        "INSERT INTO app.flt (id, title, n) VALUES (30, 'alice', 1)",
    )
    .await;
    assert!(!until_barrier(&mut ws).await.iter().any(|s| s == "user"));
    let (_, b) = ws
        .initial(
            "me",
            "SELECT id FROM app.flt WHERE title = CURRENT_USER()",
            json!({}),
        )
        .await;
    assert_eq!(b["rows"][0]["id"], "30");
}

#[tokio::test]
async fn routing_user_shared_and_stream_tables() {
    let e = env().await;
    e.todos().await;
    let sql = "SELECT * FROM app.todos";
    let mut a = e.authed(&e.alice).await;
    let mut b = e.authed(&e.bob).await;
    let mut d = e.authed(&e.admin).await;
    a.live("s", sql).await;
    b.live("s", sql).await;
    d.live("s", sql).await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'alice row')",
    )
    .await;
    e.sql(
        &e.bob,
        "INSERT INTO app.todos (id, title) VALUES (1, 'bob row')",
    )
    .await;
    e.sql(
        &e.admin,
        "INSERT INTO app.todos (id, title) VALUES (1, 'admin row')",
    )
    .await;
    assert_eq!(a.json().await["rows"][0]["title"], "alice row");
    assert_eq!(b.json().await["rows"][0]["title"], "bob row");
    assert_eq!(d.json().await["rows"][0]["title"], "admin row");
    // SHARED: every subscriber
    e.sql(&e.admin, "CREATE SHARED TABLE app.board (id BIGINT PRIMARY KEY, msg TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')")
        .await;
    a.live("bd", "SELECT * FROM app.board").await;
    b.live("bd", "SELECT * FROM app.board").await;
    e.sql(
        &e.admin,
        "INSERT INTO app.board (id, msg) VALUES (7, 'hello')",
    )
    .await;
    for ws in [&mut a, &mut b] {
        let f = ws.json().await;
        assert_eq!(f["subscription_id"], "bd");
        assert_eq!(f["rows"][0]["msg"], "hello");
        assert_eq!(f["rows"][0]["_deleted"], false);
    }
    // a PRIVATE shared table is closed to users
    e.sql(
        &e.admin,
        "CREATE SHARED TABLE app.priv (id BIGINT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PRIVATE')",
    )
    .await;
    a.subscribe("pv", "SELECT * FROM app.priv", None).await;
    assert_eq!(a.json().await["code"], "UNAUTHORIZED");
    // STREAM: same shape as USER inserts, owner only
    e.sql(
        &e.admin,
        "CREATE STREAM TABLE app.ev (id BIGINT PRIMARY KEY, msg TEXT) WITH (TTL_SECONDS = 30)",
    )
    .await;
    a.live("ev", "SELECT * FROM app.ev").await;
    e.sql(&e.alice, "INSERT INTO app.ev (id, msg) VALUES (1, 'y')")
        .await;
    let f = a.json().await;
    assert_eq!(
        f["rows"],
        json!([{"id":"1","msg":"y","_seq":f["rows"][0]["_seq"],"_deleted":false}])
    );
}

/// A `system` caller's live view of a USER table: every user's rows in the initial data (the
/// server reads across partitions for it), but only the changes of its own partition, so the
/// view goes stale as soon as another user writes. A `dba` sees its own partition.
#[tokio::test]
async fn system_live_view_holds_everyones_initial_rows_and_only_its_own_changes() {
    let e = env().await;
    e.todos().await;
    for (tok, row) in [(&e.alice, "(1, 'alice row')"), (&e.bob, "(2, 'bob row')")] {
        e.sql(
            tok,
            &format!("INSERT INTO app.todos (id, title) VALUES {row}"),
        )
        .await;
    }
    let root = e
        .login_with("root", kalam_emulator::DEFAULT_ROOT_PASSWORD)
        .await;
    let sql = "SELECT id, title FROM app.todos";
    let titles = |batch: &Value| -> Vec<String> {
        let mut t: Vec<String> = batch["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        t
    };
    let mut r = e.authed(&root).await;
    let (_, batch) = r.initial("s", sql, json!({})).await;
    assert_eq!(titles(&batch), ["alice row", "bob row"]);
    let mut d = e.authed(&e.admin).await;
    let (_, batch) = d.initial("s", sql, json!({})).await;
    assert_eq!(batch["rows"], json!([]));
    // Alice writes first: were her change routed to root, it would be root's next frame.
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (3, 'alice later')",
    )
    .await;
    e.sql(
        &root,
        "INSERT INTO app.todos (id, title) VALUES (4, 'root row')",
    )
    .await;
    let f = r.json().await;
    assert_eq!(kind_id(&f), ("insert", "4"), "{f}");
    e.sql(
        &e.admin,
        "INSERT INTO app.todos (id, title) VALUES (5, 'admin row')",
    )
    .await;
    assert_eq!(kind_id(&d.json().await), ("insert", "5"));
}

#[tokio::test]
async fn quota_per_user_across_sockets_and_per_socket_cap() {
    let e = env_with(WsSettings::default().max_subscriptions_per_connection(12)).await;
    e.todos().await;
    let sql = "SELECT id FROM app.todos";
    let mut one = e.authed(&e.alice).await;
    let mut two = e.authed(&e.alice).await;
    for i in 0..6 {
        one.live(&format!("a{i}"), sql).await;
    }
    for i in 0..4 {
        two.live(&format!("b{i}"), sql).await;
    }
    // the 11th, on either socket
    two.subscribe("b4", sql, None).await;
    assert_eq!(
        two.json().await,
        json!({"type":"error","subscription_id":"b4","code":"SUBSCRIPTION_LIMIT_EXCEEDED",
               "message":"Maximum subscriptions reached"})
    );
    // replacing an active id is allowed; unsubscribing frees a slot
    two.live("b0", "SELECT title FROM app.todos").await;
    two.send(json!({"type":"unsubscribe","subscription_id":"b1"}))
        .await;
    two.live("b4", sql).await;
    // closing a socket frees all of its subscriptions (the server answers the close once it
    // has forgotten them)
    one.s.close(None).await.unwrap();
    assert!(matches!(one.frame().await, Frame::Close(..) | Frame::Ended));
    let mut three = e.authed(&e.alice).await;
    for i in 0..6 {
        three.live(&format!("c{i}"), sql).await;
    }
    // a user with a raised quota hits the per-socket cap instead
    let e = env_with(WsSettings::default().max_subscriptions_per_connection(3)).await;
    e.todos().await;
    let mut ws = e.authed(&e.alice).await;
    for i in 0..3 {
        ws.live(&format!("s{i}"), sql).await;
    }
    ws.subscribe("s3", sql, None).await;
    assert_eq!(
        ws.json().await,
        json!({"type":"error","subscription_id":"s3","code":"UNSUPPORTED",
               "message":"Invalid operation: Maximum subscriptions (3) per connection exceeded"})
    );
}

#[tokio::test]
async fn same_cells_over_http_initial_data_and_changes() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.admin,
        "CREATE TABLE app.types (id BIGINT PRIMARY KEY, b BOOLEAN, si SMALLINT, i INT, bi BIGINT, \
         f FLOAT, d DOUBLE, t TEXT, ts TIMESTAMP, dt DATE, dtm DATETIME, tm TIME, j JSON, bs BYTES, \
         e EMBEDDING(3), u UUID, dec DECIMAL(10, 2), dec0 DECIMAL(5, 0), fl FILE) WITH (TYPE = 'USER')",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    ws.live("ch", "SELECT * FROM app.types").await;
    e.sql(
        &e.alice,
        "INSERT INTO app.types (id, b, si, i, bi, f, d, t, ts, dt, dtm, tm, j, bs, e, u, dec, dec0) \
         VALUES (1, true, 7, 42, 9007199254740993, 0.1, 2.5, 'hi', '2025-06-01T00:00:05Z', '2025-06-01', \
         '2025-06-01T00:00:05Z', '12:34:56', '{\"a\":1}', 'hi', '[0.25, -1.0, 0.5]', \
         '0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11', -0.5, 13)",
    )
    .await;
    let changed = ws.json().await["rows"][0].clone();
    let r = e.sql(&e.alice, "SELECT * FROM app.types").await;
    let names = r["results"][0]["schema"].as_array().unwrap().iter();
    let http: serde_json::Map<String, Value> = names
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .zip(
            r["results"][0]["rows"][0]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        )
        .collect();
    assert_eq!(http["bi"], "9007199254740993");
    assert_eq!(http["dec"], "0.50");
    let (_, b) = ws
        .initial("init", "SELECT * FROM app.types", json!({}))
        .await;
    assert_eq!(b["rows"][0], Value::Object(http.clone()));
    assert_eq!(changed, Value::Object(http));
}

#[tokio::test]
async fn table_alias_and_qualified_columns() {
    let e = env().await;
    e.todos().await;
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'a')",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    let sql = "SELECT t.id, t.title FROM app.todos t WHERE t.done = false";
    let (ack, b) = ws.initial("al", sql, json!({})).await;
    assert_eq!(ack["schema"].as_array().unwrap().len(), 2);
    assert_eq!(b["rows"][0]["title"], "a");
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (2, 'b')",
    )
    .await;
    let f = ws.json().await;
    assert_eq!(kind_id(&f), ("insert", "2"));
    assert_eq!(f["rows"][0]["title"], "b");
}

#[tokio::test]
async fn stream_ttl_evicts_rows_without_events() {
    let e = env().await;
    e.sql(&e.admin, "CREATE NAMESPACE app").await;
    e.sql(
        &e.admin,
        "CREATE STREAM TABLE app.pings (id BIGINT PRIMARY KEY, body TEXT) WITH (TTL_SECONDS = 1)",
    )
    .await;
    e.sql(
        &e.admin,
        "CREATE STREAM TABLE app.keep (id BIGINT PRIMARY KEY, body TEXT) WITH (TTL_SECONDS = 3600)",
    )
    .await;
    let mut ws = e.authed(&e.alice).await;
    ws.live("p", "SELECT * FROM app.pings").await;
    e.sql(
        &e.alice,
        "INSERT INTO app.keep (id, body) VALUES (1, 'stays')",
    )
    .await;
    e.sql(&e.alice, "INSERT INTO app.pings (id, body) VALUES (1, 'a')")
        .await;
    let f = ws.json().await;
    assert_eq!(kind_id(&f), ("insert", "1"), "{f}");
    // Eviction is silent, so there is no event to await: poll SELECT until the row is gone.
    let deadline = std::time::Instant::now() + LIMIT;
    while !e
        .rows(&e.alice, "SELECT id FROM app.pings")
        .await
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "row 1 never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The key is free again, and the next frame is that insert: no delete for the eviction.
    e.sql(&e.alice, "INSERT INTO app.pings (id, body) VALUES (1, 'b')")
        .await;
    let f = ws.json().await;
    assert_eq!(kind_id(&f), ("insert", "1"), "{f}");
    assert_eq!(f["rows"][0]["body"], "b");
    // A long TTL keeps its rows.
    assert_eq!(
        e.rows(&e.alice, "SELECT id, body FROM app.keep").await,
        vec![json!(["1", "stays"])]
    );
}

#[tokio::test]
async fn rate_limits_on_messages_and_authentication() {
    // A long window makes "the next one is refused" independent of timing.
    let limits = RateLimits::default()
        .ws_messages_per_connection(Some(2))
        .auth_attempts_per_ip(Some(5))
        .window(Duration::from_secs(3600));
    let e = env_from(Emulator::builder().rate_limits(limits)).await; // 3 logins
    e.todos().await;
    let mut ws = e.authed(&e.alice).await; // attempt 4
    ws.send(json!({"type": "ping"})).await;
    ws.live("a", "SELECT id FROM app.todos").await;
    // The third message is dropped with an error frame; the connection stays open.
    ws.subscribe("b", "SELECT id FROM app.todos", None).await;
    assert_eq!(
        ws.json().await,
        json!({"type": "error", "subscription_id": "rate_limit", "code": "RATE_LIMIT_EXCEEDED",
               "message": "Rate limit exceeded: too many messages per second"})
    );
    e.sql(
        &e.alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'x')",
    )
    .await;
    let f = ws.json().await;
    assert_eq!(
        (f["subscription_id"].as_str(), kind_id(&f)),
        (Some("a"), ("insert", "1"))
    );
    // Authentication attempts are counted per IP, HTTP logins and sockets together.
    let _fifth = e.authed(&e.bob).await;
    let mut sixth = e.ws(Some(&e.bob), "?compress=false").await;
    assert_eq!(
        sixth.json().await,
        json!({"type": "auth_error", "message": "Too many authentication attempts. Please retry shortly."})
    );
    assert_eq!(
        sixth.closed().await,
        (1008, "Authentication failed".to_owned())
    );
}

/// An emulator where alice's socket subscribes to `app.big` and then reads nothing while
/// alice inserts 200 rows of 64 KiB (13 MB of frames: several times what the socket buffers
/// hold, so the socket's task blocks on its send and the notifications pile up behind it).
async fn burst_to_a_stalled_subscriber(settings: WsSettings) -> (Env, Ws) {
    let e = env_with(settings.max_subscriptions_per_user(1000)).await;
    e.sql(&e.admin, "CREATE NAMESPACE app").await;
    for t in [
        "big (id BIGINT PRIMARY KEY, body TEXT)",
        "small (id BIGINT PRIMARY KEY)",
    ] {
        e.sql(
            &e.admin,
            &format!("CREATE TABLE app.{t} WITH (TYPE = 'USER')"),
        )
        .await;
    }
    let mut ws = e.authed(&e.alice).await; // compress=false: the frames stay 64 KiB
    ws.live("big", "SELECT id, body FROM app.big").await;
    let values: Vec<String> = (1..=200)
        .map(|i| format!("({i}, repeat('x', 65536))"))
        .collect();
    e.sql(
        &e.alice,
        &format!(
            "INSERT INTO app.big (id, body) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    (e, ws)
}

#[tokio::test]
async fn notification_queue_drops_for_a_slow_subscriber() {
    let (e, mut ws) =
        burst_to_a_stalled_subscriber(WsSettings::default().notification_queue(Some(8))).await;
    // Unsubscribing discards what is still queued; the ack of a new subscription then marks
    // the end of what was delivered.
    ws.send(json!({"type": "unsubscribe", "subscription_id": "big"}))
        .await;
    ws.subscribe("small", "SELECT id FROM app.small", None)
        .await;
    let mut delivered = 0;
    loop {
        let f = ws.json().await;
        match (f["type"].as_str(), f["subscription_id"].as_str()) {
            (Some("change"), Some("big")) => delivered += 1,
            (Some("subscription_ack"), Some("small")) => break,
            _ => panic!("unexpected frame {f}"),
        }
    }
    // The queue limit dropped notifications (unsubscribing alone would not count any), and
    // no notification was both dropped and delivered.
    let dropped = e.emu.dropped_notifications();
    assert!(
        dropped > 0,
        "nothing dropped ({delivered} of 200 delivered)"
    );
    assert!(
        delivered + dropped <= 200,
        "{delivered} delivered + {dropped} dropped"
    );
    // Nothing was reported to the client, and the socket keeps working.
    e.sql(&e.alice, "INSERT INTO app.small (id) VALUES (1)")
        .await;
    let f = ws.json().await;
    assert_eq!(
        (f["subscription_id"].as_str(), kind_id(&f)),
        (Some("small"), ("insert", "1"))
    );
}

#[tokio::test]
async fn notification_queue_is_unbounded_by_default() {
    let (e, mut ws) = burst_to_a_stalled_subscriber(WsSettings::default()).await;
    for id in 1..=200 {
        let f = ws.json().await;
        assert_eq!(kind_id(&f), ("insert", id.to_string().as_str()));
        assert_eq!(f["rows"][0]["body"].as_str().map(str::len), Some(65536));
    }
    assert_eq!(e.emu.dropped_notifications(), 0);
}
