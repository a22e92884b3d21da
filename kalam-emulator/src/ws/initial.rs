//! The initial-data queries of a subscription (protocol 3.6), run through the normal SELECT path
//! so that its quirks apply exactly as on the server: the primary-key re-sort around `LIMIT`
//! (rows come in key order when the key is projected, which makes paging lose rows) and the
//! `max_query_limit` cap of 1000 rows.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use serde_json::{Map, Value};

use super::query::LiveSql;
use crate::encode::write_cell;
use crate::engine::provider::Viewer;
use crate::engine::{Engine, QueryOutput};

/// A failed load: the error frame's code and message.
#[derive(Debug, Clone)]
pub(crate) struct LoadError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl LoadError {
    pub(crate) fn failed(message: String) -> LoadError {
        LoadError {
            code: "SUBSCRIPTION_FAILED",
            message,
        }
    }
}

/// One fetched batch.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) rows: Vec<Map<String, Value>>,
    pub(crate) has_more: bool,
    /// `_seq` of the last row sent.
    pub(crate) last_seq_id: Option<i64>,
}

/// What to fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fetch {
    /// The `batch_size` (+1 probe) lowest `_seq` rows above the cursor.
    Batch { cursor: Option<i64>, size: usize },
    /// The `last_rows` newest rows.
    Last(usize),
}

/// Runs one SELECT text for the subscriber.
async fn run(
    engine: &Engine,
    viewer: &Viewer,
    ns: &str,
    sql: &str,
) -> Result<QueryOutput, LoadError> {
    let mut stmt = crate::sql::classify::parse_one(sql)
        .map_err(|e| LoadError::failed(format!("Execution error: {e}")))?;
    crate::exec::rewrite_functions(&mut stmt);
    engine
        .select(viewer, ns, stmt, &[])
        .await
        .map_err(failed_from)
}

fn failed_from(e: datafusion::common::DataFusionError) -> LoadError {
    let se = crate::exec::error::from_datafusion(e);
    LoadError::failed(format!("Execution error: {}", se.message))
}

