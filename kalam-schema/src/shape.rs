//! The shape of one statement as far as the server's row limits and default ordering are
//! concerned (protocol 1.3 step 9): whether it is a query, which clauses it has, and where
//! each sits in the text. A client rewrites queries by splicing text at these byte offsets,
//! so the user's SQL stays verbatim inside the rewrite (an AST printed back would not
//! round-trip every KalamDB spelling).
//!
//! sqlparser (with the server's dialect) decides what the statement means; the lexer of this
//! crate finds where each clause starts and ends, and the two are cross-checked: when they
//! disagree (an identifier spelled like a clause keyword, say) the analysis fails rather
//! than guess.

use std::ops::Range;

use sqlparser::ast::{
    Expr, GroupByExpr, LimitClause, OrderByKind, Query, SelectItem, SetExpr, Statement,
    TableFactor, Value,
};

use crate::error::{ErrorKind, Location, SchemaError};
use crate::lex::{self, Tok};

/// What one statement is, for row limits and ordering: see [`query_shape`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryShape {
    /// The user of an `EXECUTE AS USER '…' (…)` envelope (protocol 7.7).
    pub execute_as: Option<String>,
    /// The statement's text (inside the envelope, without a trailing `;`, surrounding
    /// comments or parentheses that wrap the whole query).
    pub body: Range<usize>,
    /// The query's clauses; `None` for anything but a single `SELECT`/`WITH` query (DML,
    /// DDL, `SHOW`, batches of several statements, …).
    pub select: Option<SelectShape>,
}

/// The clauses of a query and where they are (byte offsets into the analysed text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectShape {
    /// `UNION`, `INTERSECT` or `EXCEPT` at the top level (then only the ordering and limit
    /// fields below are filled in).
    pub set_operation: bool,
    /// A `WITH` clause (common table expressions).
    pub with: bool,
    /// `SELECT DISTINCT` (or `DISTINCT ON`).
    pub distinct: bool,
    /// `GROUP BY` or `HAVING`.
    pub grouped: bool,
    /// An aggregate function call in the projection, `HAVING` or `ORDER BY`.
    pub aggregates: bool,
    /// A window function (`OVER`), a `WINDOW` or a `QUALIFY` clause.
    pub windows: bool,
    /// The only relation of `FROM` when it is one plain table: no join, no subquery, no
    /// table function.
    pub table: Option<BaseTable>,
    /// The projection items, in order (empty for set operations).
    pub projection: Vec<ProjectionItem>,
    /// Where the projection ends (after its last item): hidden columns go here.
    pub projection_end: usize,
    /// The `WHERE` condition.
    pub filter: Option<Range<usize>>,
    /// Where the `FROM` clause ends (a `WHERE` clause goes here when there is none).
    pub from_end: Option<usize>,
    /// The top-level `ORDER BY` items.
    pub order_by: Vec<OrderItem>,
    /// Where `LIMIT`, `OFFSET` and `FETCH` begin (the end of the text before them), or the
    /// end of the statement when there are none: the text from here to the end of
    /// [`QueryShape::body`] is the limit clause, and an `ORDER BY` goes here when there is none.
    pub tail: usize,
    /// The top-level `LIMIT`.
    pub limit: Option<Bound>,
    /// The top-level `OFFSET`.
    pub offset: Option<Bound>,
}

/// A `LIMIT` or `OFFSET` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bound {
    /// A number.
    Number(u64),
    /// The parameter `$n` (1-based).
    Param(usize),
    /// `LIMIT ALL` or `LIMIT NULL`: no limit.
    All,
    /// Any other expression.
    Other,
}

/// The single table a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BaseTable {
    /// The table's name as written (`ns.table` or `table`, without its alias).
    pub span: Range<usize>,
    /// The namespace, when written (lower case unless quoted).
    pub namespace: Option<String>,
    /// The table name (lower case unless quoted).
    pub name: String,
}

/// One projection item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectionItem {
    /// The whole item, alias included.
    pub span: Range<usize>,
    /// The expression, without its alias.
    pub expr: Range<usize>,
    /// The alias (lower case unless quoted).
    pub alias: Option<String>,
    /// What the expression is.
    pub kind: ItemKind,
}

