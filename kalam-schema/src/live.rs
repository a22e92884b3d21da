//! Live-query SQL validation, exactly as the server restricts subscriptions (protocol 3.6
//! step 4), and the checks of a live query's WHERE for each [`FilterMode`].
//!
//! [`ErrorKind::LiveQueryShape`] is for SQL the server rejects or breaks on (not
//! `SELECT <bare columns | *> FROM ns.table [WHERE …]`). The WHERE is checked separately
//! ([`check_live`]): in exact mode (the default) the client evaluates it, so every form its
//! evaluator supports is fine; in server mode the server's live filter evaluates it, and
//! [`ErrorKind::LiveQueryFilter`] reports the forms whose changes the server silently never
//! delivers (`IN`, `BETWEEN`, `IS [NOT] NULL`, function calls, negative numbers, DATE and
//! TIMESTAMP comparisons, …; the table is [`SERVER_RULES`](crate::filter::SERVER_RULES)).

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, ObjectNamePart, SelectItem, SetExpr, Spanned, Statement,
    TableFactor, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::Span;

use crate::describe::QueryDescription;
use crate::error::{ErrorKind, Location, SchemaError};
use crate::filter::{FilterColumn, FilterMode, WhereClause};
use crate::model::Catalog;

/// A validated live query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveQuery {
    /// Namespace of the table.
    pub namespace: String,
    /// Table name.
    pub table: String,
    /// The projected columns, `None` for `*`.
    pub columns: Option<Vec<String>>,
    /// The WHERE condition as SQL text, if any.
    pub filter: Option<String>,
    /// The parsed WHERE condition.
    where_clause: Option<WhereClause>,
}

impl LiveQuery {
    /// The parsed WHERE condition, to compile for evaluation or check for a filter mode.
    pub fn where_clause(&self) -> Option<&WhereClause> {
        self.where_clause.as_ref()
    }
}

const SHAPE_HINT: &str = "Only SELECT ... FROM ... [WHERE ...] is supported.";

/// Where a live view's order goes instead: the client keeps the rows sorted, by the
/// field of the first `ORDER BY` key when it is a column.
fn order_help(first: Option<&sqlparser::ast::OrderByExpr>) -> String {
    let descending = first.is_some_and(|o| o.options.asc == Some(false));
    let field = match first.map(|o| &o.expr) {
        Some(Expr::Identifier(i)) => i.value.to_lowercase(),
        Some(Expr::CompoundIdentifier(parts)) => parts
            .last()
            .map_or_else(|| "key".to_owned(), |i| i.value.to_lowercase()),
        _ => "key".to_owned(),
    };
    let verb = if descending {
        "order_by_desc"
    } else {
        "order_by"
    };
    format!(
        "remove the ORDER BY and let the client keep the view sorted: \
         `.with_config(LiveRowsConfig::new().{verb}(|row| row.{field}.clone()))`"
    )
}

/// Where a live view's row limit goes instead.
const LIMIT_HELP: &str = "remove the LIMIT and bound the view on the client: \
    `.with_config(LiveRowsConfig::new().with_limit(n))`, which keeps the first `n` rows in \
    the view's order";

/// Validates the shape of live-query SQL without a catalog (the WHERE is parsed, not judged;
/// see [`check_live`]).
///
/// ```
/// use kalam_schema::{live_query, ErrorKind};
/// let q = live_query("SELECT id, title FROM app.todos WHERE done = false").unwrap();
/// assert_eq!(q.table, "todos");
/// assert_eq!(q.columns, Some(vec!["id".to_owned(), "title".to_owned()]));
/// assert_eq!(q.where_clause().unwrap().columns(), ["done"]);
///
/// let err = live_query("SELECT * FROM app.todos ORDER BY created_at DESC").unwrap_err();
/// assert_eq!(err.kind, ErrorKind::LiveQueryShape);
/// // The help says where the order goes instead.
/// assert!(err.suggestion.unwrap().contains("order_by_desc(|row| row.created_at.clone())"));
/// ```
pub fn live_query(sql: &str) -> Result<LiveQuery, SchemaError> {
    Validator { sql, params: false }.validate()
}

