//! Quick start.
fn main() {}
