//! Row decoding: one raw JSON cell into every scalar Rust type of the type table, with and
//! without a reported column type. A value or a typed error, never a panic.
#![no_main]

use kalam_client::decode::{Cell, FromCell};
use kalam_client::types::{Date, Decimal, FileRef, JsonValue, Time, Timestamp, Uuid};
use kalam_schema::SqlType;
use libfuzzer_sys::fuzz_target;

fn all(cell: Cell<'_>) {
    let _ = i64::from_cell(&cell);
    let _ = i32::from_cell(&cell);
    let _ = i16::from_cell(&cell);
    let _ = f64::from_cell(&cell);
    let _ = bool::from_cell(&cell);
    let _ = String::from_cell(&cell);
    let _ = Option::<i64>::from_cell(&cell);
    let _ = Decimal::from_cell(&cell);
    let _ = Timestamp::from_cell(&cell);
    let _ = Date::from_cell(&cell);
    let _ = Time::from_cell(&cell);
    let _ = Uuid::from_cell(&cell);
    let _ = JsonValue::from_cell(&cell);
    let _ = FileRef::from_cell(&cell);
    let _ = Vec::<u8>::from_cell(&cell);
    let _ = Vec::<f32>::from_cell(&cell);
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // Only what a JSON parser would hand over as one value reaches `Cell` in the client.
    if serde_json::from_str::<&serde_json::value::RawValue>(raw).is_err() {
        return;
    }
    for ty in [None, Some(SqlType::BigInt), Some(SqlType::Text), Some(SqlType::Timestamp)] {
        all(Cell::new(raw, "c", ty));
    }
});
