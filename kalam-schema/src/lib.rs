#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod builtins;
pub mod datum;
pub mod ddl;
pub mod error;
pub mod files;
pub mod literal;
pub mod model;
pub mod types;

#[cfg(feature = "parse")]
mod check;
#[cfg(feature = "parse")]
mod check_dml;
#[cfg(feature = "parse")]
mod check_expr;
#[cfg(feature = "parse")]
mod check_fn;
#[cfg(feature = "parse")]
pub mod describe;
#[cfg(feature = "parse")]
mod dtype;
#[cfg(feature = "parse")]
pub mod filter;
#[cfg(feature = "parse")]
mod lex;
#[cfg(feature = "parse")]
pub mod live;
#[cfg(feature = "parse")]
pub mod load;
#[cfg(feature = "parse")]
pub mod parse;
#[cfg(feature = "parse")]
pub mod shape;

pub use ddl::{AlterTableOp, DdlStatement, DdlTarget};
pub use error::{ErrorKind, Location, SchemaError};
pub use literal::render_literal;
pub use model::{
    AccessLevel, Catalog, Column, DefaultValue, Literal, Namespace, PayloadMode, Table, TableKind,
    TableOptions, Topic, TopicOp, TopicSource,
};
pub use types::{SqlType, WireEncoding, rust_type_for};

#[cfg(feature = "parse")]
pub use describe::{
    ColumnSource, OutputColumn, Param, QueryDescription, QueryKind, TableRef, describe,
};
#[cfg(feature = "parse")]
pub use live::{LiveQuery, check_live, live_query};
#[cfg(feature = "parse")]
pub use load::{LoadedSchema, apply_text, load_dir, load_str};
#[cfg(feature = "parse")]
pub use parse::{LocatedDdl, parse_ddl, parse_ddl_located};
#[cfg(feature = "parse")]
pub use shape::{
    BaseTable, Bound, ItemKind, OrderItem, OrderKey, ProjectionItem, QueryShape, SelectShape,
    query_shape,
};
