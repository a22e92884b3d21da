//! Conformance of `kalam-emulator` with the official KalamDB Rust SDK (`kalam-client`
//! 0.5.6-rc.0 from crates.io). The tests live in `tests/official_sdk.rs`; this library is empty.