impl ProjectionItem {
    /// The output column name, when the text tells it: the alias, else the name of a plain
    /// column reference.
    pub fn output_name(&self) -> Option<&str> {
        match (&self.alias, &self.kind) {
            (Some(alias), _) => Some(alias),
            (None, ItemKind::Column { name }) => Some(name),
            _ => None,
        }
    }
}

/// The kind of a projection item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemKind {
    /// `*`.
    Wildcard,
    /// `t.*`.
    QualifiedWildcard,
    /// A plain column reference (`c` or `t.c`); `name` is the column (lower case unless quoted).
    Column {
        /// The column name.
        name: String,
    },
    /// Any other expression.
    Expr,
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderItem {
    /// The whole item, direction and `NULLS` placement included.
    pub span: Range<usize>,
    /// The sort expression alone (the text from its end to the end of `span` is the
    /// direction and `NULLS` placement as written).
    pub expr: Range<usize>,
    /// What the expression is.
    pub key: OrderKey,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST` (`Some(true)`), `NULLS LAST` (`Some(false)`) or neither (`None`).
    pub nulls_first: Option<bool>,
}

/// What an `ORDER BY` item sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderKey {
    /// `ORDER BY 2`: the second output column (1-based).
    Position(usize),
    /// A bare name (`v`): an output column, or a column of the `FROM` tables.
    Name(String),
    /// A qualified column (`t.v`); `name` is the column.
    Column {
        /// The column name (lower case unless quoted).
        name: String,
    },
    /// Any other expression.
    Expr,
}

/// Analyses one statement for a client that handles the server's implicit `LIMIT`, row cap
/// and primary-key re-sort (protocol 1.3 step 9): the query's clauses and their byte offsets.
/// An `EXECUTE AS USER` envelope is looked through. Anything but one query has no
/// [`QueryShape::select`]; SQL that does not parse, or whose clauses cannot be located
/// exactly, is an error.
///
/// ```
/// use kalam_schema::{OrderKey, query_shape};
/// let sql = "SELECT id, title FROM app.todos WHERE done = $1 ORDER BY due_at DESC LIMIT 3;";
/// let shape = query_shape(sql)?;
/// let q = shape.select.unwrap();
/// assert_eq!(q.table.as_ref().map(|t| t.name.as_str()), Some("todos"));
/// assert_eq!(&sql[q.filter.unwrap()], "done = $1");
/// assert_eq!(q.order_by[0].key, OrderKey::Name("due_at".into()));
/// assert!(q.order_by[0].descending);
/// assert_eq!(&sql[q.tail..shape.body.end], " LIMIT 3");
/// assert!(query_shape("DELETE FROM app.todos")?.select.is_none());
/// # Ok::<(), kalam_schema::SchemaError>(())
/// ```
pub fn query_shape(sql: &str) -> Result<QueryShape, SchemaError> {
    let (envelope, mut text) = lex::strip_execute_as(sql)?;
    lex::bare_current_user(&mut text)?;
    let execute_as = envelope.map(|e| e.user);
    let toks = lex::tokenize(&text)?;
    let mut hi = toks.len();
    while hi > 0 && toks[hi - 1].is_punct(';') {
        hi -= 1;
    }
    let not_query = |body: Range<usize>| QueryShape {
        execute_as: execute_as.clone(),
        body,
        select: None,
    };
    if hi == 0 {
        return Ok(not_query(0..0));
    }
    let whole = toks[0].start..toks[hi - 1].end;
    if toks[..hi].iter().any(|t| t.is_punct(';')) {
        return Ok(not_query(whole));
    }
    // Parentheses around the whole query.
    let mut lo = 0;
    while hi - lo > 2 && toks[lo].is_punct('(') && matching(&toks, lo) == Some(hi - 1) {
        lo += 1;
        hi -= 1;
    }
    let body = toks[lo].start..toks[hi - 1].end;
    if !(toks[lo].is_kw("SELECT") || toks[lo].is_kw("WITH")) {
        return Ok(not_query(body));
    }
    let stmts = crate::check::parse_statements(sql, &text)?;
    let [Statement::Query(query)] = stmts.as_slice() else {
        return Ok(not_query(body));
    };
    let mut query: &Query = query;
    while let SetExpr::Query(inner) = query.body.as_ref() {
        if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
            break;
        }
        query = inner;
    }
    let cx = Cx {
        sql,
        toks: &toks[..hi],
    };
    let select = cx.select(query, lo)?;
    Ok(QueryShape {
        execute_as,
        body,
        select: Some(select),
    })
}

