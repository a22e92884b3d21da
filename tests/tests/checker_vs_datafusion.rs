//! kalam-schema's query checker against DataFusion, the engine KalamDB runs on.
//!
//! Every case of `kalam-schema/tests/fixtures/queries.sql` that returns rows is planned by
//! DataFusion over empty tables built from the same catalog, and each output column's type and
//! nullability must agree with what `kalam_schema::describe` says. DataFusion's Arrow types are
//! mapped to KalamDB types with the server's rule (protocol 1.7): a plain column reference keeps
//! its table column's KalamDB type (carried in Arrow field metadata, as the server does), any
//! other expression is derived from its Arrow type, and Arrow types without a KalamDB
//! counterpart are `Text`.
//!
//! Cases tagged `-- df: skip <why>` use KalamDB-only syntax and are not planned. Deliberate
//! differences are listed in `DELIBERATE` below and in kalam-schema's README.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use kalam_schema::{Catalog, QueryKind, SqlType, describe, load_dir};

const META_KEY: &str = "kalam_data_type";

/// Queries whose answer differs from DataFusion's on purpose, with the reason.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "SELECT STARTS_WITH(title, 'a') AS s FROM app.todos",
        "function results are typed from the engine's function catalog, before the optimizer \
         rewrites starts_with to LIKE (whose nullability is its inputs')",
    ),
    (
        "SELECT ARRAY[1, 2] AS a, title SIMILAR TO 'a%' AS s FROM app.todos",
        "a list is typed JSON (its cells are JSON arrays, which JsonValue holds) where the server \
         reports TEXT, and make_array's result is nullable before the optimizer folds the constant",
    ),
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("kalam-schema/tests/fixtures")
}

fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Boolean => DataType::Boolean,
        SqlType::SmallInt => DataType::Int16,
        SqlType::Int => DataType::Int32,
        SqlType::BigInt => DataType::Int64,
        SqlType::Float => DataType::Float32,
        SqlType::Double => DataType::Float64,
        SqlType::Text | SqlType::Json | SqlType::File => DataType::Utf8,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time64(TimeUnit::Microsecond),
        SqlType::Bytes => DataType::Binary,
        SqlType::Uuid => DataType::FixedSizeBinary(16),
        SqlType::Embedding(n) => DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, false)),
            i32::try_from(n).unwrap(),
        ),
        SqlType::Decimal { precision, scale } => {
            DataType::Decimal128(precision, i8::try_from(scale).unwrap())
        }
    }
}

/// The server's Arrow → KalamDB mapping for result columns (protocol 1.7).
///
/// DataFusion copies a column's field metadata onto an aliased cast of it, which is how the
/// real server ends up describing `CAST(qty AS BIGINT) AS q` as `INT` (protocol 1.7: metadata is
/// a hint). The checker describes the data instead, so the metadata is trusted only when it
/// agrees with the field's actual Arrow type.
fn kalam_type_of(field: &Field) -> String {
    if let Some(t) = field.metadata().get(META_KEY)
        && SqlType::from_sql_name(t).is_some_and(|ty| &arrow_type(ty) == field.data_type())
    {
        return t.clone();
    }
    let t = match field.data_type() {
        DataType::Boolean => SqlType::Boolean,
        DataType::Int16 => SqlType::SmallInt,
        DataType::Int32 => SqlType::Int,
        DataType::Int64 => SqlType::BigInt,
        DataType::Float32 => SqlType::Float,
        DataType::Float64 => SqlType::Double,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Text,
        DataType::Timestamp(_, None) => SqlType::Timestamp,
        DataType::Timestamp(_, Some(_)) => SqlType::DateTime,
        DataType::Date32 | DataType::Date64 => SqlType::Date,
        DataType::Time32(_) | DataType::Time64(_) => SqlType::Time,
        DataType::FixedSizeBinary(16) => SqlType::Uuid,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytes,
        DataType::FixedSizeBinary(_) => SqlType::Bytes,
        DataType::Decimal128(p, s) => SqlType::Decimal {
            precision: *p,
            scale: u8::try_from(*s).unwrap_or(0),
        },
        DataType::FixedSizeList(item, n) if item.data_type() == &DataType::Float32 => {
            SqlType::Embedding(u32::try_from(*n).unwrap_or(0))
        }
        _ => SqlType::Text,
    };
    t.sql_name()
}

