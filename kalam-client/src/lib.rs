#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod auth;
mod client;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "consumer")]
pub mod consumer;
#[cfg(feature = "consumer")]
mod consumer_record;
#[cfg(feature = "consumer")]
mod consumer_worker;
pub mod decode;
pub mod encode;
mod envelope;
mod error;
mod fetch;
#[cfg(feature = "file-uploads")]
pub mod files;
#[cfg(feature = "healthcheck")]
mod health;
mod integrations;
pub mod live;
mod macros;
mod namespaces;
mod paging;
mod query;
mod rewrite;
mod row;
#[cfg(feature = "setup")]
pub mod setup;
mod sql;
mod sqltext;
mod transport;
pub mod types;
mod wire;

#[doc(hidden)]
pub mod __private;

/// The property tests' settings: `cases` cases, no failure files written into the source tree.
#[cfg(test)]
fn proptest_config(cases: u32) -> proptest::prelude::ProptestConfig {
    proptest::prelude::ProptestConfig {
        cases,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    }
}

pub use auth::{ArcDynAuthProvider, AuthFuture, AuthProvider, DynamicAuthProvider};
pub use client::{HttpVersion, KalamClient, KalamClientBuilder};
pub use decode::FromCell;
pub use encode::{QueryParam, ToParam};
pub use error::{Error, ErrorCode, ErrorKind, Result};
#[cfg(feature = "healthcheck")]
pub use health::DEFAULT_HEALTH_CACHE_TTL;
pub use query::{Query, query, query_as};
pub use row::{ColumnSpec, KalamRow, Row, RowIndex, RowRef};
pub use types::Json;

pub use fetch::{Fetch, FetchStream};
/// Compile-time checked queries and `#[derive(KalamRow)]` (feature `macros`, on by default);
/// see the kalam-macros README.
#[cfg(feature = "macros")]
pub use kalam_macros::{
    KalamRow, execute_as, live, query, query_as, query_file, query_file_as, query_scalar,
};
pub use kalam_schema::TableKind;
pub use macros::{CheckedQuery, KalamTable, LiveSql};
pub use wire::{
    ErrorDetail, HealthCheckResponse, KalamDataType, LoginResponse, LoginUserInfo, QueryResponse,
    QueryResult, ResponseStatus, SchemaField,
};

/// The official SDK's name for the client, kept so migrating is a rename-free change.
pub type KalamLinkClient = KalamClient;
/// The official SDK's name for the client builder.
pub type KalamLinkClientBuilder = KalamClientBuilder;
