//! Subscription SQL: the shape check of protocol 3.6 step 4, with the server's exact messages,
//! and the parts the initial load and the change shaping need.

use kalam_schema::filter::WhereClause;
use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, Ident, ObjectNamePart, SelectItem, SetExpr, Statement, TableFactor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

const SHAPE_HINT: &str = "Only SELECT ... FROM ... [WHERE ...] is supported.";

/// One projection item of a live query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjItem {
    /// A bare column reference (`id`, `t.id`).
    Column(String),
    /// `<expr> AS <alias>`; `column` is set when `<expr>` is a bare column.
    Aliased {
        column: Option<String>,
        alias: String,
    },
    /// An un-aliased expression (`n + 1`).
    Expression,
}

/// A live query that passed the shape check.
#[derive(Debug, Clone)]
pub(crate) struct LiveSql {
    /// Namespace as written (folded to lower case unless quoted).
    pub(crate) namespace: String,
    /// Table name as written (folded to lower case unless quoted).
    pub(crate) table: String,
    /// The table reference text with its alias, if any (`app.todos t`), for building queries.
    pub(crate) table_sql: String,
    /// `None` for `SELECT *`.
    pub(crate) projection: Option<Vec<ProjItem>>,
    /// The projection items as SQL text (for building the initial query).
    pub(crate) projection_sql: Vec<String>,
    /// The WHERE condition, if any (`CURRENT_USER()` replaced by the quoted user id).
    pub(crate) filter: Option<Expr>,
    /// The WHERE condition the live filter evaluates: `CURRENT_USER()` replaced by the bare
    /// user id (see [`parse`]). `None`: no WHERE, or it did not parse (every change passes).
    pub(crate) live_filter: Option<WhereClause>,
}

