//! The query checker: any text against a catalog with every column type is described or
//! refused with a located error, never a panic.
#![no_main]

use std::sync::OnceLock;

use kalam_schema::{Catalog, describe, live_query, load_str};
use libfuzzer_sys::fuzz_target;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        load_str(
            "CREATE NAMESPACE app;
             CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL, done BOOLEAN,
               due_at TIMESTAMP, price DECIMAL(10, 2), tags JSON, n INT, f DOUBLE, d DATE, u UUID);
             CREATE SHARED TABLE app.rooms (name TEXT PRIMARY KEY, owner BIGINT)",
        )
        .expect("the fuzz catalog loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = describe(catalog(), sql, Some("app")) {
        let _ = e.render(sql);
    }
    let _ = live_query(sql);
});
