//! Shared by the benchmarks: an 8-column row type, SQL responses and live-query frames shaped
//! like the 0.4.3 server's (protocol 1.5, 3.5 and 3.7), and the official SDK's way of reading
//! the same row.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;

use kalam_client::types::{Decimal, Timestamp};
use kalam_client::{ColumnSpec, KalamRow, RowRef};

/// The benchmarks' row: eight columns of the usual types.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub title: String,
    pub done: bool,
    pub qty: Option<i32>,
    pub price: Option<Decimal>,
    pub due_at: Option<Timestamp>,
    pub score: Option<f64>,
    pub note: Option<String>,
}

impl KalamRow for Item {
    fn columns() -> &'static [ColumnSpec] {
        const C: &[ColumnSpec] = &[
            ColumnSpec::named::<i64>("id"),
            ColumnSpec::named::<String>("title"),
            ColumnSpec::named::<bool>("done"),
            ColumnSpec::named::<Option<i32>>("qty"),
            ColumnSpec::named::<Option<Decimal>>("price"),
            ColumnSpec::named::<Option<Timestamp>>("due_at"),
            ColumnSpec::named::<Option<f64>>("score"),
            ColumnSpec::named::<Option<String>>("note"),
        ];
        C
    }
    fn from_row(row: &RowRef<'_>) -> kalam_client::Result<Self> {
        Ok(Item {
            id: row.get(0)?,
            title: row.get(1)?,
            done: row.get(2)?,
            qty: row.get(3)?,
            price: row.get(4)?,
            due_at: row.get(5)?,
            score: row.get(6)?,
            note: row.get(7)?,
        })
    }
}

/// The same row read the official SDK's way (kalam-client 0.5.6-rc.0): a row map, each cell
/// through its accessor. DECIMAL becomes a lossy `f64` there.
#[derive(Debug)]
pub struct OfficialItem {
    pub id: i64,
    pub title: String,
    pub done: bool,
    pub qty: Option<i32>,
    pub price: Option<f64>,
    pub due_at: Option<i64>,
    pub score: Option<f64>,
    pub note: Option<String>,
}

impl OfficialItem {
    /// Reads one of the official SDK's row maps.
    pub fn from_map(m: &std::collections::HashMap<String, official::KalamCellValue>) -> Self {
        OfficialItem {
            id: m["id"].as_big_int().unwrap(),
            title: m["title"].as_text().unwrap().to_owned(),
            done: m["done"].as_boolean().unwrap(),
            qty: m["qty"].as_int(),
            price: m["price"].as_decimal(),
            due_at: m["due_at"].as_timestamp(),
            score: m["score"].as_double(),
            note: m["note"].as_text().map(str::to_owned),
        }
    }
}

/// The column list of [`Item`] in a SELECT.
pub const SELECT_COLUMNS: &str = "id, title, done, qty, price, due_at, score, note";

/// A streamed-path SQL response (protocol 1.5) with `rows` rows of [`Item`]'s columns.
pub fn query_response(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 130 + 1000);
    s.push_str(
        r#"{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"title","data_type":"Text","index":1,"flags":["nn"]},{"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},{"name":"qty","data_type":"Int","index":3},{"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},{"name":"due_at","data_type":"Timestamp","index":5},{"name":"score","data_type":"Double","index":6},{"name":"note","data_type":"Text","index":7}],"rows":["#,
    );
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        let note = if i % 3 == 0 {
            "null".to_owned()
        } else {
            format!("\"note number {i} with a bit of text\"")
        };
        write!(
            s,
            r#"["{id}","Todo item number {i}: buy milk",{done},{qty},"{p}.{c:02}",{ts},{score},{note}]"#,
            id = 384_961_449_138_425_856_u64 + i as u64,
            done = i % 2 == 0,
            qty = i % 1000,
            p = i % 500,
            c = i % 100,
            ts = 1_748_822_400_000_000_i64 + i as i64 * 1_000_000,
            score = i as f64 * 0.37,
        )
        .unwrap_or(());
    }
    write!(
        s,
        r#"],"row_count":{rows},"as_user":"alice"}}],"took":2.257,"error":null}}"#
    )
    .unwrap_or(());
    s
}

