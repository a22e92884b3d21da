//! Live-query filters: a WHERE clause compiled against a table's columns and evaluated on rows.
//!
//! One evaluator, two modes ([`FilterMode`]):
//!
//! - **Exact**: SQL's semantics, as the server's SELECTs evaluate the same WHERE (three-valued
//!   logic; `=`, `<>`, `<`, `>`, `<=`, `>=` on every comparable type, DATE/TIMESTAMP/TIME and
//!   DECIMAL literals read as such; `AND`/`OR`/`NOT`; `[NOT] LIKE`/`ILIKE` (backslash escapes);
//!   `[NOT] IN`; `[NOT] BETWEEN`; `IS [NOT] NULL`/`TRUE`/`FALSE`/`UNKNOWN`/`DISTINCT FROM`;
//!   bare boolean columns; negative numbers; `+ - * / %` and `||`; `CAST` of literals; the
//!   functions `LOWER`, `UPPER`, `LENGTH`/`CHAR_LENGTH`/`CHARACTER_LENGTH`, `OCTET_LENGTH`,
//!   `TRIM`/`BTRIM`/`LTRIM`/`RTRIM`, `CONCAT`, `COALESCE`, `NULLIF`, `ABS`, `STARTS_WITH`,
//!   `ENDS_WITH`, `REPLACE`, `LEFT`, `RIGHT`, `REVERSE`, `STRPOS` and `CURRENT_USER()`).
//!   kalam-client evaluates live queries this way. Anything else is an
//!   [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) error when compiling, never a
//!   guess. Differences from the server's SELECT: a division by zero is NULL here (the
//!   SELECT fails).
//! - **Server**: the server's own live filter (protocol 3.7), quirks included: two-valued
//!   logic, only the forms of [`SERVER_RULES`] it evaluates, and a failed evaluation drops the
//!   change. The emulator filters live changes and topic routes with it.
//!
//! [`WhereClause::check_server`] tells whether the server delivers a filter faithfully (the
//! rule of `live!(…, filter = server)` and of kalam-client's server-filtered mode).
//!
//! ```
//! use kalam_schema::filter::{Datum, FilterColumn, FilterMode, FilterRow, WhereClause};
//! use kalam_schema::SqlType;
//!
//! let columns = [
//!     FilterColumn::new("done", SqlType::Boolean, false),
//!     FilterColumn::new("due", SqlType::Date, true),
//! ];
//! let clause = WhereClause::parse("NOT done AND due < '2025-06-01'")?;
//! let filter = clause.compile(&columns, FilterMode::Exact)?;
//!
//! // A row gives the values of the filter's columns, by index into `filter.columns()`.
//! struct Row(bool, Option<i32>);
//! impl FilterRow for Row {
//!     type Error = std::convert::Infallible;
//!     fn value(&self, column: usize) -> Result<Datum<'_>, Self::Error> {
//!         Ok(match column {
//!             0 => Datum::Bool(self.0),
//!             _ => self.1.map_or(Datum::Null, Datum::Date),
//!         })
//!     }
//! }
//! assert!(filter.matches(&Row(false, Some(20_000)))?);
//! assert!(!filter.matches(&Row(false, None))?); // NULL < x is not TRUE
//!
//! // The server's live filter never delivers a change for `NOT done` (nor for the DATE
//! // comparison): server mode refuses it.
//! let err = clause.check_server(&columns).unwrap_err();
//! assert!(err.message.starts_with("`done`: a column alone is not a condition"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compile;
mod eval;
mod like;
mod server;
#[cfg(test)]
mod tests;

use sqlparser::ast::{BinaryOperator, Expr, SetExpr, Spanned, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

pub use crate::datum::Datum;

/// SQL `LIKE` (what exact mode evaluates): `%` matches any run of characters, `_` one
/// character, a backslash makes the next character literal (a trailing one is itself).
///
/// ```
/// use kalam_schema::filter::like;
/// assert!(like("support.messages", "support.%"));
/// assert!(like("50%", "50\\%"));
/// assert!(!like("500", "50\\%"));
/// ```
pub fn like(text: &str, pattern: &str) -> bool {
    like::like_match(text, pattern, false)
}
pub use server::{FilterForm, SERVER_RULES, ServerEvaluation, ServerRule, server_rule};

use crate::error::SchemaError;
use crate::model::Table;
use crate::types::SqlType;
pub use compile::EXACT_MODE_HELP;
use compile::Node;
pub(crate) use compile::walk;

/// Where a live query's WHERE is evaluated, and so with which semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FilterMode {
    /// On the client, with SQL's semantics: a live set always equals a fresh SELECT with the
    /// same WHERE.
    #[default]
    Exact,
    /// By the server's live filter: less traffic, but only the forms the server delivers, and
    /// an UPDATE that moves a row out of the filter is never sent.
    Server,
}

