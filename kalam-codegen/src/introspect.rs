//! `system.namespaces`, `system.tables` and `system.columns` rows → [`Catalog`] (protocol 8).
//!
//! The rows come from any [`SqlSource`]: [`HttpSource`](crate::HttpSource) talks to a server;
//! tests can hand in rows directly through [`IntrospectionRows`].

use std::collections::BTreeMap;
use std::future::Future;

use kalam_schema::{Catalog, Column, Namespace, SqlType, Table, TableKind, TableOptions};
use serde_json::Value;

use crate::error::{IntrospectError, SourceError};
use crate::filter::TableFilter;
pub use crate::server_values::{parse_default, parse_options};

/// The server's row cap per SELECT (protocol 1.3 step 9); introspection pages by this size.
pub const PAGE_SIZE: usize = 1000;

/// A result set: column names and positional rows of JSON cells (protocol 1.4, 1.8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows; `rows[i][j]` belongs to `columns[j]`.
    pub rows: Vec<Vec<Value>>,
}

/// Something that runs one SELECT and returns its rows: a server over HTTP, or a client.
pub trait SqlSource {
    /// Runs `sql` and returns its only result set.
    fn query(&mut self, sql: &str) -> impl Future<Output = Result<ResultSet, SourceError>> + Send;
}

/// One row of `system.tables`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// `namespace_id`
    pub namespace_id: String,
    /// `table_name`
    pub table_name: String,
    /// `table_type`: `user`, `shared`, `stream` (lower case)
    pub table_type: String,
    /// `version`, when selected
    pub version: Option<u64>,
    /// `options`: the internally tagged JSON text of 8.2
    pub options: Option<String>,
    /// `comment`
    pub comment: Option<String>,
}

/// One row of the `system.tables ⋈ system.columns` query of protocol 8.3.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRow {
    /// `namespace_id`
    pub namespace_id: String,
    /// `table_name`
    pub table_name: String,
    /// `column_name` (lower case)
    pub column_name: String,
    /// `data_type`: `BIGINT`, `DECIMAL(10, 2)`, `EMBEDDING(384)`, …
    pub data_type: String,
    /// `ordinal`, 1-based
    pub ordinal: u32,
    /// `nullable`
    pub nullable: bool,
    /// `primary_key`
    pub primary_key: bool,
    /// `default_value`: `SNOWFLAKE_ID()`, `Bool(false)`, `Number(1)`, `String("user")`, `Null`
    pub default_value: Option<String>,
    /// `comment`
    pub comment: Option<String>,
    /// `version` of the column's schema, when selected; rows of other versions than the
    /// table's are ignored
    pub version: Option<u64>,
}

/// Everything introspection reads, as plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntrospectionRows {
    /// `system.namespaces.namespace_id`
    pub namespaces: Vec<String>,
    /// `system.tables` rows
    pub tables: Vec<TableRow>,
    /// Joined column rows
    pub columns: Vec<ColumnRow>,
}

const NAMESPACES_SQL: &str = "SELECT namespace_id FROM system.namespaces \
     WHERE namespace_id <> 'system' ORDER BY namespace_id";

const TABLES_SQL: &str = "SELECT namespace_id, table_name, table_type, version, options, comment \
     FROM system.tables WHERE namespace_id <> 'system' ORDER BY namespace_id, table_name";

/// The query of protocol 8.3, plus the column comment and both schema versions.
const COLUMNS_SQL: &str = "SELECT t.namespace_id, t.table_name, t.table_type, c.column_name, \
     c.data_type, c.ordinal, c.nullable, c.primary_key, c.default_value, c.comment, \
     t.version AS table_version, c.version AS column_version \
     FROM system.tables t JOIN system.columns c \
     ON c.namespace_id = t.namespace_id AND c.table_name = t.table_name \
     WHERE t.namespace_id <> 'system' \
     ORDER BY t.namespace_id, t.table_name, c.version, c.ordinal";

/// Runs `sql` page by page with `LIMIT 1000 OFFSET n` (the server caps every SELECT, protocol
/// 1.3 step 9), advancing by the rows received until a page comes back empty. Stopping at the
/// first short page would be enough for a server with the default cap of 1000; advancing by
/// what arrived also copes with servers configured with a lower cap. `sql` must have a stable
/// ORDER BY.
pub async fn fetch_all<S: SqlSource>(source: &mut S, sql: &str) -> Result<ResultSet, SourceError> {
    let mut all = ResultSet::default();
    let mut previous_first: Option<Vec<Value>> = None;
    loop {
        let paged = format!("{sql} LIMIT {PAGE_SIZE} OFFSET {}", all.rows.len());
        let set = source.query(&paged).await?;
        if all.columns.is_empty() {
            all.columns = set.columns;
        }
        let Some(first) = set.rows.first() else {
            return Ok(all);
        };
        // A server that ignored OFFSET would send the same page forever.
        if previous_first.as_ref() == Some(first) {
            return Err(SourceError::Response {
                sql: paged,
                message: "the server returned the same page twice; OFFSET is not honoured".into(),
            });
        }
        previous_first = Some(first.clone());
        all.rows.extend(set.rows);
    }
}

