//! [`QueryDescription`]: what a checked statement returns and takes (sqlx's `Describe`).

use std::fmt::{self, Write as _};

use crate::error::SchemaError;
use crate::model::{Catalog, TableKind};
use crate::types::SqlType;

/// A table a statement touches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// Namespace name.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// The table's kind.
    pub kind: TableKind,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// The statement kind; DML names its target table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryKind {
    /// A query returning rows (`SELECT`, `WITH … SELECT`, set operations).
    Select,
    /// `INSERT INTO table …`
    Insert {
        /// The target table.
        table: TableRef,
    },
    /// `UPDATE table SET …`
    Update {
        /// The target table.
        table: TableRef,
    },
    /// `DELETE FROM table …`
    Delete {
        /// The target table.
        table: TableRef,
    },
}

/// The table column an output column is a plain reference to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSource {
    /// Namespace of the table.
    pub namespace: String,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
}

/// One output column of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// The name the server reports: the column name, the alias, or DataFusion's display name of
    /// the expression (e.g. `count(*)`, `shop.orders.qty + Int64(1)`). Alias computed columns.
    pub name: String,
    /// The KalamDB type of the cells.
    pub ty: SqlType,
    /// Whether the column may hold NULL (from the query's structure, not only the `nn` flag).
    pub nullable: bool,
    /// The table column, when the output is a plain (possibly aliased) column reference.
    pub source: Option<ColumnSource>,
}

/// One `$n` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The 1-based index (`$1` → 1).
    pub index: usize,
    /// The type inferred from context (the compared column, the inserted column, the SET
    /// target, a cast). A parameter without context is an error, never a guess.
    pub ty: SqlType,
    /// True when NULL is a meaningful value: the parameter is inserted into or assigned to a
    /// nullable column.
    pub nullable: bool,
}

/// What a checked statement returns and takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDescription {
    /// The statement kind.
    pub kind: QueryKind,
    /// Output columns in order (empty for INSERT/UPDATE/DELETE).
    pub columns: Vec<OutputColumn>,
    /// Parameters `$1..$n` in order.
    pub params: Vec<Param>,
    /// The user of an `EXECUTE AS USER '…' (…)` envelope.
    pub execute_as: Option<String>,
    /// Every table the statement reads or writes, in order of first appearance.
    pub tables: Vec<TableRef>,
    /// Byte ranges of the identifiers of the SQL text that name a namespace — `app` in
    /// `app.todos` and in `app.todos.id` — in text order: where a client that runs the
    /// statement in another namespace than the schema's puts that namespace's name.
    ///
    /// ```
    /// let c = kalam_schema::load_str("CREATE NAMESPACE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY)").unwrap();
    /// let sql = "SELECT app.t.id FROM app.t JOIN app.t AS app ON app.id = t.id";
    /// let d = kalam_schema::describe(&c, sql, None).unwrap();
    /// let named: Vec<&str> = d.namespace_refs.iter().map(|r| &sql[r.clone()]).collect();
    /// assert_eq!(named, ["app", "app", "app"]);
    /// assert_eq!(d.namespace_refs[0], 7..10);
    /// ```
    pub namespace_refs: Vec<std::ops::Range<usize>>,
}

impl QueryDescription {
    /// A compact multi-line rendering, used by snapshot tests and diagnostics.
    ///
    /// ```
    /// let c = kalam_schema::load_str("CREATE NAMESPACE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, n INT)").unwrap();
    /// let d = kalam_schema::describe(&c, "SELECT id, n FROM app.t WHERE n > $1", None).unwrap();
    /// assert_eq!(d.to_text(), "select\n  id: BIGINT not null (app.t.id)\n  n: INT null (app.t.n)\n  $1: INT\n  tables: app.t (shared)\n");
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = match &self.kind {
            QueryKind::Select => writeln!(out, "select"),
            QueryKind::Insert { table } => writeln!(out, "insert into {table}"),
            QueryKind::Update { table } => writeln!(out, "update {table}"),
            QueryKind::Delete { table } => writeln!(out, "delete from {table}"),
        };
        if let Some(u) = &self.execute_as {
            let _ = writeln!(out, "  execute as: {u}");
        }
        for c in &self.columns {
            let _ = write!(
                out,
                "  {}: {} {}",
                c.name,
                c.ty,
                if c.nullable { "null" } else { "not null" }
            );
            if let Some(s) = &c.source {
                let _ = write!(out, " ({}.{}.{})", s.namespace, s.table, s.column);
            }
            out.push('\n');
        }
        for p in &self.params {
            let _ = writeln!(
                out,
                "  ${}: {}{}",
                p.index,
                p.ty,
                if p.nullable { " (nullable)" } else { "" }
            );
        }
        if !self.tables.is_empty() {
            let list: Vec<String> = self
                .tables
                .iter()
                .map(|t| format!("{t} ({})", t.kind))
                .collect();
            let _ = writeln!(out, "  tables: {}", list.join(", "));
        }
        out
    }
}

/// Checks one statement against the catalog and describes it: output columns for queries,
/// the target table for DML, and the expected type of every `$n`. Unqualified table names
/// resolve to `default_namespace` (the server's `default` when `None`). An
/// `EXECUTE AS USER '…' (…)` envelope is accepted and reported in `execute_as`.
///
/// ```
/// use kalam_schema::{describe, load_str, SqlType};
/// let c = load_str(
///     "CREATE NAMESPACE app;
///      CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL, done BOOLEAN)",
/// ).unwrap();
/// let d = describe(&c, "SELECT title, COUNT(*) AS n FROM app.todos WHERE done = $1 GROUP BY title", None).unwrap();
/// assert_eq!(d.columns[1].name, "n");
/// assert_eq!(d.columns[1].ty, SqlType::BigInt);
/// assert_eq!(d.params[0].ty, SqlType::Boolean);
///
/// let err = describe(&c, "SELECT titel FROM app.todos", None).unwrap_err();
/// assert_eq!(err.suggestion.as_deref(), Some("title"));
/// ```
pub fn describe(
    catalog: &Catalog,
    sql: &str,
    default_namespace: Option<&str>,
) -> Result<QueryDescription, SchemaError> {
    crate::check::check_statement(
        catalog,
        sql,
        default_namespace.unwrap_or(crate::ddl::DEFAULT_NAMESPACE),
    )
}