/// A column a filter may read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterColumn {
    /// Column name (lower case, as the server folds it).
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it may hold NULL.
    pub nullable: bool,
}

impl FilterColumn {
    /// A column.
    pub fn new(name: impl Into<String>, ty: SqlType, nullable: bool) -> FilterColumn {
        FilterColumn {
            name: name.into(),
            ty,
            nullable,
        }
    }

    /// Every column of a table, system columns (`_seq`, `_deleted`) included.
    ///
    /// ```
    /// let c = kalam_schema::load_str("CREATE NAMESPACE a; CREATE USER TABLE a.t (id BIGINT PRIMARY KEY)")?;
    /// let cols = kalam_schema::filter::FilterColumn::of_table(c.table("a", "t").unwrap());
    /// assert_eq!(cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "_seq", "_deleted"]);
    /// # Ok::<(), kalam_schema::SchemaError>(())
    /// ```
    pub fn of_table(table: &Table) -> Vec<FilterColumn> {
        table
            .columns
            .iter()
            .map(|c| FilterColumn::new(c.name.clone(), c.ty, c.nullable))
            .collect()
    }
}

/// The values of one row, by index into [`Filter::columns`].
pub trait FilterRow {
    /// Why a value could not be read.
    type Error;
    /// The value of the filter's column `column` (NULL when the row lacks it).
    fn value(&self, column: usize) -> Result<Datum<'_>, Self::Error>;
}

/// A parsed WHERE condition, not yet bound to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhereClause {
    expr: Expr,
    /// The text the expression's positions refer to.
    sql: String,
}

impl WhereClause {
    pub(crate) fn new(expr: Expr, sql: String) -> WhereClause {
        WhereClause { expr, sql }
    }