/// Validates a live query, checks it against the catalog (the table and every projected and
/// filtered column must exist, and the query must type-check) and checks its WHERE for
/// `mode`: in [`FilterMode::Exact`] the client's evaluator must support it, in
/// [`FilterMode::Server`] the server must deliver it faithfully
/// ([`WhereClause::check_server`]). `$n` parameters stand for literals of the type their
/// context gives (how `live!` checks its `{value}`s). Returns the query and its description.
///
/// ```
/// use kalam_schema::{check_live, filter::FilterMode, ErrorKind};
/// let c = kalam_schema::load_str("CREATE NAMESPACE app; CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT, n INT)").unwrap();
/// let sql = "SELECT id FROM app.todos WHERE n IN (1, 2)";
/// assert!(check_live(&c, sql, FilterMode::Exact).is_ok());
/// let err = check_live(&c, sql, FilterMode::Server).unwrap_err();
/// assert_eq!(err.kind, ErrorKind::LiveQueryFilter);
/// let err = check_live(&c, "SELECT titel FROM app.todos", FilterMode::Exact).unwrap_err();
/// assert_eq!(err.suggestion.as_deref(), Some("title"));
/// ```
pub fn check_live(
    catalog: &Catalog,
    sql: &str,
    mode: FilterMode,
) -> Result<(LiveQuery, QueryDescription), SchemaError> {
    let q = Validator { sql, params: true }.validate()?;
    let description = crate::describe::describe(catalog, sql, None)?;
    if let (Some(clause), Some(table)) = (&q.where_clause, catalog.table(&q.namespace, &q.table)) {
        let columns = FilterColumn::of_table(table);
        match mode {
            FilterMode::Exact => clause.check_exact(&columns)?,
            FilterMode::Server => clause.check_server(&columns)?,
        }
    }
    Ok((q, description))
}

struct Validator<'a> {
    sql: &'a str,
    /// `$n` may stand for values (checking `live!` templates).
    params: bool,
}

