//! Live-query SQL validation, exactly as the server restricts it (protocol 3.6 step 4 and 3.7).
//!
//! Two error classes: [`ErrorKind::LiveQueryShape`] for SQL the server rejects or breaks on
//! (not `SELECT <bare columns | *> FROM ns.table [WHERE …]`), and
//! [`ErrorKind::LiveQueryFilter`] for WHERE forms the server accepts but whose changes it then
//! silently never delivers (`IN`, `BETWEEN`, `IS [NOT] NULL`, function calls, arithmetic…).

use sqlparser::ast::{
    BinaryOperator, Distinct, Expr, GroupByExpr, ObjectNamePart, SelectItem, SetExpr, Spanned,
    Statement, TableFactor, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, Location, SchemaError};
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
}

const SHAPE_HINT: &str = "Only SELECT ... FROM ... [WHERE ...] is supported.";

/// Validates the shape of live-query SQL without a catalog.
///
/// ```
/// use kalam_schema::{live_query, ErrorKind};
/// let q = live_query("SELECT id, title FROM app.todos WHERE done = false").unwrap();
/// assert_eq!(q.table, "todos");
/// assert_eq!(q.columns, Some(vec!["id".to_owned(), "title".to_owned()]));
///
/// let err = live_query("SELECT * FROM app.todos WHERE id IN (1, 2)").unwrap_err();
/// assert_eq!(err.kind, ErrorKind::LiveQueryFilter);
/// assert_eq!(err.suggestion.as_deref(), Some("rewrite as: id = 1 OR id = 2"));
/// ```
pub fn live_query(sql: &str) -> Result<LiveQuery, SchemaError> {
    Validator { sql }.validate()
}

/// Validates a live query and checks it against the catalog: the table and every projected and
/// filtered column must exist, and the filter must type-check.
///
/// ```
/// let c = kalam_schema::load_str("CREATE NAMESPACE app; CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT)").unwrap();
/// assert!(kalam_schema::live::check_live(&c, "SELECT id FROM app.todos WHERE title = 'x'").is_ok());
/// let err = kalam_schema::live::check_live(&c, "SELECT titel FROM app.todos").unwrap_err();
/// assert_eq!(err.suggestion.as_deref(), Some("title"));
/// ```
pub fn check_live(catalog: &Catalog, sql: &str) -> Result<LiveQuery, SchemaError> {
    let q = live_query(sql)?;
    crate::describe::describe(catalog, sql, None)?;
    Ok(q)
}

struct Validator<'a> {
    sql: &'a str,
}

