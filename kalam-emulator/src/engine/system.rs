//! The `system.*` tables (protocol 8), computed from the store when a statement is planned.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use kalam_schema::{
    AccessLevel, Column, DefaultValue, Literal, Namespace, PayloadMode, SqlType, Table, TableKind,
};

use crate::store::value::Value;
use crate::store::{Row, State, build_batch, table_schema};
use crate::topics::Topics;

/// Built-in tables listed in `system.tables` (ten on 0.4.3-rc.4).
pub(crate) const BUILTIN_TABLES: &[&str] = &[
    "audit_log",
    "job_nodes",
    "jobs",
    "manifest",
    "namespaces",
    "schemas",
    "storages",
    "topic_offsets",
    "topics",
    "users",
];

/// Adds the system tables the schema crate does not model (`users`, `storages`) to the
/// catalog's `system` namespace.
pub(crate) fn add_extra_system_tables(ns: &mut Namespace) {
    use SqlType::*;
    let extra = [
        Table::system(
            "users",
            Some("user_id"),
            &[
                ("user_id", Text, false),
                ("username", Text, false),
                ("role", Text, false),
                ("email", Text, true),
                ("auth_type", Text, false),
                ("created_at", Timestamp, false),
                ("updated_at", Timestamp, false),
                ("deleted_at", Timestamp, true),
            ],
        ),
        Table::system(
            "storages",
            Some("storage_id"),
            &[
                ("storage_id", Text, false),
                ("storage_name", Text, false),
                ("storage_type", Text, false),
                ("base_directory", Text, false),
                ("created_at", Timestamp, false),
            ],
        ),
        // Protocol 8.4 names the columns of `system.schemas` in this order; the types are the
        // emulator's reading of the server's definition (not observed on the wire).
        Table::system(
            "schemas",
            Some("table_id"),
            &[
                ("table_id", Text, false),
                ("table_name", Text, false),
                ("namespace_id", Text, false),
                ("table_type", Text, false),
                ("created_at", Timestamp, false),
                ("schema_version", Int, false),
                ("columns", Json, false),
                ("table_comment", Text, true),
                ("updated_at", Timestamp, false),
                ("options", Json, true),
                ("access_level", Text, true),
                ("is_latest", Boolean, false),
                ("storage_id", Text, true),
                ("use_user_storage", Boolean, true),
            ],
        ),
        // `system.topics` and `system.topic_offsets`: the protocol names the tables only
        // (5.1, 5.4); columns, types and order are the emulator's reading of the server's
        // definitions.
        Table::system(
            "topics",
            Some("topic_id"),
            &[
                ("topic_id", Text, false),
                ("name", Text, false),
                ("alias", Text, true),
                ("partitions", Int, false),
                ("retention_seconds", BigInt, true),
                ("retention_max_bytes", BigInt, true),
                ("routes", Json, false),
                ("created_at", Timestamp, false),
                ("updated_at", Timestamp, false),
            ],
        ),
        topic_offsets_table(),
    ];
    for t in extra {
        ns.tables.entry(t.name.clone()).or_insert(t);
    }
}

/// `system.topic_offsets`, keyed by (topic_id, group_id, partition_id).
fn topic_offsets_table() -> Table {
    use SqlType::*;
    let mut t = Table::system(
        "topic_offsets",
        Some("topic_id"),
        &[
            ("topic_id", Text, false),
            ("group_id", Text, false),
            ("partition_id", Int, false),
            ("last_acked_offset", BigInt, false),
            ("updated_at", Timestamp, false),
        ],
    );
    for c in &mut t.columns {
        c.primary_key = matches!(c.name.as_str(), "topic_id" | "group_id" | "partition_id");
    }
    t
}

/// Retention of a new topic (protocol 5.1: 7 days / 1 GiB).
const TOPIC_RETENTION_SECONDS: i64 = 7 * 24 * 3600;
const TOPIC_RETENTION_BYTES: i64 = 1 << 30;

