use kalam_client::KalamRow;
use kalam_client::types::{Date, DateTime, Decimal, FileRef, JsonValue, Time, Timestamp, Uuid};

#[derive(KalamRow)]
#[kalam(table = "types.all_types")]
struct AllTypes {
    id: i64,
    b: bool,
    i16: i16,
    i32: i64,
    i64: i64,
    f32: f64,
    f64: f64,
    dec: Decimal,
    txt: String,
    ts: Timestamp,
    dt: Option<DateTime>,
    d: Date,
    t: Time,
    u: Uuid,
    j: JsonValue,
    bin: Vec<u8>,
    emb: Vec<f32>,
    f: Option<FileRef>,
    opt_text: Option<String>,
    opt_int: Option<i32>,
}

fn main() {
    assert_eq!(AllTypes::columns().len(), 20);
}