/// The index of the `)` closing the `(` at `open`.
fn matching(toks: &[Tok<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is_punct('(') {
            depth += 1;
        } else if t.is_punct(')') {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Aggregate functions of the server's engine (DataFusion), lower case.
const AGGREGATES: &[&str] = &[
    "approx_distinct",
    "approx_median",
    "approx_percentile_cont",
    "approx_percentile_cont_with_weight",
    "array_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "corr",
    "count",
    "covar",
    "covar_pop",
    "covar_samp",
    "every",
    "first_value",
    "grouping",
    "last_value",
    "max",
    "mean",
    "median",
    "min",
    "nth_value",
    "percentile_cont",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "var",
    "var_pop",
    "var_samp",
    "variance",
];

/// Clause keywords of a query, in the order SQL allows them (the last four in any order).
const CLAUSES: &[&str] = &[
    "FROM", "WHERE", "GROUP", "HAVING", "WINDOW", "QUALIFY", "ORDER", "LIMIT", "OFFSET", "FETCH",
    "FOR",
];

/// How many of [`CLAUSES`] come in a fixed order.
const ORDERED: usize = 7;

struct Cx<'a, 't> {
    sql: &'a str,
    toks: &'t [Tok<'t>],
}

impl Cx<'_, '_> {
    fn fail(&self, at: usize, what: &str) -> SchemaError {
        SchemaError::new(
            ErrorKind::Unsupported,
            format!("cannot locate the {what} of this query"),
        )
        .at(Location::at_offset(self.sql, at, 0))
    }

    /// Indices of the tokens at parenthesis depth 0 in `from..`.
    fn top_level(&self, from: usize) -> Vec<usize> {
        let mut depth = 0usize;
        let mut out = Vec::new();
        for (i, t) in self.toks.iter().enumerate().skip(from) {
            if t.is_punct('(') {
                if depth == 0 {
                    out.push(i);
                }
                depth += 1;
            } else if t.is_punct(')') {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    out.push(i);
                }
            } else if depth == 0 {
                out.push(i);
            }
        }
        out
    }

    /// Whether top-level token `i` starts clause `kw`.
    fn is_clause(&self, i: usize, kw: &str) -> bool {
        let t = &self.toks[i];
        if !t.is_kw(kw) {
            return false;
        }
        let next = self.toks.get(i + 1);
        match kw {
            "GROUP" | "ORDER" => next.is_some_and(|n| n.is_kw("BY")),
            // `a IS [NOT] DISTINCT FROM b`.
            "FROM" => !(i > 0 && self.toks[i - 1].is_kw("DISTINCT")),
            _ => true,
        }
    }

    fn select(&self, q: &Query, lo: usize) -> Result<SelectShape, SchemaError> {
        let end = self.toks.len();
        let top = self.top_level(lo);
        let set_operation = matches!(q.body.as_ref(), SetExpr::SetOperation { .. });
        // Where the clauses of the query (not of a set operation's branches) are searched.
        let scope = if set_operation {
            top.iter()
                .copied()
                .rfind(|&i| {
                    let t = &self.toks[i];
                    t.is_kw("UNION") || t.is_kw("INTERSECT") || t.is_kw("EXCEPT")
                })
                .ok_or_else(|| self.fail(self.toks[lo].start, "set operation"))?
        } else {
            top.iter()
                .copied()
                .find(|&i| self.toks[i].is_kw("SELECT"))
                .ok_or_else(|| self.fail(self.toks[lo].start, "SELECT keyword"))?
        };
        // Top-level clause keywords after `scope`, each after the previous one (`LIMIT`,
        // `OFFSET`, `FETCH` and `FOR` in any order after the others).
        let mut found: Vec<(&str, usize)> = Vec::new();
        let mut k = 0;
        for &i in top.iter().filter(|&&i| i > scope) {
            if k < ORDERED
                && let Some(pos) = CLAUSES[k..ORDERED]
                    .iter()
                    .position(|kw| self.is_clause(i, kw))
            {
                k += pos;
                found.push((CLAUSES[k], i));
                k += 1;
                continue;
            }
            if let Some(kw) = CLAUSES[ORDERED..]
                .iter()
                .find(|kw| self.is_clause(i, kw) && !found.iter().any(|(f, _)| f == *kw))
            {
                found.push((kw, i));
                k = ORDERED;
            }
        }
        let at = |kw: &str| found.iter().find(|(k, _)| *k == kw).map(|(_, i)| *i);
        // The first clause keyword after token `i` (or the end).
        let next_clause = |i: usize| {
            found
                .iter()
                .map(|(_, j)| *j)
                .find(|&j| j > i)
                .unwrap_or(end)
        };
        let tail_tok = ["LIMIT", "OFFSET", "FETCH", "FOR"]
            .iter()
            .filter_map(|kw| at(kw))
            .min();
        let tail = match tail_tok {
            Some(i) => self.toks[i - 1].end,
            None => self.toks[end - 1].end,
        };
        let (limit, offset) = bounds(q.limit_clause.as_ref(), at("LIMIT").is_some());
        if limit.is_some() != at("LIMIT").is_some() || offset.is_some() != at("OFFSET").is_some() {
            return Err(self.fail(tail, "LIMIT and OFFSET"));
        }
        let ast_order: &[sqlparser::ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ob) => match &ob.kind {
                OrderByKind::Expressions(v) => v,
                OrderByKind::All(_) => return Err(self.fail(tail, "ORDER BY ALL")),
            },
        };
        let order_by = match at("ORDER") {
            Some(i) => self.order_items(i + 2, next_clause(i), ast_order)?,
            None if ast_order.is_empty() => Vec::new(),
            None => return Err(self.fail(tail, "ORDER BY")),
        };
        let mut shape = SelectShape {
            set_operation,
            with: q.with.is_some(),
            distinct: false,
            grouped: false,
            aggregates: false,
            windows: false,
            table: None,
            projection: Vec::new(),
            projection_end: 0,
            filter: None,
            from_end: None,
            order_by,
            tail,
            limit,
            offset,
        };
        if let Some(i) = at("ORDER") {
            let (a, b) = (i + 2, next_clause(i));
            shape.aggregates |= self.calls(a, b, AGGREGATES);
            shape.windows |= self.has_over(a, b);
        }
        let SetExpr::Select(s) = q.body.as_ref() else {
            if !set_operation {
                return Err(self.fail(self.toks[lo].start, "SELECT"));
            }
            return Ok(shape);
        };
        shape.distinct = s.distinct.is_some();
        shape.grouped = s.having.is_some()
            || !matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        shape.windows |= !s.named_window.is_empty() || s.qualify.is_some();
        if s.from.is_empty() != at("FROM").is_none()
            || s.selection.is_some() != at("WHERE").is_some()
            || (s.having.is_some() && at("HAVING").is_none())
        {
            return Err(self.fail(self.toks[scope].start, "clauses"));
        }
        // The projection: after SELECT [DISTINCT [ON (…)] | ALL].
        let mut p = scope + 1;
        if p < end && self.toks[p].is_kw("DISTINCT") {
            p += 1;
            if p < end && self.toks[p].is_kw("ON") {
                let close = self
                    .toks
                    .get(p + 1)
                    .filter(|t| t.is_punct('('))
                    .and_then(|_| matching(self.toks, p + 1))
                    .ok_or_else(|| self.fail(self.toks[p].start, "DISTINCT ON list"))?;
                p = close + 1;
            }
        } else if p < end && self.toks[p].is_kw("ALL") {
            p += 1;
        }
        let p_end = next_clause(scope);
        shape.aggregates |= self.calls(p, p_end, AGGREGATES);
        shape.windows |= self.has_over(p, p_end);
        if let Some(h) = at("HAVING") {
            shape.aggregates |= self.calls(h + 1, next_clause(h), AGGREGATES);
        }
        let items = self.split(p, p_end);
        if items.len() != s.projection.len() {
            return Err(self.fail(self.toks[scope].start, "projection items"));
        }
        for ((a, b), item) in items.into_iter().zip(&s.projection) {
            shape.projection.push(self.projection_item(a, b, item)?);
        }
        shape.projection_end = shape
            .projection
            .last()
            .map_or(self.toks[scope].end, |i| i.span.end);
        if let Some(f) = at("FROM") {
            let f_end = next_clause(f);
            shape.from_end = Some(self.toks[f_end - 1].end);
            if let [twj] = s.from.as_slice()
                && twj.joins.is_empty()
                && let TableFactor::Table {
                    name, args: None, ..
                } = &twj.relation
            {
                shape.table = self.table_name(f + 1, f_end, name.0.len());
            }
        }
        if let Some(w) = at("WHERE") {
            let w_end = next_clause(w);
            if w + 1 >= w_end {
                return Err(self.fail(self.toks[w].start, "WHERE condition"));
            }
            shape.filter = Some(self.toks[w + 1].start..self.toks[w_end - 1].end);
        }
        Ok(shape)
    }

    /// Splits tokens `a..b` at top-level commas into non-empty item ranges `[start, end)`.
    fn split(&self, a: usize, b: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut start = a;
        for i in a..b {
            let t = &self.toks[i];
            if t.is_punct('(') {
                depth += 1;
            } else if t.is_punct(')') {
                depth = depth.saturating_sub(1);
            } else if depth == 0 && t.is_punct(',') {
                if i > start {
                    out.push((start, i));
                }
                start = i + 1;
            }
        }
        if b > start {
            out.push((start, b));
        }
        out
    }

    fn span(&self, a: usize, b: usize) -> Range<usize> {
        self.toks[a].start..self.toks[b - 1].end
    }

    fn projection_item(
        &self,
        a: usize,
        b: usize,
        item: &SelectItem,
    ) -> Result<ProjectionItem, SchemaError> {
        let span = self.span(a, b);
        let column = |e: &Expr| match e {
            Expr::Identifier(i) => ItemKind::Column {
                name: crate::check::lower_ident(i),
            },
            Expr::CompoundIdentifier(parts) => match parts.last() {
                Some(i) => ItemKind::Column {
                    name: crate::check::lower_ident(i),
                },
                None => ItemKind::Expr,
            },
            _ => ItemKind::Expr,
        };
        Ok(match item {
            SelectItem::UnnamedExpr(e) => ProjectionItem {
                expr: span.clone(),
                span,
                alias: None,
                kind: column(e),
            },
            SelectItem::ExprWithAlias { expr, alias } => {
                // `expr [AS] alias`: the alias is the last token.
                let mut e_end = b - 1;
                if e_end > a && self.toks[e_end - 1].is_kw("AS") {
                    e_end -= 1;
                }
                if e_end <= a || self.toks[b - 1].ident().is_none() {
                    return Err(self.fail(span.start, "projection alias"));
                }
                ProjectionItem {
                    expr: self.span(a, e_end),
                    span,
                    alias: Some(crate::check::lower_ident(alias)),
                    kind: column(expr),
                }
            }
            SelectItem::Wildcard(_) => ProjectionItem {
                expr: span.clone(),
                span,
                alias: None,
                kind: ItemKind::Wildcard,
            },
            SelectItem::QualifiedWildcard(..) => ProjectionItem {
                expr: span.clone(),
                span,
                alias: None,
                kind: ItemKind::QualifiedWildcard,
            },
        })
    }

    fn order_items(
        &self,
        a: usize,
        b: usize,
        ast: &[sqlparser::ast::OrderByExpr],
    ) -> Result<Vec<OrderItem>, SchemaError> {
        let items = self.split(a, b);
        if items.len() != ast.len() {
            let at = self.toks.get(a).map_or(0, |t| t.start);
            return Err(self.fail(at, "ORDER BY items"));
        }
        let mut out = Vec::with_capacity(items.len());
        for ((s, e), o) in items.into_iter().zip(ast) {
            // Strip `NULLS FIRST|LAST`, then `ASC|DESC`.
            let mut x = e;
            if x >= s + 2
                && self.toks[x - 2].is_kw("NULLS")
                && (self.toks[x - 1].is_kw("FIRST") || self.toks[x - 1].is_kw("LAST"))
            {
                x -= 2;
            }
            if x > s && (self.toks[x - 1].is_kw("ASC") || self.toks[x - 1].is_kw("DESC")) {
                x -= 1;
            }
            if x <= s {
                return Err(self.fail(self.toks[s].start, "ORDER BY expression"));
            }
            let key = match &o.expr {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n
                        .parse::<usize>()
                        .map(OrderKey::Position)
                        .unwrap_or(OrderKey::Expr),
                    _ => OrderKey::Expr,
                },
                Expr::Identifier(i) => OrderKey::Name(crate::check::lower_ident(i)),
                Expr::CompoundIdentifier(parts) => match parts.last() {
                    Some(i) => OrderKey::Column {
                        name: crate::check::lower_ident(i),
                    },
                    None => OrderKey::Expr,
                },
                _ => OrderKey::Expr,
            };
            out.push(OrderItem {
                span: self.span(s, e),
                expr: self.span(s, x),
                key,
                descending: o.options.asc == Some(false),
                nulls_first: o.options.nulls_first,
            });
        }
        Ok(out)
    }

    /// The table name right after `FROM` (token `a`): `parts` identifiers joined by dots.
    fn table_name(&self, a: usize, b: usize, parts: usize) -> Option<BaseTable> {
        let last = a + 2 * parts - 1;
        if parts == 0 || last > b {
            return None;
        }
        let mut names = Vec::with_capacity(parts);
        for k in 0..parts {
            let t = &self.toks[a + 2 * k];
            let name = match &t.kind {
                lex::TokKind::Word(w) => w.to_ascii_lowercase(),
                lex::TokKind::QuotedIdent(w) => w.to_string(),
                _ => return None,
            };
            names.push(name);
            if k + 1 < parts && !self.toks[a + 2 * k + 1].is_punct('.') {
                return None;
            }
        }
        let name = names.pop()?;
        Some(BaseTable {
            span: self.span(a, last),
            namespace: names.pop(),
            name,
        })
    }

    /// Whether tokens `a..b` call one of `names` (a word followed by `(`).
    fn calls(&self, a: usize, b: usize, names: &[&str]) -> bool {
        (a..b.saturating_sub(1)).any(|i| {
            matches!(&self.toks[i].kind, lex::TokKind::Word(w)
                if names.iter().any(|n| w.eq_ignore_ascii_case(n)))
                && self.toks[i + 1].is_punct('(')
        })
    }

    /// Whether tokens `a..b` hold a window function (`… OVER (…)` or `… OVER w`).
    fn has_over(&self, a: usize, b: usize) -> bool {
        (a..b).any(|i| self.toks[i].is_kw("OVER") && i > a && self.toks[i - 1].is_punct(')'))
    }
}