impl LiveSql {
    /// The bare (un-aliased) columns of the projection, in SELECT order; `None` for `*`.
    pub(crate) fn bare_columns(&self) -> Option<Vec<String>> {
        self.projection.as_ref().map(|items| {
            items
                .iter()
                .filter_map(|i| match i {
                    ProjItem::Column(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// The first alias of the projection, if any.
    pub(crate) fn first_alias(&self) -> Option<&str> {
        self.projection.as_ref()?.iter().find_map(|i| match i {
            ProjItem::Aliased { alias, .. } => Some(alias.as_str()),
            _ => None,
        })
    }
}

/// Why a live query was rejected: the `INVALID_SQL` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError(pub(crate) String);

fn doubled(msg: &str) -> ShapeError {
    ShapeError(format!("Invalid SQL: Invalid SQL: {msg}"))
}

fn only_select() -> ShapeError {
    doubled("Subscription query supports only SELECT ... FROM ... [WHERE ...].")
}

fn ident_name(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

fn column_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(ident_name(i)),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        _ => None,
    }
}

/// Replaces every `CURRENT_USER()` (any case) in `text` by `with`.
fn replace_current_user(text: &str, with: &str) -> String {
    const NEEDLE: &str = "current_user()";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (i, _) in lower.match_indices(NEEDLE) {
        out.push_str(&text[rest..i]);
        out.push_str(with);
        rest = i + NEEDLE.len();
    }
    out.push_str(&text[rest..]);
    out
}

/// Checks the shape of live-query SQL (protocol 3.6 step 4) for subscriber `user`.
///
/// `CURRENT_USER()` is substituted before parsing, as the server does: with the quoted user id
/// for the SQL that runs (so the initial rows are right), and with the bare id for the live
/// filter, which then compares against an unknown column and drops the change — both as
/// observed on 0.4.3 (`body = CURRENT_USER()`: initial rows correct, no change delivered).
pub(crate) fn parse(sql: &str, user: &str) -> Result<LiveSql, ShapeError> {
    let quoted = format!("'{}'", user.replace('\'', "''"));
    let live_filter = WhereClause::of_select(&replace_current_user(sql, user));
    let sql = replace_current_user(sql, &quoted);
    let stmts = Parser::parse_sql(&PostgreSqlDialect {}, &sql).map_err(|e| {
        ShapeError(format!(
            "Invalid SQL: Parse error: Failed to parse SQL: {e}"
        ))
    })?;
    let [stmt] = stmts.as_slice() else {
        return Err(doubled(
            "Subscription query must contain exactly one SELECT statement",
        ));
    };
    let Statement::Query(q) = stmt else {
        return Err(doubled(
            "Only SELECT queries are supported for subscriptions",
        ));
    };
    if q.with.is_some() {
        return Err(doubled(&format!(
            "Subscription query does not support WITH clauses. {SHAPE_HINT}"
        )));
    }
    if q.order_by.is_some() {
        return Err(doubled(&format!(
            "Subscription query does not support ORDER BY. {SHAPE_HINT}"
        )));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(only_select());
    }
    let SetExpr::Select(s) = q.body.as_ref() else {
        return Err(only_select());
    };
    if matches!(s.distinct, Some(Distinct::Distinct | Distinct::On(_))) {
        return Err(only_select());
    }
    let grouped =
        !matches!(&s.group_by, GroupByExpr::Expressions(v, m) if v.is_empty() && m.is_empty());
    if grouped || s.having.is_some() {
        return Err(only_select());
    }
    if s.from.len() > 1 || s.from.iter().any(|f| !f.joins.is_empty()) {
        return Err(doubled(&format!(
            "Subscription query does not support JOIN clauses. {SHAPE_HINT}"
        )));
    }
    let Some(from) = s.from.first() else {
        return Err(ShapeError(
            "Invalid SQL: Query must use namespace.table format".into(),
        ));
    };
    let TableFactor::Table { name, args, .. } = &from.relation else {
        return Err(only_select());
    };
    if args.is_some() {
        return Err(only_select());
    }
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(ident_name(i)),
            ObjectNamePart::Function(_) => None,
        })
        .collect();
    let [namespace, table] = parts.as_slice() else {
        return Err(ShapeError(
            "Invalid SQL: Query must use namespace.table format".into(),
        ));
    };
    let mut projection = Some(Vec::new());
    let mut projection_sql = Vec::new();
    for item in &s.projection {
        projection_sql.push(item.to_string());
        let p = match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                projection = None;
                continue;
            }
            SelectItem::UnnamedExpr(e) => match column_of(e) {
                Some(c) => ProjItem::Column(c),
                None => ProjItem::Expression,
            },
            SelectItem::ExprWithAlias { expr, alias } => ProjItem::Aliased {
                column: column_of(expr),
                alias: ident_name(alias),
            },
        };
        if let Some(items) = projection.as_mut() {
            items.push(p);
        }
    }
    Ok(LiveSql {
        namespace: namespace.clone(),
        table: table.clone(),
        table_sql: from.relation.to_string(),
        projection,
        projection_sql,
        filter: s.selection.clone(),
        live_filter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_(sql: &str) -> Result<LiveSql, ShapeError> {
        parse(sql, "alice")
    }

    fn err(sql: &str) -> String {
        parse_(sql).unwrap_err().0
    }

    #[test]
    fn observed_messages() {
        assert_eq!(
            err("SELECT * FROM todos"),
            "Invalid SQL: Query must use namespace.table format"
        );
        assert_eq!(
            err("SELECT * FROM app.todos ORDER BY id"),
            "Invalid SQL: Invalid SQL: Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported."
        );
        assert_eq!(
            err("SELECT * FROM app.todos LIMIT 5"),
            "Invalid SQL: Invalid SQL: Subscription query supports only SELECT ... FROM ... [WHERE ...]."
        );
        assert_eq!(
            err("SELECT DISTINCT id FROM app.t"),
            err("SELECT id FROM app.t OFFSET 1")
        );
        assert!(err("WITH x AS (SELECT 1) SELECT * FROM x").contains("WITH clauses"));
        assert!(err("SELECT * FROM app.a JOIN app.b ON a.id = b.id").contains("JOIN clauses"));
        assert_eq!(
            err("DELETE FROM app.t"),
            "Invalid SQL: Invalid SQL: Only SELECT queries are supported for subscriptions"
        );
        assert_eq!(
            err("SELECT * FROM app.t; SELECT * FROM app.t"),
            "Invalid SQL: Invalid SQL: Subscription query must contain exactly one SELECT statement"
        );
        assert!(
            err("SELEC * FROM app.t")
                .starts_with("Invalid SQL: Parse error: Failed to parse SQL: sql parser error: ")
        );
    }

    #[test]
    fn projections_are_classified() {
        let q =
            parse_("SELECT id, t.title, n + 1, id AS x, UPPER(body) AS u FROM App.T WHERE n = 1")
                .unwrap();
        assert_eq!((q.namespace.as_str(), q.table.as_str()), ("app", "t"));
        assert_eq!(q.bare_columns().unwrap(), vec!["id", "title"]);
        assert_eq!(q.first_alias(), Some("x"));
        assert_eq!(q.projection_sql[2], "n + 1");
        assert!(q.filter.is_some());
        assert!(parse_("SELECT * FROM app.t").unwrap().projection.is_none());
        let q = parse_("SELECT * FROM app.t WHERE body = CURRENT_USER()").unwrap();
        assert_eq!(q.filter.unwrap().to_string(), "body = 'alice'");
        assert_eq!(q.live_filter.unwrap().to_sql(), "body = alice");
        // aggregates pass the shape check (they fail later, at the initial load)
        assert!(parse_("SELECT COUNT(*) FROM app.t").is_ok());
        assert_eq!(
            parse_("SELECT x.id FROM app.t x").unwrap().table_sql,
            "app.t x"
        );
    }
}