impl Validator<'_> {
    fn loc(&self, span: Span) -> Location {
        crate::parse::span_location(self.sql, 0, self.sql, span)
    }

    fn shape(&self, msg: impl Into<String>, span: Span) -> SchemaError {
        SchemaError::new(ErrorKind::LiveQueryShape, msg).at(self.loc(span))
    }

    fn validate(&self) -> Result<LiveQuery, SchemaError> {
        let mut text = self.sql.to_owned();
        crate::lex::bare_current_user(&mut text)?;
        let stmts = Parser::new(&PostgreSqlDialect {})
            .with_recursion_limit(crate::parse::RECURSION_LIMIT)
            .with_options(ParserOptions::new().with_trailing_commas(true))
            .try_with_sql(&text)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| crate::parse::parser_error(self.sql, 0, &text, &e))?;
        let whole = Span::empty();
        let [stmt] = stmts.as_slice() else {
            return Err(self.shape(
                "Subscription query must contain exactly one SELECT statement",
                whole,
            ));
        };
        let Statement::Query(q) = stmt else {
            return Err(self.shape(
                "Only SELECT queries are supported for subscriptions",
                stmt.span(),
            ));
        };
        if q.with.is_some() {
            return Err(self.shape(
                format!("Subscription query does not support WITH clauses. {SHAPE_HINT}"),
                q.span(),
            ));
        }
        if let Some(ob) = &q.order_by {
            let first = match &ob.kind {
                sqlparser::ast::OrderByKind::Expressions(v) => v.first(),
                sqlparser::ast::OrderByKind::All(_) => None,
            };
            let span = first.map_or(q.span(), |o| o.expr.span());
            return Err(self
                .shape(
                    format!("Subscription query does not support ORDER BY. {SHAPE_HINT}"),
                    span,
                )
                .with_suggestion(order_help(first)));
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(self
                .shape(
                    "Subscription query supports only SELECT ... FROM ... [WHERE ...] (no LIMIT/OFFSET)",
                    q.span(),
                )
                .with_suggestion(LIMIT_HELP));
        }
        let SetExpr::Select(s) = q.body.as_ref() else {
            return Err(self.shape("Subscription query supports only SELECT ... FROM ... [WHERE ...] (no UNION/VALUES)", q.body.span()));
        };
        if s.distinct.is_some() && !matches!(s.distinct, Some(Distinct::All)) {
            return Err(self.shape(
                "Subscription query supports only SELECT ... FROM ... [WHERE ...] (no DISTINCT)",
                s.span(),
            ));
        }
        let grouped =
            !matches!(&s.group_by, GroupByExpr::Expressions(v, m) if v.is_empty() && m.is_empty());
        if grouped || s.having.is_some() {
            return Err(self.shape("Subscription query supports only SELECT ... FROM ... [WHERE ...] (no GROUP BY/HAVING)", s.span()));
        }
        let [from] = s.from.as_slice() else {
            return Err(self.shape(
                "Subscription query must read exactly one table (FROM namespace.table)",
                s.span(),
            ));
        };
        if let Some(j) = from.joins.first() {
            return Err(self.shape(
                format!("Subscription query does not support JOIN clauses. {SHAPE_HINT}"),
                j.relation.span(),
            ));
        }
        let TableFactor::Table {
            name, alias, args, ..
        } = &from.relation
        else {
            return Err(self.shape(
                "Subscription query must read a table, not a subquery",
                from.relation.span(),
            ));
        };
        if args.is_some() {
            return Err(self.shape(
                "Subscription query must read a table, not a table function",
                name.span(),
            ));
        }
        if let Some(a) = alias {
            return Err(self.shape(
                "Subscription query does not support table aliases; write namespace.table",
                a.name.span,
            ));
        }
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(i) => Some(i.value.to_ascii_lowercase()),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        let [namespace, table] = parts.as_slice() else {
            return Err(self.shape("Query must use namespace.table format (live queries have no default namespace)", name.span())
                .with_suggestion(format!("app.{}", parts.last().cloned().unwrap_or_default())));
        };
        let mut columns = Some(Vec::new());
        for item in &s.projection {
            match item {
                SelectItem::Wildcard(_) if s.projection.len() == 1 => columns = None,
                SelectItem::UnnamedExpr(Expr::Identifier(id)) => {
                    if let Some(c) = columns.as_mut() {
                        c.push(id.value.to_ascii_lowercase());
                    }
                }
                SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) if ids.len() >= 2 => {
                    if let (Some(c), Some(last)) = (columns.as_mut(), ids.last()) {
                        c.push(last.value.to_ascii_lowercase());
                    }
                }
                SelectItem::ExprWithAlias { alias, .. } => {
                    return Err(self.shape(
                        format!("live query projection `{item}` has an alias: the server fails the initial load (\"No field named {}\") and sends change rows without it", alias.value),
                        item.span(),
                    ).with_suggestion("select bare columns and rename on the client"));
                }
                SelectItem::UnnamedExpr(e) => {
                    return Err(self.shape(
                        format!("live query projection `{e}` is an expression: the server leaves it out of the schema and of change rows"),
                        e.span(),
                    ).with_suggestion("select bare columns and compute on the client"));
                }
                other => {
                    return Err(self.shape(format!("live query projection `{other}` is not supported; use * or bare columns"), other.span()));
                }
            }
        }
        if let Some(w) = &s.selection {
            let (placeholder, complete) = first_placeholder(w);
            if !complete {
                return Err(self.shape("the WHERE clause is nested too deeply", Span::empty()));
            }
            if let Some(p) = placeholder.filter(|_| !self.params) {
                return Err(self
                    .shape(format!("live queries take no parameters (`{p}`)"), p.span)
                    .with_suggestion(
                        "render the value into the SQL with kalam_schema::render_literal",
                    ));
            }
        }
        let filter = s.selection.as_ref().map(ToString::to_string);
        let where_clause = s
            .selection
            .clone()
            .map(|w| WhereClause::new(w, self.sql.to_owned()));
        Ok(LiveQuery {
            namespace: namespace.clone(),
            table: table.clone(),
            columns,
            filter,
            where_clause,
        })
    }
}

/// The first `$n` in `e`, and whether `e` is shallow enough to be walked whole.
fn first_placeholder(e: &Expr) -> (Option<sqlparser::ast::ValueWithSpan>, bool) {
    let mut found = None;
    let complete = crate::filter::walk(e, &mut |x| {
        if let Expr::Value(v) = x
            && matches!(v.value, Value::Placeholder(_))
            && found.is_none()
        {
            found = Some(v.clone());
        }
    });
    (found, complete)
}