/// A column's `default_value` in the `columns` JSON of `system.schemas` (protocol 8.4).
fn default_json(c: &Column) -> serde_json::Value {
    use serde_json::json;
    if c.system && c.name == "_deleted" {
        return json!({"Literal": false});
    }
    let call = |name: &str| json!({"FunctionCall": {"name": name, "args": []}});
    match &c.default {
        None => json!("None"),
        Some(DefaultValue::SnowflakeId) => call("SNOWFLAKE_ID"),
        Some(DefaultValue::UuidV7) => call("UUID_V7"),
        Some(DefaultValue::Ulid) => call("ULID"),
        Some(DefaultValue::Now) => call("NOW"),
        Some(DefaultValue::CurrentUser) => call("CURRENT_USER"),
        Some(DefaultValue::Literal(l)) => json!({"Literal": match l {
            Literal::Null => serde_json::Value::Null,
            Literal::Bool(b) => json!(b),
            Literal::Number(n) => serde_json::from_str(n).unwrap_or_else(|_| json!(n)),
            Literal::String(s) => json!(s),
        }}),
    }
}

/// The comment `system.columns` and `system.schemas` show for a column.
fn column_comment(c: &Column) -> Option<String> {
    if c.system && c.name == "_seq" {
        Some("Version ID (MVCC) with embedded timestamp".to_owned())
    } else if c.system && c.name == "_deleted" {
        Some("Soft delete flag".to_owned())
    } else {
        c.comment.clone()
    }
}

fn access_level_name(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Public => "Public",
        AccessLevel::Private => "Private",
        AccessLevel::Restricted => "Restricted",
        AccessLevel::Dba => "Dba",
    }
}

/// One `system.schemas` row: a version of a table definition.
fn schema_row(
    t: &Table,
    version: u64,
    created_ms: i64,
    updated_ms: i64,
    latest: bool,
) -> Vec<Value> {
    let columns: Vec<serde_json::Value> = t
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "column_id": c.ordinal,
                "column_name": c.name,
                "column_comment": column_comment(c),
                "data_type": serde_json::from_str::<serde_json::Value>(&c.ty.wire_json())
                    .unwrap_or(serde_json::Value::Null),
                "default_value": default_json(c),
                "ordinal_position": c.ordinal,
                "is_nullable": c.nullable,
                "is_primary_key": c.primary_key,
                "is_partition_key": false,
            })
        })
        .collect();
    let storage = match t.kind {
        TableKind::User | TableKind::Shared => text("local"),
        _ => Value::Null,
    };
    vec![
        text(format!("{}:{}", t.namespace, t.name)),
        text(t.name.clone()),
        text(t.namespace.clone()),
        text(t.kind.as_str()),
        Value::Timestamp(created_ms * 1000),
        Value::Int(i32::try_from(version).unwrap_or(i32::MAX)),
        Value::Json(serde_json::Value::Array(columns).to_string()),
        opt_text(t.comment.clone()),
        Value::Timestamp(updated_ms * 1000),
        Value::Json(options_json(t)),
        match t.kind {
            TableKind::Shared => text(access_level_name(
                t.options.access_level.unwrap_or_default(),
            )),
            _ => Value::Null,
        },
        Value::Bool(latest),
        storage,
        match t.kind {
            TableKind::User => Value::Bool(false),
            _ => Value::Null,
        },
    ]
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn opt_text(s: Option<String>) -> Value {
    s.map(Value::Text).unwrap_or(Value::Null)
}

/// `system.columns.default_value` text (protocol 8.3).
fn default_text(c: &Column) -> Option<String> {
    if c.system && c.name == "_deleted" {
        return Some("Bool(false)".into());
    }
    Some(match c.default.as_ref()? {
        DefaultValue::SnowflakeId => "SNOWFLAKE_ID()".into(),
        DefaultValue::UuidV7 => "UUID_V7()".into(),
        DefaultValue::Ulid => "ULID()".into(),
        DefaultValue::Now => "NOW()".into(),
        DefaultValue::CurrentUser => "CURRENT_USER()".into(),
        DefaultValue::Literal(Literal::Null) => "Null".into(),
        DefaultValue::Literal(Literal::Bool(b)) => format!("Bool({b})"),
        DefaultValue::Literal(Literal::Number(n)) => format!("Number({n})"),
        DefaultValue::Literal(Literal::String(s)) => format!("String({s:?})"),
    })
}

