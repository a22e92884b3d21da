#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod comments;
mod config;
pub mod diff;
mod emit_rust;
pub mod emit_sql;
mod error;
mod filter;
mod generator;
mod http;
pub mod introspect;
mod naming;
mod plan;
mod pull;
mod render;
mod server_values;
mod vfs;

pub use comments::load_schemas;
pub use config::{ColumnConfig, Config, TableConfig};
pub use diff::{Drift, DriftReport, diff};
pub use error::{
    ConfigError, EmitError, Error, IntrospectError, Result, SchemaDiagnostic, SourceError,
};
pub use filter::TableFilter;
pub use generator::{CONFIG_FILE, Generated, Generator, INCLUDE_FILE, generate_rust, user_catalog};
pub use http::{Credentials, HttpSource};
pub use introspect::{ResultSet, SqlSource};
pub use pull::{Pulled, pull};
pub use vfs::{FileCheck, FileSet, FileStatus};

/// This crate's version, written into every generated file's header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
