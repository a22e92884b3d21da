//! Statement-level checking: parsing, FROM/JOIN scopes, SELECT, set operations and DML.
//! Expression typing lives in `check_expr.rs`, the engine's type rules in `dtype.rs`.

use std::collections::BTreeMap;

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, LimitClause, ObjectName,
    ObjectNamePart, OrderByKind, Query, Select, SelectItem, SelectItemQualifiedWildcardKind,
    SetExpr, SetOperator, Spanned, Statement, TableFactor, TableWithJoins, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserOptions};

use crate::describe::{ColumnSource, OutputColumn, Param, QueryDescription, QueryKind, TableRef};
use crate::dtype::{self, DType};
use crate::error::{ErrorKind, Location, SchemaError, nearest};
use crate::lex;
use crate::model::{Catalog, Table};
use crate::types::SqlType;

/// The type of an expression while checking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ty {
    pub(crate) dt: DType,
    pub(crate) nullable: bool,
    /// The table column's KalamDB type, carried by plain column references (field metadata).
    pub(crate) kalam: Option<SqlType>,
    /// The table column, for plain column references.
    pub(crate) source: Option<SrcId>,
    /// `Some(n)` when the expression is exactly the parameter `$n`.
    pub(crate) param: Option<usize>,
    /// The KalamDB type the server describes the value with when it differs from the value's
    /// own: a CAST keeps its column's field metadata (protocol 1.7).
    pub(crate) described: Option<SqlType>,
}

impl Ty {
    pub(crate) fn new(dt: DType, nullable: bool) -> Ty {
        Ty {
            dt,
            nullable,
            kalam: None,
            source: None,
            param: None,
            described: None,
        }
    }

    /// The KalamDB type the server reports for this value.
    pub(crate) fn sql(&self) -> Option<SqlType> {
        self.kalam.or_else(|| self.dt.to_sql())
    }

    /// Drops column identity (for computed expressions).
    pub(crate) fn computed(mut self) -> Ty {
        self.kalam = None;
        self.source = None;
        self.param = None;
        self.described = None;
        self
    }
}

/// A table column, as an index into [`Checker::sources`] and the table's columns (cheap to copy
/// while checking; turned into a [`ColumnSource`] only for the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SrcId {
    table: u32,
    column: u32,
}

/// A column visible in a scope.
#[derive(Debug, Clone)]
pub(crate) struct ScopeCol {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    /// Right-hand USING columns are not repeated by `*`.
    pub(crate) in_wildcard: bool,
}

/// A relation in FROM: a table, a derived table or a CTE.
#[derive(Debug, Clone)]
pub(crate) struct Rel {
    /// The alias, if any.
    pub(crate) alias: Option<String>,
    /// Namespace and table for tables without alias (to match `t.c` and `ns.t.c`).
    pub(crate) table: Option<(String, String)>,
    /// The qualifier DataFusion prints in expression names (`shop.orders`, `o`); `None` for an
    /// unaliased derived table.
    pub(crate) display: Option<String>,
    pub(crate) cols: Vec<ScopeCol>,
}

impl Rel {
    pub(crate) fn matches(&self, parts: &[String]) -> bool {
        match parts {
            [q] => match &self.alias {
                Some(a) => a == q,
                None => self.table.as_ref().is_some_and(|(_, t)| t == q),
            },
            [ns, t] => {
                self.alias.is_none()
                    && self
                        .table
                        .as_ref()
                        .is_some_and(|(n, tt)| n == ns && tt == t)
            }
            _ => false,
        }
    }
}

/// Group-by state of a SELECT being checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Agg {
    /// Display names of the GROUP BY expressions, with their types.
    pub(crate) keys: Vec<(String, Ty)>,
}

/// Name resolution scope: the relations of one SELECT plus its enclosing query (correlation).
pub(crate) struct Scope<'a> {
    pub(crate) rels: Vec<Rel>,
    pub(crate) parent: Option<&'a Scope<'a>>,
    /// Set while checking projection/HAVING/ORDER BY of an aggregate query.
    pub(crate) agg: Option<Agg>,
    /// Output aliases usable in ORDER BY / HAVING / GROUP BY.
    pub(crate) aliases: Vec<(String, Ty, String)>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(rels: Vec<Rel>, parent: Option<&'a Scope<'a>>) -> Scope<'a> {
        Scope {
            rels,
            parent,
            agg: None,
            aliases: Vec::new(),
        }
    }

    pub(crate) fn all_column_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .rels
            .iter()
            .flat_map(|r| r.cols.iter().map(|c| c.name.as_str()))
            .collect();
        v.extend(self.aliases.iter().map(|(a, _, _)| a.as_str()));
        if let Some(p) = self.parent {
            v.extend(p.all_column_names());
        }
        v
    }
}