/// Reads the three introspection result sets from a server.
pub async fn fetch_rows<S: SqlSource>(source: &mut S) -> Result<IntrospectionRows, crate::Error> {
    let namespaces = fetch_all(source, NAMESPACES_SQL).await?;
    let tables = fetch_all(source, TABLES_SQL).await?;
    let columns = fetch_all(source, COLUMNS_SQL).await?;
    Ok(IntrospectionRows::from_results(
        &namespaces,
        &tables,
        &columns,
    )?)
}

/// Reads a server's catalog: [`fetch_rows`] then [`IntrospectionRows::into_catalog`].
pub async fn pull_catalog<S: SqlSource>(
    source: &mut S,
    filter: &TableFilter,
) -> Result<Catalog, crate::Error> {
    Ok(fetch_rows(source).await?.into_catalog(filter)?)
}

/// Column access by name for one result set.
struct Cells<'a> {
    set: &'a ResultSet,
}

impl<'a> Cells<'a> {
    /// The position of a required column. An empty result may come without a schema (the
    /// buffered path of protocol 1.5); its index is never used.
    fn index(&self, name: &'static str) -> Result<usize, IntrospectError> {
        match self.set.columns.iter().position(|c| c == name) {
            Some(i) => Ok(i),
            None if self.set.rows.is_empty() => Ok(usize::MAX),
            None => Err(IntrospectError::MissingColumn(name)),
        }
    }

    fn optional(&self, name: &'static str) -> Option<usize> {
        self.set.columns.iter().position(|c| c == name)
    }
}

fn bad(column: &'static str, table: &str, value: &Value) -> IntrospectError {
    IntrospectError::BadCell {
        column,
        table: table.to_owned(),
        value: value.to_string(),
    }
}

fn cell(row: &[Value], i: usize) -> &Value {
    row.get(i).unwrap_or(&Value::Null)
}

fn text(
    row: &[Value],
    i: usize,
    column: &'static str,
    table: &str,
) -> Result<String, IntrospectError> {
    match cell(row, i) {
        Value::String(s) => Ok(s.clone()),
        other => Err(bad(column, table, other)),
    }
}

