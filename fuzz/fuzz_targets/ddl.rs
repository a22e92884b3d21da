//! The schema DDL parser: any text parses or fails with a located error, and what parses
//! applies to a catalog (or fails) without a panic.
#![no_main]

use kalam_schema::{Catalog, parse_ddl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_ddl(text) {
        Ok(statements) => {
            let mut catalog = Catalog::with_builtins();
            for statement in statements {
                let _ = catalog.apply(statement);
            }
        }
        Err(e) => {
            let _ = e.render(text);
        }
    }
});