/// One output column while checking (before it becomes an [`OutputColumn`]).
#[derive(Debug, Clone)]
pub(crate) struct Out {
    pub(crate) name: String,
    pub(crate) qualifier: Option<String>,
    pub(crate) ty: Ty,
}

pub(crate) struct Checker<'c> {
    pub(crate) catalog: &'c Catalog,
    /// The original SQL (positions in errors point into it).
    pub(crate) sql: &'c str,
    pub(crate) default_ns: &'c str,
    /// Inferred parameter types: index → (type, nullable).
    pub(crate) params: BTreeMap<usize, (SqlType, bool)>,
    /// Where each parameter first appears (turned into a `Location` only for an error).
    pub(crate) param_sites: BTreeMap<usize, sqlparser::tokenizer::Span>,
    pub(crate) tables: Vec<TableRef>,
    /// CTEs in scope, innermost last.
    pub(crate) ctes: Vec<(String, Vec<Out>)>,
    /// Current expression nesting depth.
    pub(crate) depth: usize,
    /// Tables whose columns appear in scopes (see [`SrcId`]).
    pub(crate) sources: Vec<&'c Table>,
    /// Identifiers naming a namespace (`ns` of `ns.t` and `ns.t.c`), as found.
    pub(crate) namespace_refs: Vec<sqlparser::tokenizer::Span>,
}

pub(crate) fn check_statement(
    catalog: &Catalog,
    sql: &str,
    default_ns: &str,
) -> Result<QueryDescription, SchemaError> {
    let (envelope, mut text) = lex::strip_execute_as(sql)?;
    lex::bare_current_user(&mut text)?;
    let stmts = parse_statements(sql, &text)?;
    let [stmt] = stmts.as_slice() else {
        return Err(SchemaError::new(
            ErrorKind::Syntax,
            format!("expected exactly one statement, found {}", stmts.len()),
        )
        .at(Location::at_offset(sql, 0, 0)));
    };
    let mut cx = Checker {
        catalog,
        sql,
        default_ns,
        params: BTreeMap::new(),
        param_sites: BTreeMap::new(),
        tables: Vec::new(),
        ctes: Vec::new(),
        depth: 0,
        sources: Vec::new(),
        namespace_refs: Vec::new(),
    };
    let (kind, outs) = cx.statement(stmt)?;
    let mut columns = Vec::with_capacity(outs.len());
    for o in outs {
        let ty = o.ty.sql().ok_or_else(|| {
            SchemaError::new(
                ErrorKind::Unsupported,
                crate::check_fn::unsendable(
                    &format!("the output column `{}`", o.name),
                    "an INTERVAL, which has no JSON encoding",
                ),
            )
            .with_suggestion(crate::check_fn::instead("interval").unwrap_or_default())
            .at(Location::at_offset(sql, 0, 0))
        })?;
        if let Some(src) = o.ty.described
            && matches!(src, SqlType::SmallInt | SqlType::Int | SqlType::BigInt)
            && src != ty
        {
            return Err(SchemaError::new(
                ErrorKind::Unsupported,
                crate::check_fn::unsendable(
                    &format!("the output column `{}`", o.name),
                    &format!(
                        "a CAST of a {} column to {}: the server describes it as the column \
                         and cannot encode the cast values",
                        src.sql_name(),
                        ty.sql_name()
                    ),
                ),
            )
            .with_suggestion(crate::check_fn::instead("cast").unwrap_or_default())
            .at(Location::at_offset(sql, 0, 0)));
        }
        columns.push(OutputColumn {
            name: o.name,
            ty,
            nullable: o.ty.nullable,
            source: o.ty.source.and_then(|s| cx.column_source(s)),
        });
    }
    let params = cx.finish_params()?;
    let namespace_refs = cx.namespace_ranges();
    Ok(QueryDescription {
        kind,
        columns,
        params,
        execute_as: envelope.map(|e| e.user),
        tables: cx.tables,
        namespace_refs,
    })
}

/// Parses `text` (`sql` after the server's pre-processing, byte offsets kept) as the server
/// does: PostgreSQL dialect, trailing commas allowed; errors point into `sql`.
pub(crate) fn parse_statements(sql: &str, text: &str) -> Result<Vec<Statement>, SchemaError> {
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(crate::parse::RECURSION_LIMIT)
        .with_options(ParserOptions::new().with_trailing_commas(true))
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| crate::parse::parser_error(sql, 0, text, &e))
}