/// `CREATE TABLE` column list of [`Item`].
pub const COLUMNS_DDL: &str = "id BIGINT PRIMARY KEY, title TEXT NOT NULL, done BOOLEAN NOT NULL, \
     qty INT, price DECIMAL(10, 2), due_at TIMESTAMP, score DOUBLE, note TEXT";

/// The subscription's ack for `SELECT id, title, … FROM bench.items`.
pub fn ack_frame() -> String {
    r#"{"type":"subscription_ack","subscription_id":"s","total_rows":0,"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"title","data_type":"Text","index":1,"flags":["nn"]},{"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},{"name":"qty","data_type":"Int","index":3},{"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},{"name":"due_at","data_type":"Timestamp","index":5},{"name":"score","data_type":"Double","index":6},{"name":"note","data_type":"Text","index":7}]}"#.to_owned()
}

/// First `_seq` of the generated rows.
const SEQ0: i64 = 384_961_449_138_425_856;

/// One row object (the NULL `note` of every third row is absent, as in update frames).
fn row_json(out: &mut String, id: i64, version: i64, seq: i64) {
    write_row(out, id, version, seq, id % 2 == 0, id % 3 != 0);
}

/// One row object with the given `done`, and a `note` unless `with_note` is false.
fn write_row(out: &mut String, id: i64, version: i64, seq: i64, done: bool, with_note: bool) {
    let note = if with_note {
        format!(r#","note":"note {id} v{version}""#)
    } else {
        String::new()
    };
    write!(
        out,
        r#"{{"id":"{id}","title":"Item number {id}: buy milk","done":{done},"qty":{qty},"price":"{p}.{c:02}","due_at":{ts},"score":{score}{note},"_seq":"{seq}"}}"#,
        qty = (id + version) % 1000,
        p = id % 500,
        c = version % 100,
        ts = 1_748_822_400_000_000_i64 + id * 1_000_000,
        score = id as f64 * 0.37,
    )
    .unwrap_or(());
}

/// Applies every frame to `m`, handing each event to `black_box`.
pub fn apply_all<'f, T: kalam_client::KalamRow>(
    m: &mut kalam_client::live::LiveRowsMaterializer<T>,
    frames: impl IntoIterator<Item = &'f str>,
) {
    for frame in frames {
        for event in m.apply_frame(frame).unwrap() {
            std::hint::black_box(event);
        }
    }
}

