//! The `system.*` tables (protocol 8), computed from the store when a statement is planned.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use kalam_schema::{
    AccessLevel, Column, DefaultValue, Literal, Namespace, SqlType, Table, TableKind,
};

use crate::store::value::Value;
use crate::store::{Row, State, build_batch, table_schema};

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
    ];
    for t in extra {
        ns.tables.entry(t.name.clone()).or_insert(t);
    }
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
            let level = match t.options.access_level.unwrap_or_default() {
                AccessLevel::Public => "Public",
                AccessLevel::Private => "Private",
                AccessLevel::Restricted => "Restricted",
                AccessLevel::Dba => "Dba",
            };
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

/// The rows of one system table.
pub(crate) fn system_batch(st: &State, name: &str) -> Result<RecordBatch> {
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
                    let comment = if c.system && c.name == "_seq" {
                        Some("Version ID (MVCC) with embedded timestamp".to_owned())
                    } else if c.system && c.name == "_deleted" {
                        Some("Soft delete flag".to_owned())
                    } else {
                        c.comment.clone()
                    };
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
