#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod model;
pub mod types;

pub use model::{
    AccessLevel, Catalog, Column, DefaultValue, Literal, Namespace, PayloadMode, Table,
    TableKind, TableOptions, Topic, TopicOp, TopicSource,
};
pub use types::{rust_type_for, SqlType, WireEncoding};