fn opt_text(row: &[Value], i: Option<usize>) -> Option<String> {
    match i.map(|i| cell(row, i)) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// BIGINT cells arrive as strings, other integers as numbers (protocol 1.8).
pub(crate) fn int(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn opt_int(row: &[Value], i: Option<usize>) -> Option<u64> {
    i.and_then(|i| int(cell(row, i)))
}

fn boolean(
    row: &[Value],
    i: usize,
    column: &'static str,
    table: &str,
) -> Result<bool, IntrospectError> {
    match cell(row, i) {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        other => Err(bad(column, table, other)),
    }
}

impl IntrospectionRows {
    /// Reads typed rows out of the three result sets (namespaces, tables, joined columns).
    pub fn from_results(
        namespaces: &ResultSet,
        tables: &ResultSet,
        columns: &ResultSet,
    ) -> Result<IntrospectionRows, IntrospectError> {
        let mut out = IntrospectionRows::default();
        let ns = Cells { set: namespaces };
        let ns_id = ns.index("namespace_id")?;
        for row in &namespaces.rows {
            out.namespaces
                .push(text(row, ns_id, "namespace_id", "system.namespaces")?);
        }

        let t = Cells { set: tables };
        let (t_ns, t_name, t_type) = (
            t.index("namespace_id")?,
            t.index("table_name")?,
            t.index("table_type")?,
        );
        let (t_version, t_options, t_comment) = (
            t.optional("version"),
            t.optional("options"),
            t.optional("comment"),
        );
        for row in &tables.rows {
            let namespace_id = text(row, t_ns, "namespace_id", "system.tables")?;
            let table_name = text(row, t_name, "table_name", &namespace_id)?;
            let qualified = format!("{namespace_id}.{table_name}");
            out.tables.push(TableRow {
                table_type: text(row, t_type, "table_type", &qualified)?,
                version: opt_int(row, t_version),
                options: opt_text(row, t_options),
                comment: opt_text(row, t_comment),
                namespace_id,
                table_name,
            });
        }

        let c = Cells { set: columns };
        let idx = [
            c.index("namespace_id")?,
            c.index("table_name")?,
            c.index("column_name")?,
            c.index("data_type")?,
            c.index("ordinal")?,
            c.index("nullable")?,
            c.index("primary_key")?,
        ];
        let (c_default, c_comment) = (c.optional("default_value"), c.optional("comment"));
        let (c_tv, c_cv) = (c.optional("table_version"), c.optional("column_version"));
        for row in &columns.rows {
            let namespace_id = text(row, idx[0], "namespace_id", "system.columns")?;
            let table_name = text(row, idx[1], "table_name", &namespace_id)?;
            let qualified = format!("{namespace_id}.{table_name}");
            // Only the columns of the table's current schema version.
            if let (Some(tv), Some(cv)) = (opt_int(row, c_tv), opt_int(row, c_cv))
                && tv != cv
            {
                continue;
            }
            let ordinal_cell = cell(row, idx[4]);
            let ordinal = int(ordinal_cell)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("ordinal", &qualified, ordinal_cell))?;
            out.columns.push(ColumnRow {
                column_name: text(row, idx[2], "column_name", &qualified)?,
                data_type: text(row, idx[3], "data_type", &qualified)?,
                ordinal,
                nullable: boolean(row, idx[5], "nullable", &qualified)?,
                primary_key: boolean(row, idx[6], "primary_key", &qualified)?,
                default_value: opt_text(row, c_default),
                comment: opt_text(row, c_comment),
                version: opt_int(row, c_cv),
                namespace_id,
                table_name,
            });
        }
        Ok(out)
    }

    /// Builds the catalog of the selected namespaces and tables. System tables and the
    /// `system` namespace are skipped; system columns are kept (marked `system`, last).
    pub fn into_catalog(self, filter: &TableFilter) -> Result<Catalog, IntrospectError> {
        let mut catalog = Catalog::default();
        for name in self.namespaces.iter().filter(|n| *n != "system") {
            if filter.matches_namespace(name) {
                catalog.namespaces.insert(name.clone(), namespace(name));
            }
        }
        for row in self.tables {
            let qualified = format!("{}.{}", row.namespace_id, row.table_name);
            let kind = TableKind::parse(&row.table_type).ok_or_else(|| {
                IntrospectError::UnknownTableKind {
                    table: qualified.clone(),
                    table_type: row.table_type.clone(),
                }
            })?;
            if kind == TableKind::System
                || row.namespace_id == "system"
                || !filter.matches(&row.namespace_id, &row.table_name)
            {
                continue;
            }
            let options = match &row.options {
                Some(json) => {
                    parse_options(json).map_err(|message| IntrospectError::BadOptions {
                        table: qualified.clone(),
                        message,
                    })?
                }
                None => TableOptions::default(),
            };
            let table = Table {
                namespace: row.namespace_id.clone(),
                name: row.table_name.clone(),
                kind,
                columns: Vec::new(),
                options,
                comment: row.comment.filter(|c| !c.is_empty()),
            };
            catalog
                .namespaces
                .entry(row.namespace_id.clone())
                .or_insert_with(|| namespace(&row.namespace_id))
                .tables
                .insert(row.table_name, table);
        }

        let mut by_table: BTreeMap<(String, String), Vec<Column>> = BTreeMap::new();
        for row in self.columns {
            let qualified = format!("{}.{}", row.namespace_id, row.table_name);
            let ty = SqlType::from_sql_name(&row.data_type).ok_or_else(|| {
                IntrospectError::UnknownType {
                    table: qualified.clone(),
                    column: row.column_name.clone(),
                    data_type: row.data_type.clone(),
                }
            })?;
            let default = match &row.default_value {
                None => None,
                Some(text) => parse_default(text).ok_or_else(|| IntrospectError::BadDefault {
                    table: qualified.clone(),
                    column: row.column_name.clone(),
                    value: text.clone(),
                })?,
            };
            let column = Column {
                system: row.column_name.starts_with('_'),
                nullable: row.nullable && !row.primary_key,
                name: row.column_name,
                ty,
                default,
                primary_key: row.primary_key,
                ordinal: row.ordinal,
                comment: row.comment.filter(|c| !c.is_empty()),
            };
            by_table
                .entry((row.namespace_id, row.table_name))
                .or_default()
                .push(column);
        }
        // With table globs, namespaces left without a selected table are not wanted either.
        if !filter.tables.is_empty() {
            catalog.namespaces.retain(|_, ns| !ns.tables.is_empty());
        }
        for ((ns, name), mut columns) in by_table {
            let Some(table) = catalog
                .namespaces
                .get_mut(&ns)
                .and_then(|n| n.tables.get_mut(&name))
            else {
                continue;
            };
            // User columns by ordinal, then the system columns (the model's order).
            columns.sort_by_key(|c| (c.system, c.ordinal));
            table.columns = columns;
        }
        Ok(catalog)
    }
}

fn namespace(name: &str) -> Namespace {
    Namespace {
        name: name.to_owned(),
        ..Namespace::default()
    }
}