/// The `LIMIT` and `OFFSET` of a query; `limit_kw` tells a `LIMIT ALL` from no `LIMIT`.
fn bounds(clause: Option<&LimitClause>, limit_kw: bool) -> (Option<Bound>, Option<Bound>) {
    let value = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().map(Bound::Number).unwrap_or(Bound::Other),
            Value::Placeholder(p) => p
                .strip_prefix('$')
                .and_then(|n| n.parse().ok())
                .map_or(Bound::Other, Bound::Param),
            Value::Null => Bound::All,
            _ => Bound::Other,
        },
        _ => Bound::Other,
    };
    match clause {
        // sqlparser reads `LIMIT ALL` as no limit clause at all.
        None => (limit_kw.then_some(Bound::All), None),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            let limit = match limit {
                Some(e) => Some(value(e)),
                None if limit_kw => Some(Bound::All),
                None => None,
            };
            (limit, offset.as_ref().map(|o| value(&o.value)))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            (Some(value(limit)), Some(value(offset)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> SelectShape {
        query_shape(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .select
            .unwrap_or_else(|| panic!("{sql}: not a query"))
    }

    fn texts(sql: &str, ranges: impl IntoIterator<Item = Range<usize>>) -> Vec<&str> {
        ranges.into_iter().map(|r| &sql[r]).collect()
    }

    #[test]
    fn plain_select_clauses() {
        let sql = "SELECT id, v AS x, lower(title) t, * FROM tr.tasks AS k WHERE done = $1 AND (a OR b) ORDER BY x DESC NULLS LAST, 2, lower(title) LIMIT 5 OFFSET $2";
        let q = shape(sql);
        assert_eq!(
            texts(sql, q.projection.iter().map(|p| p.expr.clone())),
            ["id", "v", "lower(title)", "*"]
        );
        let names: Vec<_> = q.projection.iter().map(|p| p.output_name()).collect();
        assert_eq!(names, [Some("id"), Some("x"), Some("t"), None]);
        assert_eq!(q.projection[3].kind, ItemKind::Wildcard);
        assert_eq!(&sql[q.projection_end..q.projection_end + 5], " FROM");
        let t = q.table.unwrap();
        assert_eq!(
            (&sql[t.span], t.namespace.as_deref(), t.name.as_str()),
            ("tr.tasks", Some("tr"), "tasks")
        );
        assert_eq!(&sql[q.filter.unwrap()], "done = $1 AND (a OR b)");
        assert_eq!(
            &sql[..q.from_end.unwrap()],
            "SELECT id, v AS x, lower(title) t, * FROM tr.tasks AS k"
        );
        assert_eq!(
            texts(sql, q.order_by.iter().map(|o| o.expr.clone())),
            ["x", "2", "lower(title)"]
        );
        assert_eq!(&sql[q.order_by[0].span.clone()], "x DESC NULLS LAST");
        assert_eq!(q.order_by[0].key, OrderKey::Name("x".into()));
        assert!(q.order_by[0].descending && q.order_by[0].nulls_first == Some(false));
        assert_eq!(q.order_by[1].key, OrderKey::Position(2));
        assert_eq!(q.order_by[2].key, OrderKey::Expr);
        assert_eq!(&sql[q.tail..], " LIMIT 5 OFFSET $2");
        assert_eq!(
            (q.limit, q.offset),
            (Some(Bound::Number(5)), Some(Bound::Param(2)))
        );
        assert!(!q.distinct && !q.grouped && !q.aggregates && !q.windows && !q.set_operation);
    }

    #[test]
    fn quotes_comments_and_subqueries_do_not_confuse_clauses() {
        let sql = "SELECT \"Order\", 'from x where y order by z' AS s -- FROM c WHERE d\n FROM t /* WHERE */ WHERE id IN (SELECT id FROM u WHERE w ORDER BY id LIMIT 3) AND a IS DISTINCT FROM b ORDER BY \"Order\" -- trailing LIMIT 1\n;";
        let q = shape(sql);
        assert_eq!(q.projection[0].output_name(), Some("Order"));
        assert_eq!(q.projection[1].output_name(), Some("s"));
        assert_eq!(
            &sql[q.filter.clone().unwrap()],
            "id IN (SELECT id FROM u WHERE w ORDER BY id LIMIT 3) AND a IS DISTINCT FROM b"
        );
        assert_eq!(q.order_by[0].key, OrderKey::Name("Order".into()));
        assert_eq!(q.limit, None);
        assert_eq!(&sql[q.tail - 7..q.tail], "\"Order\"");
        let q = shape("SELECT a IS DISTINCT FROM b AS d FROM t");
        assert_eq!(q.projection.len(), 1);
        assert!(q.table.is_some());
    }

    #[test]
    fn envelopes_trailing_semicolons_and_outer_parentheses() {
        let sql = "EXECUTE AS USER 'al''ice' (SELECT id FROM app.t ORDER BY id DESC LIMIT 3);";
        let s = query_shape(sql).unwrap();
        assert_eq!(s.execute_as.as_deref(), Some("al'ice"));
        assert_eq!(
            &sql[s.body.clone()],
            "SELECT id FROM app.t ORDER BY id DESC LIMIT 3"
        );
        let q = s.select.unwrap();
        assert_eq!(&sql[q.tail..s.body.end], " LIMIT 3");
        let sql = "  ((SELECT id FROM t ORDER BY id LIMIT 2)) ;; ";
        let s = query_shape(sql).unwrap();
        assert_eq!(&sql[s.body.clone()], "SELECT id FROM t ORDER BY id LIMIT 2");
        assert_eq!(s.select.unwrap().limit, Some(Bound::Number(2)));
        let q = shape("SELECT CURRENT_USER() AS me, id FROM t WHERE owner = CURRENT_USER()");
        assert_eq!(q.projection[0].output_name(), Some("me"));
    }

    #[test]
    fn shapes_that_cannot_be_paged() {
        let q = shape("SELECT o.id, c.name FROM shop.orders o JOIN shop.customers c ON o.c = c.id");
        assert!(q.table.is_none());
        let q =
            shape("SELECT room, COUNT(*) FROM m GROUP BY room HAVING COUNT(*) > 1 ORDER BY 2 DESC");
        assert!(q.grouped && q.aggregates && q.table.is_some());
        assert!(shape("SELECT DISTINCT room FROM m").distinct);
        assert!(shape("SELECT DISTINCT ON (room) room, id FROM m").distinct);
        assert!(shape("SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM m").windows);
        assert!(shape("SELECT max(id) FROM m").aggregates);
        assert!(shape("SELECT * FROM (SELECT id FROM m) s").table.is_none());
        assert!(shape("WITH x AS (SELECT id FROM m) SELECT id FROM x").with);
        let sql = "SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a DESC LIMIT 4";
        let q = shape(sql);
        assert!(q.set_operation && q.projection.is_empty() && q.table.is_none());
        assert_eq!(q.order_by[0].key, OrderKey::Name("a".into()));
        assert_eq!(&sql[q.tail..], " LIMIT 4");
        let q = shape("SELECT 1 AS n");
        assert!(q.from_end.is_none() && q.table.is_none());
    }

    #[test]
    fn limits_of_every_spelling() {
        assert_eq!(shape("SELECT a FROM t LIMIT ALL").limit, Some(Bound::All));
        assert_eq!(shape("SELECT a FROM t LIMIT NULL").limit, Some(Bound::All));
        let q = shape("SELECT a FROM t OFFSET 10");
        assert_eq!((q.limit, q.offset), (None, Some(Bound::Number(10))));
        assert_eq!(
            shape("SELECT a FROM t LIMIT 1 + 1").limit,
            Some(Bound::Other)
        );
        let sql = "SELECT a FROM t ORDER BY a OFFSET 5 LIMIT 10";
        let q = shape(sql);
        assert_eq!(
            (q.limit, q.offset),
            (Some(Bound::Number(10)), Some(Bound::Number(5)))
        );
        assert_eq!(&sql[q.tail..], " OFFSET 5 LIMIT 10");
        let q = shape("SELECT a FROM t ORDER BY t.a");
        assert_eq!(q.order_by[0].key, OrderKey::Column { name: "a".into() });
    }

    #[test]
    fn other_statements_have_no_select() {
        for sql in [
            "",
            ";",
            "INSERT INTO t (a) VALUES (1)",
            "SHOW NAMESPACES",
            "SELECT 1; SELECT 2",
            "EXECUTE AS USER 'a' (DELETE FROM t)",
        ] {
            assert!(query_shape(sql).unwrap().select.is_none(), "{sql}");
        }
        assert!(query_shape("SELEC 1 FROM").unwrap().select.is_none());
        assert!(query_shape("SELECT FROM WHERE").is_err());
    }
}