pub(crate) fn lower_ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

pub(crate) fn name_parts(n: &ObjectName) -> Vec<&Ident> {
    n.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

impl<'c> Checker<'c> {
    /// The location of a sqlparser span in the original text.
    pub(crate) fn loc(&self, span: sqlparser::tokenizer::Span) -> Location {
        crate::parse::span_location(self.sql, 0, self.sql, span)
    }

    pub(crate) fn err(
        &self,
        kind: ErrorKind,
        msg: impl Into<String>,
        span: sqlparser::tokenizer::Span,
    ) -> SchemaError {
        SchemaError::new(kind, msg).at(self.loc(span))
    }

    pub(crate) fn unsupported(
        &self,
        what: impl AsRef<str>,
        span: sqlparser::tokenizer::Span,
    ) -> SchemaError {
        self.err(
            ErrorKind::Unsupported,
            format!("{} is not supported by the query checker", what.as_ref()),
            span,
        )
    }

    fn finish_params(&self) -> Result<Vec<Param>, SchemaError> {
        let max = self.param_sites.keys().next_back().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(max);
        for index in 1..=max {
            let Some(site) = self.param_sites.get(&index) else {
                let at = self
                    .param_sites
                    .values()
                    .next()
                    .map(|span| self.loc(*span))
                    .unwrap_or_default();
                return Err(SchemaError::new(
                    ErrorKind::Parameter,
                    format!("parameter ${index} is never used; parameters must be numbered $1..${max} without gaps"),
                )
                .at(at));
            };
            let Some((ty, nullable)) = self.params.get(&index) else {
                return Err(SchemaError::new(
                    ErrorKind::Parameter,
                    format!("cannot infer the type of parameter ${index}: nothing it is compared with, assigned to or cast to"),
                )
                .at(self.loc(*site))
                .with_suggestion(format!("add a cast, e.g. ${index}::BIGINT")));
            };
            out.push(Param {
                index,
                ty: *ty,
                nullable: *nullable,
            });
        }
        Ok(out)
    }

    /// Records that `$index` has type `ty`; errors if it was inferred differently before.
    pub(crate) fn resolve_param(
        &mut self,
        index: usize,
        ty: SqlType,
        nullable: bool,
        span: sqlparser::tokenizer::Span,
    ) -> Result<(), SchemaError> {
        match self.params.get_mut(&index) {
            Some((old, n)) if *old == ty => {
                *n |= nullable;
                Ok(())
            }
            Some((old, _)) => {
                let old = *old;
                Err(self.err(
                    ErrorKind::Parameter,
                    format!("parameter ${index} is used both as {old} and as {ty}"),
                    span,
                ))
            }
            None => {
                self.params.insert(index, (ty, nullable));
                Ok(())
            }
        }
    }

    fn column_source(&self, id: SrcId) -> Option<ColumnSource> {
        let t = self.sources.get(id.table as usize)?;
        let c = t.columns.get(id.column as usize)?;
        Some(ColumnSource {
            namespace: t.namespace.clone(),
            table: t.name.clone(),
            column: c.name.clone(),
        })
    }

    fn source_table(&mut self, t: &'c Table) -> u32 {
        let i = match self.sources.iter().position(|s| std::ptr::eq(*s, t)) {
            Some(i) => i,
            None => {
                self.sources.push(t);
                self.sources.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    pub(crate) fn touch(&mut self, t: &Table) -> TableRef {
        let r = TableRef {
            namespace: t.namespace.clone(),
            name: t.name.clone(),
            kind: t.kind,
        };
        if !self.tables.contains(&r) {
            self.tables.push(r.clone());
        }
        r
    }

    /// Resolves `[ns.]table` to a catalog table, with did-you-mean on failure.
    pub(crate) fn table(&mut self, name: &ObjectName) -> Result<&'c Table, SchemaError> {
        let parts = name_parts(name);
        let (ns, t, span, ns_span) = match parts.as_slice() {
            [t] => (self.default_ns.to_owned(), lower_ident(t), t.span, None),
            [n, t] => (
                lower_ident(n),
                lower_ident(t),
                n.span.union(&t.span),
                Some(n.span),
            ),
            _ => return Err(self.unsupported(format!("table name `{name}`"), name.span())),
        };
        let table = self
            .catalog
            .table_or_error(&ns, &t)
            .map_err(|e| e.at(self.loc(span)))?;
        self.touch(table);
        self.namespace_refs.extend(ns_span);
        Ok(table)
    }

    /// The byte ranges of the namespace identifiers found, in text order, each once.
    fn namespace_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> = self
            .namespace_refs
            .iter()
            .map(|span| {
                let loc = self.loc(*span);
                loc.offset..loc.offset + loc.len
            })
            .filter(|r| !r.is_empty())
            .collect();
        ranges.sort_by_key(|r| r.start);
        ranges.dedup();
        ranges
    }

    fn statement(&mut self, stmt: &Statement) -> Result<(QueryKind, Vec<Out>), SchemaError> {
        match stmt {
            Statement::Query(q) => Ok((QueryKind::Select, self.query(q, None)?)),
            Statement::Insert(ins) => self.insert(ins),
            Statement::Update(up) => self.update(up),
            Statement::Delete(del) => self.delete(del),
            other => Err(self.err(
                ErrorKind::Unsupported,
                "only SELECT, INSERT, UPDATE and DELETE can be described",
                other.span(),
            )),
        }
    }

    /// Checks a query; `outer` is the enclosing scope for correlated subqueries.
    pub(crate) fn query(
        &mut self,
        q: &Query,
        outer: Option<&Scope<'_>>,
    ) -> Result<Vec<Out>, SchemaError> {
        let cte_mark = self.ctes.len();
        if let Some(with) = &q.with {
            if with.recursive {
                return Err(self.unsupported("WITH RECURSIVE", q.span()));
            }
            for cte in &with.cte_tables {
                let mut outs = self.query(&cte.query, outer)?;
                rename_columns(self, &mut outs, &cte.alias.columns)?;
                self.ctes.push((lower_ident(&cte.alias.name), outs));
            }
        }
        let result = self.query_body(q, outer);
        self.ctes.truncate(cte_mark);
        result
    }

    fn query_body(
        &mut self,
        q: &Query,
        outer: Option<&Scope<'_>>,
    ) -> Result<Vec<Out>, SchemaError> {
        if q.fetch.is_some() || !q.locks.is_empty() {
            return Err(self.unsupported("FETCH / FOR UPDATE", q.span()));
        }
        let order: &[sqlparser::ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ob) => match &ob.kind {
                OrderByKind::Expressions(v) => v,
                OrderByKind::All(_) => return Err(self.unsupported("ORDER BY ALL", q.span())),
            },
        };
        let outs = match q.body.as_ref() {
            SetExpr::Select(s) => self.select(s, outer, order)?,
            other => {
                let outs = self.set_expr(other, outer)?;
                // ORDER BY over a set operation sees its output columns.
                let rel = Rel {
                    alias: None,
                    table: None,
                    display: None,
                    cols: outs
                        .iter()
                        .map(|o| ScopeCol {
                            name: o.name.clone(),
                            ty: o.ty.clone(),
                            in_wildcard: true,
                        })
                        .collect(),
                };
                let scope = Scope::new(vec![rel], outer);
                for o in order {
                    self.expr(&o.expr, &scope)?;
                }
                outs
            }
        };
        if let Some(limit) = &q.limit_clause {
            match limit {
                LimitClause::LimitOffset {
                    limit,
                    offset,
                    limit_by,
                } => {
                    if !limit_by.is_empty() {
                        return Err(self.unsupported("LIMIT BY", q.span()));
                    }
                    if let Some(l) = limit {
                        self.limit_value(l, "LIMIT")?;
                    }
                    if let Some(o) = offset {
                        self.limit_value(&o.value, "OFFSET")?;
                    }
                }
                LimitClause::OffsetCommaLimit { offset, limit } => {
                    self.limit_value(offset, "OFFSET")?;
                    self.limit_value(limit, "LIMIT")?;
                }
            }
        }
        Ok(outs)
    }

    fn limit_value(&mut self, e: &Expr, what: &str) -> Result<(), SchemaError> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) if n.parse::<u64>().is_ok() => Ok(()),
                Value::Null if what == "LIMIT" => Ok(()),
                Value::Placeholder(p) => {
                    let idx = self.param_index(p, v.span)?;
                    self.resolve_param(idx, SqlType::BigInt, false, v.span)
                }
                _ => Err(self.err(
                    ErrorKind::TypeMismatch,
                    format!("{what} must be a non-negative integer or a parameter"),
                    v.span,
                )),
            },
            other => Err(self.err(
                ErrorKind::TypeMismatch,
                format!("{what} must be a non-negative integer or a parameter"),
                other.span(),
            )),
        }
    }

    pub(crate) fn param_index(
        &mut self,
        p: &str,
        span: sqlparser::tokenizer::Span,
    ) -> Result<usize, SchemaError> {
        let idx = p
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=65535).contains(n))
            .ok_or_else(|| {
                self.err(
                    ErrorKind::Parameter,
                    format!("unsupported parameter `{p}`: use $1, $2, …"),
                    span,
                )
            })?;
        self.param_sites.entry(idx).or_insert(span);
        Ok(idx)
    }

    fn set_expr(
        &mut self,
        body: &SetExpr,
        outer: Option<&Scope<'_>>,
    ) -> Result<Vec<Out>, SchemaError> {
        match body {
            SetExpr::Select(s) => self.select(s, outer, &[]),
            SetExpr::Query(q) => self.query(q, outer),
            SetExpr::SetOperation {
                left, op, right, ..
            } => {
                if *op != SetOperator::Union {
                    return Err(self.unsupported(format!("{op}"), body.span()));
                }
                let l = self.set_expr(left, outer)?;
                let r = self.set_expr(right, outer)?;
                if l.len() != r.len() {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!("UNION sides have {} and {} columns", l.len(), r.len()),
                        body.span(),
                    ));
                }
                let mut out = Vec::with_capacity(l.len());
                for (a, b) in l.into_iter().zip(r) {
                    let dt = dtype::common(a.ty.dt, b.ty.dt).ok_or_else(|| {
                        self.err(
                            ErrorKind::TypeMismatch,
                            format!("UNION column `{}` has incompatible types", a.name),
                            body.span(),
                        )
                    })?;
                    let mut ty = Ty::new(dt, a.ty.nullable || b.ty.nullable);
                    if a.ty.kalam.is_some() && a.ty.kalam == b.ty.kalam {
                        ty.kalam = a.ty.kalam;
                    }
                    out.push(Out {
                        name: a.name,
                        qualifier: a.qualifier,
                        ty,
                    });
                }
                Ok(out)
            }
            SetExpr::Values(values) => {
                let scope = Scope::new(Vec::new(), outer);
                let mut cols: Vec<Out> = Vec::new();
                for (r, row) in values.rows.iter().enumerate() {
                    for (i, e) in row.iter().enumerate() {
                        let (ty, _) = self.expr(e, &scope)?;
                        if r == 0 {
                            cols.push(Out {
                                name: format!("column{}", i + 1),
                                qualifier: None,
                                ty: ty.computed(),
                            });
                        } else if let Some(c) = cols.get_mut(i) {
                            c.ty.dt = dtype::common(c.ty.dt, ty.dt).ok_or_else(|| {
                                self.err(
                                    ErrorKind::TypeMismatch,
                                    "VALUES rows have incompatible types",
                                    e.span(),
                                )
                            })?;
                            c.ty.nullable |= ty.nullable;
                        }
                    }
                }
                Ok(cols)
            }
            other => Err(self.unsupported("this query form", other.span())),
        }
    }

    /// FROM: the relations in order, with outer-join nullability applied.
    fn from(
        &mut self,
        from: &[TableWithJoins],
        outer: Option<&Scope<'_>>,
    ) -> Result<Vec<Rel>, SchemaError> {
        let mut rels: Vec<Rel> = Vec::new();
        for twj in from {
            rels.push(self.factor(&twj.relation, outer)?);
            for join in &twj.joins {
                let mut right = self.factor(&join.relation, outer)?;
                let (left_null, right_null, constraint) = match &join.join_operator {
                    JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, false, Some(c)),
                    JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (false, true, Some(c)),
                    JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (true, false, Some(c)),
                    JoinOperator::FullOuter(c) => (true, true, Some(c)),
                    JoinOperator::CrossJoin(c) => (false, false, Some(c)),
                    _ => return Err(self.unsupported("this join type", join.relation.span())),
                };
                let left_count = rels.len();
                if let Some(JoinConstraint::Using(cols)) = constraint {
                    for c in cols {
                        let name = name_parts(c)
                            .last()
                            .map(|i| lower_ident(i))
                            .unwrap_or_default();
                        let in_left = rels.iter().any(|r| r.cols.iter().any(|x| x.name == name));
                        let Some(rc) = right.cols.iter_mut().find(|x| x.name == name) else {
                            return Err(self.err(
                                ErrorKind::UnknownColumn,
                                format!("USING column `{name}` is missing on the right side"),
                                c.span(),
                            ));
                        };
                        if !in_left {
                            return Err(self.err(
                                ErrorKind::UnknownColumn,
                                format!("USING column `{name}` is missing on the left side"),
                                c.span(),
                            ));
                        }
                        rc.in_wildcard = false;
                    }
                }
                if matches!(constraint, Some(JoinConstraint::Natural)) {
                    return Err(self.unsupported("NATURAL JOIN", join.relation.span()));
                }
                rels.push(right);
                if let Some(JoinConstraint::On(on)) = constraint {
                    let scope = Scope::new(rels.clone(), outer);
                    let (ty, _) = self.expr(on, &scope)?;
                    self.expect_bool(&ty, "JOIN … ON", on.span())?;
                }
                if left_null {
                    for r in &mut rels[..left_count] {
                        r.cols.iter_mut().for_each(|c| c.ty.nullable = true);
                    }
                }
                if let (true, Some(r)) = (right_null, rels.last_mut()) {
                    r.cols.iter_mut().for_each(|c| c.ty.nullable = true);
                }
            }
        }
        Ok(rels)
    }

    pub(crate) fn factor(
        &mut self,
        f: &TableFactor,
        outer: Option<&Scope<'_>>,
    ) -> Result<Rel, SchemaError> {
        match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(self.unsupported("table functions", f.span()));
                }
                let parts = name_parts(name);
                // A single-part name may be a CTE.
                if let [single] = parts.as_slice() {
                    let n = lower_ident(single);
                    if let Some((_, outs)) = self.ctes.iter().rev().find(|(c, _)| *c == n) {
                        let cols = outs
                            .iter()
                            .map(|o| ScopeCol {
                                name: o.name.clone(),
                                ty: o.ty.clone(),
                                in_wildcard: true,
                            })
                            .collect();
                        let alias_name = alias.as_ref().map(|a| lower_ident(&a.name));
                        let mut rel = Rel {
                            display: Some(alias_name.clone().unwrap_or_else(|| n.clone())),
                            alias: Some(alias_name.unwrap_or(n)),
                            table: None,
                            cols,
                        };
                        if let Some(a) = alias {
                            rename_scope(self, &mut rel, &a.columns)?;
                        }
                        return Ok(rel);
                    }
                }
                let table = self.table(name)?;
                let tid = self.source_table(table);
                let cols = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ScopeCol {
                        name: c.name.clone(),
                        ty: Ty {
                            dt: DType::of_sql(c.ty),
                            nullable: c.nullable,
                            kalam: Some(c.ty),
                            source: Some(SrcId {
                                table: tid,
                                column: u32::try_from(i).unwrap_or(u32::MAX),
                            }),
                            param: None,
                            described: None,
                        },
                        in_wildcard: true,
                    })
                    .collect();
                let written: Vec<String> = parts.iter().map(|i| lower_ident(i)).collect();
                let mut rel = Rel {
                    alias: alias.as_ref().map(|a| lower_ident(&a.name)),
                    table: Some((table.namespace.clone(), table.name.clone())),
                    display: Some(match alias {
                        Some(a) => lower_ident(&a.name),
                        None => written.join("."),
                    }),
                    cols,
                };
                if let Some(a) = alias {
                    rename_scope(self, &mut rel, &a.columns)?;
                }
                Ok(rel)
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    return Err(self.unsupported("LATERAL", f.span()));
                }
                let outs = self.query(subquery, outer)?;
                let mut rel = Rel {
                    alias: alias.as_ref().map(|a| lower_ident(&a.name)),
                    table: None,
                    display: alias.as_ref().map(|a| lower_ident(&a.name)),
                    cols: outs
                        .into_iter()
                        .map(|o| ScopeCol {
                            name: o.name,
                            ty: o.ty,
                            in_wildcard: true,
                        })
                        .collect(),
                };
                if let Some(a) = alias {
                    rename_scope(self, &mut rel, &a.columns)?;
                }
                Ok(rel)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
                ..
            } => {
                if alias.is_some() {
                    return Err(self.unsupported("an aliased parenthesized join", f.span()));
                }
                let rels = self.from(std::slice::from_ref(table_with_joins), outer)?;
                // Flatten: a nested join contributes its relations; callers see them as one.
                let mut cols = Vec::new();
                for r in rels {
                    cols.extend(r.cols);
                }
                Ok(Rel {
                    alias: None,
                    table: None,
                    display: None,
                    cols,
                })
            }
            other => Err(self.unsupported("this FROM item", other.span())),
        }
    }

    pub(crate) fn expect_bool(
        &self,
        ty: &Ty,
        what: &str,
        span: sqlparser::tokenizer::Span,
    ) -> Result<(), SchemaError> {
        if matches!(ty.dt, DType::Boolean | DType::Null) {
            Ok(())
        } else {
            Err(self.err(
                ErrorKind::TypeMismatch,
                format!(
                    "{what} must be a boolean condition, found {}",
                    ty.sql().map_or("INTERVAL".to_owned(), |t| t.sql_name())
                ),
                span,
            ))
        }
    }

    fn select(
        &mut self,
        s: &Select,
        outer: Option<&Scope<'_>>,
        order: &[sqlparser::ast::OrderByExpr],
    ) -> Result<Vec<Out>, SchemaError> {
        if s.top.is_some()
            || s.into.is_some()
            || !s.lateral_views.is_empty()
            || s.qualify.is_some()
            || !s.named_window.is_empty()
        {
            return Err(self.unsupported("TOP / INTO / LATERAL VIEW / QUALIFY / WINDOW", s.span()));
        }
        if let Some(Distinct::On(_)) = &s.distinct {
            return Err(self.unsupported("DISTINCT ON", s.span()));
        }
        let rels = self.from(&s.from, outer)?;
        let mut scope = Scope::new(rels, outer);
        if let Some(w) = &s.selection {
            if let Some(span) = crate::check_expr::find_aggregate(w) {
                return Err(self.err(
                    ErrorKind::Unsupported,
                    "aggregate functions are not allowed in WHERE; use HAVING",
                    span,
                ));
            }
            let (ty, _) = self.expr(w, &scope)?;
            self.expect_bool(&ty, "WHERE", w.span())?;
        }
        let group_exprs: &[Expr] = match &s.group_by {
            GroupByExpr::Expressions(v, mods) if mods.is_empty() => v,
            GroupByExpr::Expressions(..) | GroupByExpr::All(_) => {
                return Err(self.unsupported("GROUP BY ALL / ROLLUP / CUBE", s.span()));
            }
        };
        let has_agg = !group_exprs.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|p| match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    crate::check_expr::find_aggregate(e).is_some()
                }
                _ => false,
            })
            || order
                .iter()
                .any(|o| crate::check_expr::find_aggregate(&o.expr).is_some());
        if has_agg {
            let mut keys = Vec::new();
            for g in group_exprs {
                // GROUP BY may name an output alias or position.
                let target = self.group_target(g, &s.projection).unwrap_or(g);
                let (ty, name) = self.expr(target, &scope)?;
                keys.push((name, ty));
            }
            scope.agg = Some(Agg { keys });
        }
        let mut outs: Vec<Out> = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let (ty, name) = self.expr(e, &scope)?;
                    let (name, qualifier) = match e {
                        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                            let (q, n) = split_qualified(&name);
                            (n, q)
                        }
                        _ => (name, None),
                    };
                    outs.push(Out {
                        name,
                        qualifier,
                        ty,
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let (mut ty, _) = self.expr(expr, &scope)?;
                    ty.param = None;
                    outs.push(Out {
                        name: lower_ident(alias),
                        qualifier: None,
                        ty,
                    });
                }
                SelectItem::Wildcard(opts) => {
                    if opts.opt_exclude.is_some()
                        || opts.opt_except.is_some()
                        || opts.opt_replace.is_some()
                        || opts.opt_rename.is_some()
                        || opts.opt_ilike.is_some()
                    {
                        return Err(self.unsupported("wildcard options", item.span()));
                    }
                    if scope.rels.is_empty() {
                        return Err(self.err(
                            ErrorKind::Syntax,
                            "SELECT * needs a FROM clause",
                            item.span(),
                        ));
                    }
                    if scope.agg.is_some() {
                        return Err(self.err(
                            ErrorKind::Unsupported,
                            "SELECT * cannot be combined with GROUP BY or aggregates",
                            item.span(),
                        ));
                    }
                    for r in &scope.rels {
                        for c in r.cols.iter().filter(|c| c.in_wildcard) {
                            outs.push(Out {
                                name: c.name.clone(),
                                qualifier: r.display.clone(),
                                ty: c.ty.clone(),
                            });
                        }
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let SelectItemQualifiedWildcardKind::ObjectName(n) = kind else {
                        return Err(self.unsupported("expression wildcards", item.span()));
                    };
                    let parts: Vec<String> = name_parts(n).iter().map(|i| lower_ident(i)).collect();
                    let Some(r) = scope.rels.iter().find(|r| r.matches(&parts)) else {
                        let names: Vec<&str> = scope
                            .rels
                            .iter()
                            .filter_map(|r| {
                                r.alias
                                    .as_deref()
                                    .or(r.table.as_ref().map(|t| t.1.as_str()))
                            })
                            .collect();
                        let mut e = self.err(
                            ErrorKind::UnknownTable,
                            format!("`{n}.*` does not name a table in FROM"),
                            n.span(),
                        );
                        if let Some(s) = nearest(&parts.join("."), names) {
                            e = e.with_suggestion(s);
                        }
                        return Err(e);
                    };
                    if scope.agg.is_some() {
                        return Err(self.err(
                            ErrorKind::Unsupported,
                            "SELECT t.* cannot be combined with GROUP BY or aggregates",
                            item.span(),
                        ));
                    }
                    for c in r.cols.iter() {
                        outs.push(Out {
                            name: c.name.clone(),
                            qualifier: r.display.clone(),
                            ty: c.ty.clone(),
                        });
                    }
                }
            }
        }
        // DataFusion refuses two output columns with the same qualified name.
        for (i, o) in outs.iter().enumerate() {
            if outs[..i]
                .iter()
                .any(|p| p.name == o.name && p.qualifier == o.qualifier)
            {
                return Err(SchemaError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "duplicate output column name `{}`; give one of them an alias",
                        o.name
                    ),
                )
                .at(self.loc(s.span())));
            }
        }
        scope.aliases = outs
            .iter()
            .map(|o| (o.name.clone(), o.ty.clone(), o.name.clone()))
            .collect();
        if let Some(h) = &s.having {
            let (ty, _) = self.expr(h, &scope)?;
            self.expect_bool(&ty, "HAVING", h.span())?;
        }
        for o in order {
            if let Expr::Value(v) = &o.expr
                && let Value::Number(n, _) = &v.value
            {
                match n.parse::<usize>() {
                    Ok(k) if (1..=outs.len()).contains(&k) => continue,
                    _ => {
                        return Err(self.err(
                            ErrorKind::UnknownColumn,
                            format!(
                                "ORDER BY position {n} is not in the select list (1..{})",
                                outs.len()
                            ),
                            v.span,
                        ));
                    }
                }
            }
            self.expr(&o.expr, &scope)?;
        }
        Ok(outs)
    }

    /// `GROUP BY alias` / `GROUP BY 2` → the projection expression they name.
    fn group_target<'e>(&self, g: &Expr, projection: &'e [SelectItem]) -> Option<&'e Expr> {
        match g {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => {
                    let k = n.parse::<usize>().ok()?;
                    match projection.get(k.checked_sub(1)?)? {
                        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                            Some(e)
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            Expr::Identifier(id) => {
                let n = lower_ident(id);
                projection.iter().find_map(|p| match p {
                    SelectItem::ExprWithAlias { expr, alias } if lower_ident(alias) == n => {
                        // A real column of that name wins, as in DataFusion.
                        Some(expr)
                    }
                    _ => None,
                })
            }
            _ => None,
        }
    }
}