fn where_clause(q: &LiveSql, extra: &[String]) -> String {
    let mut conds: Vec<String> = Vec::new();
    if let Some(f) = &q.filter {
        conds.push(format!("({f})"));
    }
    conds.extend(extra.iter().cloned());
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// The projection of the initial query: the subscription's items plus `_seq`.
fn projection(q: &LiveSql) -> String {
    if q.projection.is_none() {
        return "*".into();
    }
    let mut items = q.projection_sql.clone();
    let has_seq = q
        .bare_columns()
        .is_some_and(|cols| cols.iter().any(|c| c == "_seq"));
    if !has_seq {
        items.push("_seq".into());
    }
    items.join(", ")
}

/// `SELECT <projection> FROM t [WHERE f]`: the subscription's own SQL.
fn plain_select(q: &LiveSql) -> String {
    format!(
        "SELECT {} FROM {}{}",
        q.projection_sql.join(", "),
        q.table_sql,
        where_clause(q, &[])
    )
}

/// Plans `SELECT <projection> FROM t [WHERE f]` for the subscriber: unknown columns and the like
/// fail here with the planner's text. Returns the output schema.
pub(crate) async fn validate(
    engine: &Engine,
    viewer: &Viewer,
    q: &LiveSql,
) -> Result<Schema, LoadError> {
    let sql = plain_select(q);
    let mut stmt = crate::sql::classify::parse_one(&sql)
        .map_err(|e| LoadError::failed(format!("Execution error: {e}")))?;
    crate::exec::rewrite_functions(&mut stmt);
    let state = engine.session(viewer, &q.namespace);
    let plan = engine.plan(&state, stmt, &[]).await.map_err(failed_from)?;
    Ok(plan.schema().as_arrow().clone())
}

/// The error an aliased projection gets at the initial load (observed on 0.4.3: the planner
/// looks the alias up as a column).
pub(crate) async fn alias_error(
    engine: &Engine,
    viewer: &Viewer,
    q: &LiveSql,
    alias: &str,
) -> LoadError {
    let sql = format!(
        "SELECT \"{}\" FROM {}",
        alias.replace('"', "\"\""),
        q.table_sql
    );
    let planned = match crate::sql::classify::parse_one(&sql) {
        Ok(stmt) => {
            let state = engine.session(viewer, &q.namespace);
            engine.plan(&state, stmt, &[]).await.err()
        }
        Err(_) => None,
    };
    match planned {
        Some(e) => failed_from(e),
        None => LoadError::failed(format!(
            "Execution error: Invalid operation: Schema error: No field named {alias}."
        )),
    }
}

/// The snapshot boundary: the largest `_seq` the subscriber can see through its filter.
pub(crate) async fn boundary(
    engine: &Engine,
    viewer: &Viewer,
    q: &LiveSql,
) -> Result<Option<i64>, LoadError> {
    let sql = format!(
        "SELECT MAX(_seq) FROM {}{}",
        q.table_sql,
        where_clause(q, &[])
    );
    let out = run(engine, viewer, &q.namespace, &sql).await?;
    Ok(out.batches.iter().find_map(|b| {
        let col = b.columns().first()?;
        let arr = col.as_primitive_opt::<Int64Type>()?;
        (!arr.is_empty() && !arr.is_null(0)).then(|| arr.value(0))
    }))
}

/// Fetches one batch of initial rows below `boundary` (protocol 3.6 "Initial-data query
/// semantics").
pub(crate) async fn fetch(
    engine: &Engine,
    viewer: &Viewer,
    q: &LiveSql,
    boundary: Option<i64>,
    what: Fetch,
) -> Result<Fetched, LoadError> {
    let Some(b) = boundary else {
        return Ok(Fetched::default());
    };
    let mut conds = vec![format!("_seq <= {b}")];
    let (order, limit) = match what {
        Fetch::Batch { size: 0, .. } => return Ok(Fetched::default()),
        Fetch::Batch { cursor, size } => {
            if let Some(c) = cursor {
                conds.push(format!("_seq > {c}"));
            }
            ("ASC", size.saturating_add(1))
        }
        Fetch::Last(n) => ("DESC", n.saturating_add(1)),
    };
    let sql = format!(
        "SELECT {} FROM {}{} ORDER BY _seq {order} LIMIT {limit}",
        projection(q),
        q.table_sql,
        where_clause(q, &conds)
    );
    let out = run(engine, viewer, &q.namespace, &sql).await?;
    let mut rows = encode_rows(&out)?;
    let mut fetched = Fetched::default();
    match what {
        Fetch::Batch { size, .. } => {
            fetched.has_more = rows.len() > size;
            rows.truncate(size);
        }
        Fetch::Last(n) => {
            // keep the first N (after the key re-sort, when the key is projected), newest last
            rows.truncate(n);
            rows.reverse();
        }
    }
    fetched.last_seq_id = rows.last().and_then(|(_, s)| *s);
    fetched.rows = rows.into_iter().map(|(r, _)| r).collect();
    Ok(fetched)
}

/// All rows of a `system.*` subscription (admins only): one batch, no `_seq`.
pub(crate) async fn fetch_system(
    engine: &Engine,
    viewer: &Viewer,
    q: &LiveSql,
) -> Result<Fetched, LoadError> {
    let sql = plain_select(q);
    let out = run(engine, viewer, &q.namespace, &sql).await?;
    Ok(Fetched {
        rows: encode_rows(&out)?.into_iter().map(|(r, _)| r).collect(),
        has_more: false,
        last_seq_id: None,
    })
}

/// A row object and its `_seq`.
type SeqRow = (Map<String, Value>, Option<i64>);

/// Rows as JSON objects (cells per protocol 1.8) with their `_seq`, if the output has one.
fn encode_rows(out: &QueryOutput) -> Result<Vec<SeqRow>, LoadError> {
    let mut rows = Vec::new();
    let mut cell = String::new();
    for b in &out.batches {
        let schema = b.schema();
        let seq_col = schema
            .fields()
            .iter()
            .position(|f| f.name() == "_seq" && f.data_type() == &DataType::Int64);
        for i in 0..b.num_rows() {
            let mut row = Map::new();
            for (f, col) in schema.fields().iter().zip(b.columns()) {
                cell.clear();
                write_cell(&mut cell, col, i).map_err(|e| LoadError {
                    code: "CONVERSION_ERROR",
                    message: format!("Failed to convert row: {}", e.0),
                })?;
                let v = serde_json::from_str(&cell).unwrap_or(Value::Null);
                row.insert(f.name().clone(), v);
            }
            let seq = seq_col.and_then(|k| {
                let a = b.column(k).as_primitive::<Int64Type>();
                (!a.is_null(i)).then(|| a.value(i))
            });
            rows.push((row, seq));
        }
    }
    Ok(rows)
}