/// An `initial_data_batch` frame with rows `0..n`.
pub fn initial_frame(n: i64) -> String {
    let mut s = String::with_capacity(n as usize * 220);
    s.push_str(r#"{"type":"initial_data_batch","subscription_id":"s","rows":["#);
    for id in 0..n {
        if id > 0 {
            s.push(',');
        }
        row_json(&mut s, id, 0, SEQ0 + id);
    }
    s.push_str(
        r#"],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}"#,
    );
    s
}

/// `n` change frames against a set of rows `0..rows`: 60 % updates of pseudo-random live
/// rows, 20 % inserts of new rows, 20 % deletes of the oldest live rows (the set size stays
/// at `rows`).
pub fn change_frames(rows: i64, n: usize) -> Vec<String> {
    let mut live: std::collections::VecDeque<i64> = (0..rows).collect();
    let mut next_id = rows;
    let mut seq = SEQ0 + rows;
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut frames = Vec::with_capacity(n);
    for i in 0..n {
        seq += 1;
        let mut s = String::with_capacity(400);
        match i % 5 {
            0..=2 => {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let id = live[(rng >> 33) as usize % live.len()];
                s.push_str(
                    r#"{"type":"change","subscription_id":"s","change_type":"update","rows":["#,
                );
                row_json(&mut s, id, i as i64, seq);
                write!(
                    s,
                    r#"],"old_values":[{{"id":"{id}","qty":1,"_seq":"{}"}}]}}"#,
                    seq - 1
                )
                .unwrap_or(());
            }
            3 => {
                let id = next_id;
                next_id += 1;
                live.push_back(id);
                s.push_str(
                    r#"{"type":"change","subscription_id":"s","change_type":"insert","rows":["#,
                );
                row_json(&mut s, id, 0, seq);
                s.push_str("]}");
            }
            _ => {
                let id = live.pop_front().unwrap_or(0);
                s.push_str(r#"{"type":"change","subscription_id":"s","change_type":"delete","old_values":["#);
                row_json(&mut s, id, 0, seq);
                s.push_str("]}");
            }
        }
        frames.push(s);
    }
    frames
}

/// A server frame in the official SDK's shapes.
#[derive(serde::Deserialize)]
struct OfficialFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    change_type: Option<String>,
    #[serde(default)]
    rows: Option<Vec<official::RowData>>,
    #[serde(default)]
    old_values: Option<Vec<official::RowData>>,
    #[serde(default)]
    batch_control: Option<official::models::BatchControl>,
}

/// Parses a frame into the official SDK's `ChangeEvent` (what its WebSocket reader does).
pub fn official_event(frame: &str) -> Option<official::ChangeEvent> {
    let f: OfficialFrame = serde_json::from_str(frame).ok()?;
    let subscription_id = "s".to_owned();
    match (f.kind.as_str(), f.change_type.as_deref()) {
        ("initial_data_batch", _) => Some(official::ChangeEvent::InitialDataBatch {
            subscription_id,
            rows: f.rows.unwrap_or_default(),
            batch_control: f.batch_control?,
        }),
        ("change", Some("insert")) => Some(official::ChangeEvent::Insert {
            subscription_id,
            rows: f.rows.unwrap_or_default(),
        }),
        ("change", Some("update")) => Some(official::ChangeEvent::Update {
            subscription_id,
            rows: f.rows.unwrap_or_default(),
            old_rows: f.old_values.unwrap_or_default(),
        }),
        ("change", Some("delete")) => Some(official::ChangeEvent::Delete {
            subscription_id,
            old_rows: f.old_values.unwrap_or_default(),
        }),
        _ => None,
    }
}

/// The task tracker as frames: `rows` tasks, every other one done, then `n` changes (60 %
/// updates that set `done` at random, so that rows move into and out of `done = false`; 20 %
/// inserts; 20 % deletes of the oldest rows). Returns the initial frame of the open tasks
/// (what `SELECT … WHERE done = false` reads) and every change frame with whether the
/// server's live filter sends it for `done = false` (the new row, or the tombstone, is open).
pub fn task_frames(rows: i64, n: usize) -> (String, Vec<(String, bool)>) {
    let mut done: std::collections::HashMap<i64, bool> =
        (0..rows).map(|id| (id, id % 2 == 0)).collect();
    let mut initial =
        String::from(r#"{"type":"initial_data_batch","subscription_id":"s","rows":["#);
    let mut first = true;
    for id in 0..rows {
        if !done[&id] {
            if !first {
                initial.push(',');
            }
            first = false;
            write_row(&mut initial, id, 0, SEQ0 + id, false, true);
        }
    }
    initial.push_str(
        r#"],"batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}}"#,
    );
    let mut live: std::collections::VecDeque<i64> = (0..rows).collect();
    let mut next_id = rows;
    let mut seq = SEQ0 + rows;
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    let mut random = move || {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        rng >> 33
    };
    let mut frames = Vec::with_capacity(n);
    for i in 0..n {
        seq += 1;
        let mut s = String::with_capacity(400);
        let open = match i % 5 {
            0..=2 => {
                let id = live[random() as usize % live.len()];
                let now_done = random() % 2 == 0;
                done.insert(id, now_done);
                s.push_str(
                    r#"{"type":"change","subscription_id":"s","change_type":"update","rows":["#,
                );
                write_row(&mut s, id, i as i64, seq, now_done, true);
                write!(
                    s,
                    r#"],"old_values":[{{"id":"{id}","done":{},"_seq":"{}"}}]}}"#,
                    !now_done,
                    seq - 1
                )
                .unwrap_or(());
                !now_done
            }
            3 => {
                let id = next_id;
                next_id += 1;
                live.push_back(id);
                let now_done = random() % 2 == 0;
                done.insert(id, now_done);
                s.push_str(
                    r#"{"type":"change","subscription_id":"s","change_type":"insert","rows":["#,
                );
                write_row(&mut s, id, 0, seq, now_done, true);
                s.push_str("]}");
                !now_done
            }
            _ => {
                let id = live.pop_front().unwrap_or(0);
                let was_done = done.remove(&id).unwrap_or(false);
                s.push_str(r#"{"type":"change","subscription_id":"s","change_type":"delete","old_values":["#);
                write_row(&mut s, id, 0, seq, was_done, true);
                s.push_str("]}");
                !was_done
            }
        };
        frames.push((s, open));
    }
    (initial, frames)
}