/// The `options` JSON text of `system.tables` (internally tagged, protocol 8.2).
pub(crate) fn options_json(t: &Table) -> String {
    match t.kind {
        TableKind::User => r#"{"table_type":"USER","storage_id":"local","use_user_storage":false,"flush_policy":null,"compression":"snappy"}"#.into(),
        TableKind::Shared => {
            let level = access_level_name(t.options.access_level.unwrap_or_default());
            format!(
                r#"{{"table_type":"SHARED","storage_id":"local","access_level":"{level}","flush_policy":null,"compression":"snappy"}}"#
            )
        }
        TableKind::Stream => format!(
            r#"{{"table_type":"STREAM","ttl_seconds":{},"eviction_strategy":"time_based","max_stream_size_bytes":0,"compression":"snappy"}}"#,
            t.options.ttl_seconds.unwrap_or(0)
        ),
        TableKind::System => r#"{"table_type":"SYSTEM","read_only":true,"enable_cache":true,"cache_ttl_seconds":300,"localhost_only":false}"#.into(),
    }
}

/// The rows of one system table (`topics`: the offsets of `system.topic_offsets`).
pub(crate) fn system_batch(st: &State, topics: &Topics, name: &str) -> Result<RecordBatch> {
    let def = st
        .catalog
        .table("system", name)
        .ok_or_else(|| DataFusionError::Plan(format!("table 'system.{name}' not found")))?;
    let rows: Vec<Vec<Value>> = match name {
        "namespaces" => st
            .catalog
            .namespaces
            .keys()
            .filter(|n| n.as_str() != "system")
            .map(|n| {
                let created = st.namespaces.get(n).map(|m| m.created_at_ms).unwrap_or(0);
                vec![
                    text(n.clone()),
                    text(n.clone()),
                    Value::Timestamp(created),
                    Value::Json("{}".into()),
                    Value::Int(0),
                ]
            })
            .collect(),
        "tables" => {
            let mut rows = Vec::new();
            for t in st.catalog.tables().filter(|t| t.kind != TableKind::System) {
                let ts = st.tables.get(&(t.namespace.clone(), t.name.clone()));
                let created = ts.map(|s| s.created_at_ms).unwrap_or(0) * 1000;
                let updated = ts.map(|s| s.updated_at_ms).unwrap_or(0) * 1000;
                let version = ts.map(|s| s.version).unwrap_or(1);
                let storage = match t.kind {
                    TableKind::User | TableKind::Shared => Value::Text("local".into()),
                    _ => Value::Null,
                };
                rows.push(vec![
                    text(t.namespace.clone()),
                    text(t.name.clone()),
                    text(t.kind.as_str()),
                    storage,
                    Value::BigInt(i64::try_from(version).unwrap_or(i64::MAX)),
                    text(options_json(t)),
                    opt_text(t.comment.clone()),
                    Value::Timestamp(updated),
                    Value::Timestamp(created),
                ]);
            }
            let sys = SYSTEM_CREATED.get_or_init(crate::time::now_ms) * 1000;
            for b in BUILTIN_TABLES {
                rows.push(vec![
                    text("system"),
                    text(*b),
                    text("system"),
                    Value::Null,
                    Value::BigInt(1),
                    text(options_json(&Table::system(b, None, &[]))),
                    Value::Null,
                    Value::Timestamp(sys),
                    Value::Timestamp(sys),
                ]);
            }
            rows
        }
        "columns" => {
            let mut rows = Vec::new();
            for t in st.catalog.tables() {
                let version = st
                    .tables
                    .get(&(t.namespace.clone(), t.name.clone()))
                    .map(|s| s.version)
                    .unwrap_or(1);
                let version = i64::try_from(version).unwrap_or(i64::MAX);
                for c in &t.columns {
                    let comment = column_comment(c);
                    rows.push(vec![
                        text(t.namespace.clone()),
                        text(t.name.clone()),
                        Value::BigInt(version),
                        Value::BigInt(i64::from(c.ordinal)),
                        text(c.name.clone()),
                        opt_text(comment),
                        text(c.ty.sql_name()),
                        opt_text(default_text(c)),
                        Value::BigInt(i64::from(c.ordinal)),
                        Value::Bool(c.nullable),
                        Value::Bool(c.primary_key),
                        if c.primary_key {
                            Value::BigInt(1)
                        } else {
                            Value::Null
                        },
                    ]);
                }
            }
            rows
        }
        "users" => st
            .users
            .values()
            .map(|u| {
                vec![
                    text(u.id.clone()),
                    text(u.id.clone()),
                    text(u.role.as_str()),
                    opt_text(u.email.clone()),
                    text("password"),
                    Value::Timestamp(u.created_at_ms),
                    Value::Timestamp(u.updated_at_ms),
                    u.deleted_at_ms.map(Value::Timestamp).unwrap_or(Value::Null),
                ]
            })
            .collect(),
        "schemas" => {
            let mut rows = Vec::new();
            for t in st.catalog.tables().filter(|t| t.kind != TableKind::System) {
                let Some(ts) = st.tables.get(&(t.namespace.clone(), t.name.clone())) else {
                    continue;
                };
                for past in &ts.history {
                    rows.push(schema_row(
                        &past.def,
                        past.version,
                        ts.created_at_ms,
                        past.updated_at_ms,
                        false,
                    ));
                }
                rows.push(schema_row(
                    t,
                    ts.version,
                    ts.created_at_ms,
                    ts.updated_at_ms,
                    true,
                ));
            }
            let sys = *SYSTEM_CREATED.get_or_init(crate::time::now_ms);
            for t in st.catalog.tables().filter(|t| t.kind == TableKind::System) {
                rows.push(schema_row(t, 1, sys, sys, true));
            }
            rows
        }
        "topics" => st
            .catalog
            .namespaces
            .values()
            .flat_map(|ns| ns.topics.values())
            .map(|t| {
                let id = format!("{}.{}", t.namespace, t.name);
                let meta = st.topics.get(&(t.namespace.clone(), t.name.clone()));
                let routes: Vec<serde_json::Value> = t
                    .sources
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "table_id": {"namespace_id": r.namespace, "table_name": r.table},
                            "op": r.op.as_str(),
                            "payload_mode": match r.payload {
                                PayloadMode::Key => "Key",
                                PayloadMode::Full => "Full",
                                PayloadMode::Diff => "Diff",
                            },
                            "filter_expr": r.filter,
                            "partition_key_expr": null,
                        })
                    })
                    .collect();
                // Milliseconds in TIMESTAMP columns, like `system.namespaces.created_at`.
                vec![
                    text(id.clone()),
                    text(id),
                    Value::Null,
                    Value::Int(i32::try_from(t.partitions).unwrap_or(i32::MAX)),
                    Value::BigInt(TOPIC_RETENTION_SECONDS),
                    Value::BigInt(TOPIC_RETENTION_BYTES),
                    Value::Json(serde_json::Value::Array(routes).to_string()),
                    Value::Timestamp(meta.map_or(0, |m| m.created_at_ms)),
                    Value::Timestamp(meta.map_or(0, |m| m.updated_at_ms)),
                ]
            })
            .collect(),
        "topic_offsets" => topics
            .committed(&st.catalog)
            .into_iter()
            .map(|o| {
                vec![
                    text(o.topic),
                    text(o.group),
                    Value::Int(i32::try_from(o.partition).unwrap_or(i32::MAX)),
                    Value::BigInt(i64::try_from(o.offset).unwrap_or(i64::MAX)),
                    Value::Timestamp(o.updated_at_us),
                ]
            })
            .collect(),
        "storages" => vec![vec![
            text("local"),
            text("Local Storage"),
            text("filesystem"),
            text("./data/storage"),
            Value::Timestamp(*SYSTEM_CREATED.get_or_init(crate::time::now_ms)),
        ]],
        _ => Vec::new(),
    };
    let rows: Vec<Arc<Row>> = rows
        .into_iter()
        .map(|values| {
            Arc::new(Row {
                values,
                seq: 0,
                deleted: false,
                commit_seq: 0,
            })
        })
        .collect();
    let refs: Vec<&Arc<Row>> = rows.iter().collect();
    build_batch(def, &table_schema(def), &refs).map_err(DataFusionError::Execution)
}

static SYSTEM_CREATED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// [`add_extra_system_tables`] on the store state's catalog.
pub(crate) fn add_extra_system_tables_state(st: &mut State) {
    if let Some(ns) = st.catalog.namespaces.get_mut("system") {
        add_extra_system_tables(ns);
    }
}