async fn session(catalog: &Catalog) -> SessionContext {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema("kalam", "default")
        .with_create_default_catalog_and_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let cat = ctx.catalog("kalam").unwrap();
    for (ns_name, ns) in &catalog.namespaces {
        let schema = Arc::new(MemorySchemaProvider::new());
        for (name, table) in &ns.tables {
            let fields: Vec<Field> = table
                .columns
                .iter()
                .map(|c| {
                    Field::new(&c.name, arrow_type(c.ty), c.nullable)
                        .with_metadata(HashMap::from([(META_KEY.to_owned(), c.ty.sql_name())]))
                })
                .collect();
            let mem = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]]).unwrap();
            datafusion::catalog::SchemaProvider::register_table(
                schema.as_ref(),
                name.clone(),
                Arc::new(mem),
            )
            .unwrap();
        }
        cat.register_schema(ns_name, schema).unwrap();
    }
    ctx
}

struct Case {
    sql: String,
    skip: Option<String>,
}

/// Parses the shared case file: cases separated by blank lines; comment lines first.
fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("queries.sql")).unwrap();
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut skip = None;
        let mut sql = Vec::new();
        for line in block.lines() {
            let t = line.trim();
            if let Some(c) = t.strip_prefix("--") {
                if let Some(why) = c.trim().strip_prefix("df: skip") {
                    skip = Some(why.trim().to_owned());
                }
            } else if !t.is_empty() {
                sql.push(line);
            }
        }
        if !sql.is_empty() {
            out.push(Case {
                sql: sql.join("\n"),
                skip,
            });
        }
    }
    out
}

#[tokio::test]
async fn checker_agrees_with_datafusion() {
    let catalog = load_dir(fixtures().join("schema")).unwrap().catalog;
    let ctx = session(&catalog).await;
    let deliberate: HashMap<&str, &str> = DELIBERATE.iter().copied().collect();
    let all = cases();
    assert!(
        all.len() >= 150,
        "expected at least 150 cases, got {}",
        all.len()
    );

    let mut compared = 0;
    let mut failures = Vec::new();
    for case in &all {
        if case.skip.is_some() || deliberate.contains_key(case.sql.as_str()) {
            continue;
        }
        let ours = match describe(&catalog, &case.sql, None) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}\n  checker error: {e}", case.sql));
                continue;
            }
        };
        if !matches!(ours.kind, QueryKind::Select) || !ours.params.is_empty() {
            // DataFusion cannot type untyped placeholders on its own; DML has no output.
            continue;
        }
        let sql = case.sql.replace("CURRENT_USER()", "'u'");
        // The analyzed and optimized logical plan: type coercion has run, as in the server's
        // result schema.
        let state = ctx.state();
        let plan = match state.create_logical_plan(&sql).await {
            Ok(p) => state.optimize(&p),
            Err(e) => Err(e),
        };
        let plan = match plan {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}\n  datafusion cannot plan it: {e}", case.sql));
                continue;
            }
        };
        compared += 1;
        let df_schema = plan.schema();
        if df_schema.fields().len() != ours.columns.len() {
            failures.push(format!(
                "{}\n  column count: ours {} datafusion {}",
                case.sql,
                ours.columns.len(),
                df_schema.fields().len()
            ));
            continue;
        }
        for (col, field) in ours.columns.iter().zip(df_schema.fields()) {
            let df_type = kalam_type_of(field);
            if df_type != col.ty.sql_name() || field.is_nullable() != col.nullable {
                failures.push(format!(
                    "{}\n  column `{}`: ours {} {} / datafusion `{}` {} {} (arrow {})",
                    case.sql,
                    col.name,
                    col.ty,
                    if col.nullable { "null" } else { "not null" },
                    field.name(),
                    df_type,
                    if field.is_nullable() {
                        "null"
                    } else {
                        "not null"
                    },
                    field.data_type()
                ));
            }
        }
    }
    eprintln!("{compared} cases compared with DataFusion");
    assert!(compared >= 100, "only {compared} cases were compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} compared cases disagree with DataFusion:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