/// `a.b.c` → (`Some("a.b")`, `c`).
fn split_qualified(name: &str) -> (Option<String>, String) {
    match name.rfind('.') {
        Some(i) => (Some(name[..i].to_owned()), name[i + 1..].to_owned()),
        None => (None, name.to_owned()),
    }
}

fn rename_scope(
    cx: &Checker<'_>,
    rel: &mut Rel,
    cols: &[sqlparser::ast::TableAliasColumnDef],
) -> Result<(), SchemaError> {
    if cols.is_empty() {
        return Ok(());
    }
    if cols.len() > rel.cols.len() {
        return Err(cx.err(
            ErrorKind::Syntax,
            format!(
                "alias lists {} columns but the relation has {}",
                cols.len(),
                rel.cols.len()
            ),
            cols[0].name.span,
        ));
    }
    for (c, a) in rel.cols.iter_mut().zip(cols) {
        c.name = lower_ident(&a.name);
    }
    Ok(())
}

fn rename_columns(
    cx: &Checker<'_>,
    outs: &mut [Out],
    cols: &[sqlparser::ast::TableAliasColumnDef],
) -> Result<(), SchemaError> {
    if cols.len() > outs.len() {
        return Err(cx.err(
            ErrorKind::Syntax,
            format!(
                "alias lists {} columns but the query returns {}",
                cols.len(),
                outs.len()
            ),
            cols[0].name.span,
        ));
    }
    for (o, a) in outs.iter_mut().zip(cols) {
        o.name = lower_ident(&a.name);
    }
    Ok(())
}
