//! trybuild UI tests: one mistake per `fail` case, with its reviewed `.stderr`; `pass` cases
//! compile and run. Cases expand against `tests/ui/schema` (or `tests/ui/bad_schema`).
//!
//! `KALAM_SCHEMA_DIR` must be in the environment of the cargo that trybuild runs; setting it
//! in-process needs `unsafe` (edition 2024), so the public tests re-run this binary with the
//! variable set and the `#[ignore]`d inner tests do the work.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn run_inner(test: &str, schema: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KALAM_SCHEMA_DIR", ui_dir().join(schema))
        .status()
        .unwrap();
    assert!(status.success(), "{test} failed");
}

#[test]
fn ui() {
    run_inner("inner_ui", "schema");
    run_inner("inner_bad_schema", "bad_schema");
}

#[test]
#[ignore = "run by `ui` with KALAM_SCHEMA_DIR set"]
fn inner_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/*/pass/*.rs");
    t.compile_fail("tests/ui/*/fail/*.rs");
}

#[test]
#[ignore = "run by `ui` with KALAM_SCHEMA_DIR set"]
fn inner_bad_schema() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/bad_schema/*.rs");
}
