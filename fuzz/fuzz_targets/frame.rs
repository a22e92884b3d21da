//! Live frames: a typed live set fed an acknowledgement, then arbitrary text cut into frames
//! at newlines. Every frame is applied or refused with an error, never a panic.
#![no_main]

use kalam_client::Row;
use kalam_client::live::{LiveRowsConfig, LiveRowsMaterializer};
use libfuzzer_sys::fuzz_target;

const ACK: &str = r#"{"type":"subscription_ack","subscription_id":"s","total_rows":0,
 "batch_control":{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null},
 "schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
           {"name":"body","data_type":"Text","index":1},
           {"name":"done","data_type":"Boolean","index":2}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut typed = LiveRowsMaterializer::<(i64, Option<String>, Option<bool>)>::new(LiveRowsConfig::new());
    let mut dynamic = LiveRowsMaterializer::<Row>::new(LiveRowsConfig::new());
    if let Ok(events) = typed.apply_frame(ACK) {
        events.for_each(drop);
    }
    if let Ok(events) = dynamic.apply_frame(ACK) {
        events.for_each(drop);
    }
    for frame in text.split('\n') {
        if let Ok(events) = typed.apply_frame(frame) {
            events.for_each(drop);
        }
        if let Ok(events) = dynamic.apply_frame(frame) {
            events.for_each(drop);
        }
    }
    let _ = typed.rows().count();
    let _ = dynamic.len();
});