impl Validator<'_> {
    fn loc(&self, span: Span) -> Location {
        crate::parse::span_location(self.sql, 0, self.sql, span)
    }

    fn shape(&self, msg: impl Into<String>, span: Span) -> SchemaError {
        SchemaError::new(ErrorKind::LiveQueryShape, msg).at(self.loc(span))
    }

    fn filter_err(&self, msg: impl Into<String>, span: Span) -> SchemaError {
        SchemaError::new(
            ErrorKind::LiveQueryFilter,
            format!(
                "{}: the server accepts this subscription but silently never delivers its changes",
                msg.into()
            ),
        )
        .at(self.loc(span))
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
            let span = match &ob.kind {
                sqlparser::ast::OrderByKind::Expressions(v) => {
                    v.first().map_or(q.span(), |o| o.expr.span())
                }
                sqlparser::ast::OrderByKind::All(_) => q.span(),
            };
            return Err(self.shape(
                format!("Subscription query does not support ORDER BY. {SHAPE_HINT}"),
                span,
            ));
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(self.shape("Subscription query supports only SELECT ... FROM ... [WHERE ...] (no LIMIT/OFFSET)", q.span()));
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
        let filter = match &s.selection {
            Some(w) => {
                self.filter(w, 0)?;
                Some(w.to_string())
            }
            None => None,
        };
        Ok(LiveQuery {
            namespace: namespace.clone(),
            table: table.clone(),
            columns,
            filter,
        })
    }

    /// Accepts only what the server's live filter evaluator handles (protocol 3.7).
    fn filter(&self, e: &Expr, depth: usize) -> Result<(), SchemaError> {
        if depth > crate::parse::MAX_EXPR_DEPTH {
            return Err(self.shape("the WHERE clause is nested too deeply", Span::empty()));
        }
        let depth = depth + 1;
        match e {
            Expr::Nested(x) => self.filter(x, depth),
            Expr::UnaryOp { op: UnaryOperator::Not, expr } => self.filter(expr, depth),
            Expr::BinaryOp { left, op: BinaryOperator::And | BinaryOperator::Or, right } => {
                self.filter(left, depth)?;
                self.filter(right, depth)
            }
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                match (is_column(left), is_column(right)) {
                    (true, false) => self.literal(right),
                    (false, true) => self.literal(left),
                    (true, true) => Err(self.filter_err(format!("`{e}` compares two columns; only column-vs-literal comparisons are evaluated"), e.span())),
                    (false, false) => {
                        self.literal(left)?;
                        self.literal(right)?;
                        Err(self.filter_err(format!("`{e}` does not compare a column with a literal"), e.span()))
                    }
                }
            }
            Expr::Like { expr, pattern, any: false, escape_char: None, .. }
            | Expr::ILike { expr, pattern, any: false, escape_char: None, .. } => {
                if !is_column(expr) {
                    return Err(self.filter_err(format!("LIKE in `{e}` must test a column"), expr.span()));
                }
                match pattern.as_ref() {
                    Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)) => Ok(()),
                    other => Err(self.filter_err(format!("LIKE pattern `{other}` must be a string literal"), other.span())),
                }
            }
            Expr::InList { expr, list, negated } => {
                let (op, join) = if *negated { ("<>", " AND ") } else { ("=", " OR ") };
                let rewrite: Vec<String> = list.iter().map(|v| format!("{expr} {op} {v}")).collect();
                Err(self.filter_err(format!("`{e}`: IN is not evaluated by the live filter"), e.span())
                    .with_suggestion(format!("rewrite as: {}", rewrite.join(join))))
            }
            Expr::Between { expr, negated, low, high } => {
                let rewrite = if *negated {
                    format!("{expr} < {low} OR {expr} > {high}")
                } else {
                    format!("{expr} >= {low} AND {expr} <= {high}")
                };
                Err(self.filter_err(format!("`{e}`: BETWEEN is not evaluated by the live filter"), e.span())
                    .with_suggestion(format!("rewrite as: {rewrite}")))
            }
            Expr::IsNull(_) | Expr::IsNotNull(_) => Err(self
                .filter_err(format!("`{e}`: IS [NOT] NULL is not evaluated by the live filter"), e.span())
                .with_suggestion("no supported rewrite: filter NULLs on the client")),
            Expr::Function(f) => Err(self.filter_err(format!("`{e}`: function calls ({}) are not evaluated by the live filter", f.name), e.span())),
            Expr::BinaryOp { op, .. } => Err(self.filter_err(format!("`{e}`: the operator `{op}` is not evaluated by the live filter"), e.span())),
            other => Err(self.filter_err(format!("`{other}` is not supported by the live filter (only comparisons with literals, AND, OR, NOT, LIKE)"), other.span())),
        }
    }

    fn literal(&self, e: &Expr) -> Result<(), SchemaError> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => Ok(()),
                Value::Placeholder(p) => Err(self.shape(format!("live queries take no parameters (`{p}`)"), v.span)
                    .with_suggestion("render the value into the SQL with kalam_schema::render_literal")),
                other => Err(self.filter_err(format!("the literal `{other}` is not understood by the live filter"), v.span)),
            },
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } if matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))) => Ok(()),
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("current_user") => Err(self.filter_err(
                format!("`{e}`: CURRENT_USER() in a live filter drops every change (observed)"),
                e.span(),
            ).with_suggestion("USER tables already deliver only the subscriber's rows; drop the condition or compare with a literal")),
            other => Err(self.filter_err(format!("`{other}` is not a literal (functions, arithmetic and casts are not evaluated)"), other.span())),
        }
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}