    /// Parses a condition (`done = false AND title LIKE 'a%'`).
    pub fn parse(condition: &str) -> Result<WhereClause, SchemaError> {
        let expr = Parser::new(&PostgreSqlDialect {})
            .with_recursion_limit(crate::parse::RECURSION_LIMIT)
            .try_with_sql(condition)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| crate::parse::parser_error(condition, 0, condition, &e))?;
        Ok(WhereClause::new(expr, condition.to_owned()))
    }

    /// The WHERE of `sql` read exactly as the server reads a subscription's filter: `None` when
    /// the statement does not parse or has no WHERE (the server then filters nothing).
    pub fn of_select(sql: &str) -> Option<WhereClause> {
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
        let Statement::Query(q) = stmts.first()? else {
            return None;
        };
        let SetExpr::Select(s) = q.body.as_ref() else {
            return None;
        };
        Some(WhereClause::new(s.selection.clone()?, sql.to_owned()))
    }

    /// The condition as SQL text.
    pub fn to_sql(&self) -> String {
        self.expr.to_string()
    }

    /// The names of the columns the condition reads (lower case, first appearance first).
    ///
    /// ```
    /// let w = kalam_schema::filter::WhereClause::parse("a = 1 OR LOWER(T.b) = a")?;
    /// assert_eq!(w.columns(), ["a", "b"]);
    /// # Ok::<(), kalam_schema::SchemaError>(())
    /// ```
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        compile::column_names(&self.expr, &mut out);
        out
    }

    /// Compiles the condition against the table's `columns` for evaluation in `mode`.
    ///
    /// Exact mode refuses what it cannot evaluate exactly (unknown columns, type mismatches,
    /// unsupported expressions, `CURRENT_USER()` — use [`WhereClause::compile_for_user`]).
    /// Server mode never fails: what the server cannot evaluate drops every change.
    pub fn compile(
        &self,
        columns: &[FilterColumn],
        mode: FilterMode,
    ) -> Result<Filter, SchemaError> {
        compile::compile(self, columns, mode, compile::Extras::default())
    }

    /// [`WhereClause::compile`] with `CURRENT_USER()` standing for `user` (the subscriber).
    pub fn compile_for_user(
        &self,
        columns: &[FilterColumn],
        mode: FilterMode,
        user: &str,
    ) -> Result<Filter, SchemaError> {
        let extras = compile::Extras {
            user: Some(user),
            params: false,
        };
        compile::compile(self, columns, mode, extras)
    }

    /// Checks that exact mode can evaluate the condition; `$n` parameters stand for literals
    /// of the type their context gives (how `live!` checks its `{value}`s).
    pub fn check_exact(&self, columns: &[FilterColumn]) -> Result<(), SchemaError> {
        let extras = compile::Extras {
            user: Some(""),
            params: true,
        };
        compile::compile(self, columns, FilterMode::Exact, extras).map(drop)
    }

    /// Checks that the server's live filter delivers exactly the changes whose new row the
    /// condition accepts: every part is a [`ServerEvaluation::Delivered`] form, and no
    /// comparison that fails on a NULL column sits where the failure would drop a change the
    /// condition accepts (under `OR`, or a negated `AND`). An error names the first form that
    /// breaks it ([`ErrorKind::LiveQueryFilter`](crate::ErrorKind::LiveQueryFilter)).
    pub fn check_server(&self, columns: &[FilterColumn]) -> Result<(), SchemaError> {
        compile::check_server(self, &self.expr, columns)
    }

    /// The part of the condition the server can evaluate for the client without losing a
    /// change: the top-level `AND` terms that read only `stable` columns (columns no UPDATE
    /// changes) and that [`WhereClause::check_server`] accepts, joined with `AND`; `None`
    /// when there is none.
    ///
    /// ```
    /// use kalam_schema::filter::{FilterColumn, WhereClause};
    /// use kalam_schema::SqlType;
    /// let cols = [
    ///     FilterColumn::new("room", SqlType::Text, false),
    ///     FilterColumn::new("done", SqlType::Boolean, false),
    /// ];
    /// let w = WhereClause::parse("room = 'lobby' AND NOT done")?;
    /// assert_eq!(w.server_part(&cols, &["room"]).as_deref(), Some("room = 'lobby'"));
    /// assert_eq!(w.server_part(&cols, &["done"]), None); // `NOT done` is never delivered
    /// # Ok::<(), kalam_schema::SchemaError>(())
    /// ```
    pub fn server_part(&self, columns: &[FilterColumn], stable: &[&str]) -> Option<String> {
        let mut terms = Vec::new();
        conjuncts(&self.expr, &mut terms, 0);
        let kept: Vec<String> = terms
            .into_iter()
            .filter(|t| {
                let mut names = Vec::new();
                compile::column_names(t, &mut names);
                names
                    .iter()
                    .all(|n| stable.iter().any(|s| s.eq_ignore_ascii_case(n)))
                    && compile::check_server(self, t, columns).is_ok()
            })
            .map(|t| t.to_string())
            .collect();
        match kept.len() {
            0 => None,
            1 => kept.into_iter().next(),
            _ => Some(
                kept.iter()
                    .map(|t| format!("({t})"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        }
    }

    pub(crate) fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// The top-level `AND` terms of `e` (through parentheses).
fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>, depth: usize) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } if depth < crate::parse::MAX_EXPR_DEPTH => {
            conjuncts(left, out, depth + 1);
            conjuncts(right, out, depth + 1);
        }
        Expr::Nested(inner)
            if depth < crate::parse::MAX_EXPR_DEPTH
                && matches!(
                    inner.as_ref(),
                    Expr::BinaryOp {
                        op: BinaryOperator::And,
                        ..
                    } | Expr::Nested(_)
                ) =>
        {
            conjuncts(inner, out, depth + 1);
        }
        other => out.push(other),
    }
}

/// A WHERE condition compiled for evaluation in one [`FilterMode`].
#[derive(Debug, Clone)]
pub struct Filter {
    mode: FilterMode,
    root: Node,
    columns: Vec<FilterColumn>,
}

impl Filter {
    /// The mode it evaluates in.
    pub fn mode(&self) -> FilterMode {
        self.mode
    }

    /// The columns it reads; [`FilterRow::value`] is asked by index into this list.
    pub fn columns(&self) -> &[FilterColumn] {
        &self.columns
    }

    /// Whether the condition accepts the row: exact mode, it is TRUE (not FALSE or NULL);
    /// server mode, the server delivers a change with this new row.
    pub fn matches<R: FilterRow + ?Sized>(&self, row: &R) -> Result<bool, R::Error> {
        match self.mode {
            FilterMode::Exact => Ok(matches!(eval::eval(&self.root, row)?, Datum::Bool(true))),
            FilterMode::Server => eval::server_matches(&self.root, row),
        }
    }

    /// Exact mode: the condition's three-valued result (`None` for NULL). Server mode: whether
    /// the change is delivered.
    pub fn evaluate<R: FilterRow + ?Sized>(&self, row: &R) -> Result<Option<bool>, R::Error> {
        match self.mode {
            FilterMode::Exact => Ok(match eval::eval(&self.root, row)? {
                Datum::Bool(b) => Some(b),
                _ => None,
            }),
            FilterMode::Server => eval::server_matches(&self.root, row).map(Some),
        }
    }
}

/// The location of `e` in `clause`'s text.
fn location(clause: &WhereClause, e: &Expr) -> crate::error::Location {
    crate::parse::span_location(&clause.sql, 0, &clause.sql, e.span())
}
