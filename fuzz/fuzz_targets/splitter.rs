//! The statement splitter, through a schema text of several statements: every split is
//! applied in order or fails with an error, never a panic; every statement range stays
//! inside the text.
#![no_main]

use kalam_schema::{load_str, parse_ddl_located};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = load_str(text);
    if let Ok(located) = parse_ddl_located(text, "default") {
        let mut end = 0;
        for statement in located {
            // In order, inside the text, on character boundaries.
            assert!(statement.span.start >= end && statement.span.end <= text.len());
            assert!(text.get(statement.span.clone()).is_some());
            end = statement.span.end;
        }
    }
});
