//! Expression typing: every expression gets DataFusion's type, nullability and display name;
//! `$n` parameters get their type from the context they appear in.

use sqlparser::ast::{
    BinaryOperator, CastKind, CeilFloorKind, DataType, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, Spanned, UnaryOperator, Value,
};
use sqlparser::tokenizer::Span;

use crate::check::{Checker, Scope, Ty, lower_ident};
use crate::dtype::{self, Arith, DType};
use crate::error::{ErrorKind, SchemaError, nearest};
use crate::types::SqlType;

pub(crate) type Typed = (Ty, String);

/// The span of the first aggregate call in `e` (not looking into subqueries).
pub(crate) fn find_aggregate(e: &Expr) -> Option<Span> {
    find_aggregate_at(e, 0)
}

fn find_aggregate_at(e: &Expr, depth: usize) -> Option<Span> {
    if depth > crate::parse::MAX_EXPR_DEPTH {
        // Too deep to matter: the checker refuses the expression itself.
        return None;
    }
    let find_aggregate = |x: &Expr| find_aggregate_at(x, depth + 1);
    let any = |v: &[&Expr]| v.iter().find_map(|x| find_aggregate(x));
    match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            if f.over.is_none() && crate::catalog::lookup(&name).is_some_and(|f| f.aggregate) {
                return Some(f.name.span());
            }
            match &f.args {
                FunctionArguments::List(l) => l.args.iter().find_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x))
                    | FunctionArg::Named {
                        arg: FunctionArgExpr::Expr(x),
                        ..
                    } => find_aggregate(x),
                    _ => None,
                }),
                _ => None,
            }
        }
        Expr::BinaryOp { left, right, .. } => any(&[left, right]),
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => find_aggregate(expr),
        Expr::InList { expr, list, .. } => {
            find_aggregate(expr).or_else(|| list.iter().find_map(find_aggregate))
        }
        Expr::Between {
            expr, low, high, ..
        } => any(&[expr, low, high]),
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            any(&[expr, pattern])
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => operand
            .as_deref()
            .and_then(find_aggregate)
            .or_else(|| {
                conditions.iter().find_map(|c| {
                    find_aggregate(&c.condition).or_else(|| find_aggregate(&c.result))
                })
            })
            .or_else(|| else_result.as_deref().and_then(find_aggregate)),
        _ => None,
    }
}

pub(crate) fn type_name(t: &Ty) -> String {
    match (t.param, t.dt) {
        (Some(p), DType::Null) => format!("${p}"),
        _ => t
            .sql()
            .map_or_else(|| "INTERVAL".to_owned(), SqlType::sql_name),
    }
}

pub(crate) fn unresolved(t: &Ty) -> bool {
    t.param.is_some() && t.dt == DType::Null
}

fn binary_op_name(op: &BinaryOperator) -> Option<&'static str> {
    Some(match op {
        BinaryOperator::Plus => "+",
        BinaryOperator::Minus => "-",
        BinaryOperator::Multiply => "*",
        BinaryOperator::Divide => "/",
        BinaryOperator::Modulo => "%",
        BinaryOperator::Eq => "=",
        BinaryOperator::NotEq => "!=",
        BinaryOperator::Lt => "<",
        BinaryOperator::LtEq => "<=",
        BinaryOperator::Gt => ">",
        BinaryOperator::GtEq => ">=",
        BinaryOperator::And => "AND",
        BinaryOperator::Or => "OR",
        BinaryOperator::StringConcat => "||",
        _ => return None,
    })
}

/// DataFusion's type for a CAST target (its SQL → Arrow mapping, limited to KalamDB types).
fn cast_target(dt: &DataType) -> Option<DType> {
    use sqlparser::ast::TimezoneInfo;
    Some(match dt {
        DataType::Timestamp(_, tz) => DType::Timestamp {
            tz: !matches!(tz, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone),
        },
        DataType::Datetime(_) => DType::Timestamp { tz: false },
        DataType::Numeric(info) | DataType::Decimal(info) => {
            let name = format!("DECIMAL{}", info);
            let SqlType::Decimal { precision, scale } = SqlType::from_sql_name(&name)? else {
                return None;
            };
            DType::Decimal(precision, scale)
        }
        DataType::JSON | DataType::JSONB | DataType::Uuid | DataType::Custom(..) => return None,
        other => {
            let t = SqlType::from_sql_name(&other.to_string())?;
            match t {
                SqlType::Json | SqlType::Uuid | SqlType::File | SqlType::Embedding(_) => {
                    return None;
                }
                SqlType::DateTime => DType::Timestamp { tz: false },
                t => DType::of_sql(t),
            }
        }
    })
}

fn literal_name(v: &Value) -> String {
    match v {
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => format!("Utf8(\"{s}\")"),
        Value::Boolean(b) => format!("Boolean({b})"),
        Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

impl Checker<'_> {
    /// Types an expression in `scope`, returning its type and DataFusion display name.
    pub(crate) fn expr(&mut self, e: &Expr, scope: &Scope<'_>) -> Result<Typed, SchemaError> {
        let mut ungrouped = Vec::new();
        let r = self.ex(e, scope, false, &mut ungrouped)?;
        if let Some((name, span)) = ungrouped.first() {
            return Err(self.err(
                ErrorKind::Unsupported,
                format!(
                    "column `{name}` must appear in GROUP BY or be used in an aggregate function"
                ),
                *span,
            ));
        }
        Ok(r)
    }

    /// `in_agg`: inside an aggregate's arguments. `ungrouped` collects column references that
    /// are neither grouped nor aggregated (an expression equal to a GROUP BY key clears them).
    pub(crate) fn ex(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ungrouped: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        if self.depth >= crate::parse::MAX_EXPR_DEPTH {
            // No span: computing one would recurse through the whole remaining tree.
            return Err(self.err(
                ErrorKind::Unsupported,
                "expression is nested too deeply",
                Span::empty(),
            ));
        }
        let mark = ungrouped.len();
        self.depth += 1;
        let result = self.ex_inner(e, scope, in_agg, ungrouped);
        self.depth -= 1;
        let (ty, name) = result?;
        if let (Some(agg), false) = (&scope.agg, in_agg)
            && let Some((_, key)) = agg.keys.iter().find(|(k, _)| *k == name)
        {
            ungrouped.truncate(mark);
            let mut key = key.clone();
            key.param = ty.param;
            return Ok((key, name));
        }
        Ok((ty, name))
    }

    #[allow(clippy::too_many_lines)]
    fn ex_inner(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        match e {
            Expr::Identifier(id) => self.column(&[id], scope, in_agg, ug),
            Expr::CompoundIdentifier(ids) => {
                let refs: Vec<&Ident> = ids.iter().collect();
                self.column(&refs, scope, in_agg, ug)
            }
            Expr::Value(v) => self.value(&v.value, v.span, false),
            Expr::Nested(inner) => self.ex(inner, scope, in_agg, ug),
            Expr::UnaryOp { .. } => self.ty_unary_op(e, scope, in_agg, ug),
            Expr::BinaryOp { .. } => self.ty_binary_op(e, scope, in_agg, ug),
            Expr::IsNull(..)
            | Expr::IsNotNull(..)
            | Expr::IsTrue(..)
            | Expr::IsFalse(..)
            | Expr::IsNotTrue(..)
            | Expr::IsNotFalse(..) => self.ty_is_null(e, scope, in_agg, ug),
            Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => {
                self.ty_is_distinct_from(e, scope, in_agg, ug)
            }
            Expr::InList { .. } => self.ty_in_list(e, scope, in_agg, ug),
            Expr::InSubquery { .. } => self.ty_in_subquery(e, scope, in_agg, ug),
            Expr::Between { .. } => self.ty_between(e, scope, in_agg, ug),
            Expr::Like { .. } | Expr::ILike { .. } => self.ty_like(e, scope, in_agg, ug),
            Expr::Cast { .. } => self.ty_cast(e, scope, in_agg, ug),
            Expr::TypedString(..) => self.ty_typed_string(e, scope, in_agg, ug),
            Expr::Interval(_) => Ok((Ty::new(DType::Interval, false), e.to_string())),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                scope,
                in_agg,
                ug,
                e.span(),
            ),
            Expr::Function(f) => self.function(f, scope, in_agg, ug),
            Expr::Subquery(..) => self.ty_subquery(e, scope, in_agg, ug),
            Expr::Exists { .. } => self.ty_exists(e, scope, in_agg, ug),
            Expr::Substring { .. } => {
                Err(self.refused("SUBSTRING / SUBSTR", "substring", e.span()))
            }
            Expr::Position { .. } => Err(self.refused("POSITION", "position", e.span())),
            Expr::Extract { .. } => Err(self.refused("EXTRACT", "extract", e.span())),
            Expr::Trim { .. } => self.ty_trim(e, scope, in_agg, ug),
            Expr::Ceil { .. } | Expr::Floor { .. } => self.ty_ceil_floor(e, scope, in_agg, ug),
            Expr::SimilarTo { .. } => self.ty_similar_to(e, scope, in_agg, ug),
            Expr::Array(_) => self.ty_array(e, scope, in_agg, ug),
            Expr::JsonAccess { .. } | Expr::CompoundFieldAccess { .. } => {
                Err(self.unsupported("JSON / field access operators", e.span()))
            }
            Expr::AtTimeZone { .. } => Err(self.unsupported("AT TIME ZONE", e.span())),
            other => Err(self.unsupported(format!("the expression `{other}`"), other.span())),
        }
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_unary_op(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::UnaryOp { op, expr } = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if let (UnaryOperator::Minus, Expr::Value(v)) = (op, expr.as_ref())
            && let Value::Number(..) = v.value
        {
            return self.value(&v.value, v.span, true);
        }
        let (t, n) = self.ex(expr, scope, in_agg, ug)?;
        match op {
            UnaryOperator::Not => {
                let t = self.coerce_param(t, SqlType::Boolean, expr.span())?;
                self.expect_bool(&t, "NOT", expr.span())?;
                Ok((Ty::new(DType::Boolean, t.nullable), format!("NOT {n}")))
            }
            UnaryOperator::Minus | UnaryOperator::Plus => {
                if unresolved(&t) {
                    return Err(self.param_error(&t, expr.span()));
                }
                if !(t.dt.is_numeric() || t.dt == DType::Interval || t.dt == DType::Null) {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!("cannot negate {}", type_name(&t)),
                        e.span(),
                    ));
                }
                let name = if *op == UnaryOperator::Minus {
                    format!("(- {n})")
                } else {
                    n
                };
                Ok((t.computed(), name))
            }
            other => Err(self.unsupported(format!("unary operator `{other}`"), e.span())),
        }
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_binary_op(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::BinaryOp { left, op, right } = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if matches!(
            op,
            BinaryOperator::Arrow
                | BinaryOperator::LongArrow
                | BinaryOperator::Question
                | BinaryOperator::PGRegexMatch
                | BinaryOperator::PGRegexIMatch
                | BinaryOperator::PGRegexNotMatch
                | BinaryOperator::PGRegexNotIMatch
        ) {
            return self.ty_json_or_regex_op(e, scope, in_agg, ug);
        }
        let (l, ln) = self.ex(left, scope, in_agg, ug)?;
        let (r, rn) = self.ex(right, scope, in_agg, ug)?;
        let Some(sym) = binary_op_name(op) else {
            return Err(self.unsupported(format!("operator `{op}`"), e.span()));
        };
        let name = format!("{ln} {sym} {rn}");
        let ty = self.binary(op, l, r, left.span(), right.span(), e.span())?;
        Ok((ty, name))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_is_null(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let (Expr::IsNull(x)
        | Expr::IsNotNull(x)
        | Expr::IsTrue(x)
        | Expr::IsFalse(x)
        | Expr::IsNotTrue(x)
        | Expr::IsNotFalse(x)) = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (t, n) = self.ex(x, scope, in_agg, ug)?;
        let suffix = match e {
            Expr::IsNull(_) => "IS NULL",
            Expr::IsNotNull(_) => "IS NOT NULL",
            Expr::IsTrue(_) => "IS TRUE",
            Expr::IsFalse(_) => "IS FALSE",
            Expr::IsNotTrue(_) => "IS NOT TRUE",
            _ => "IS NOT FALSE",
        };
        if !matches!(e, Expr::IsNull(_) | Expr::IsNotNull(_)) {
            let t = self.coerce_param(t, SqlType::Boolean, x.span())?;
            self.expect_bool(&t, suffix, x.span())?;
        } else if unresolved(&t) {
            return Err(self.param_error(&t, x.span()));
        }
        Ok((Ty::new(DType::Boolean, false), format!("{n} {suffix}")))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_is_distinct_from(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let (Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b)) = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (l, ln) = self.ex(a, scope, in_agg, ug)?;
        let (r, rn) = self.ex(b, scope, in_agg, ug)?;
        let (l, r) = self.unify_pair(l, r, a.span(), b.span())?;
        self.comparable(&l, &r, e.span())?;
        let word = if matches!(e, Expr::IsDistinctFrom(..)) {
            "IS DISTINCT FROM"
        } else {
            "IS NOT DISTINCT FROM"
        };
        Ok((
            Ty::new(DType::Boolean, l.nullable || r.nullable),
            format!("{ln} {word} {rn}"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_in_list(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::InList {
            expr,
            list,
            negated,
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (mut t, n) = self.ex(expr, scope, in_agg, ug)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            items.push((self.ex(item, scope, in_agg, ug)?, item.span()));
        }
        if unresolved(&t)
            && let Some(((known, _), _)) = items.iter().find(|((i, _), _)| !unresolved(i))
        {
            let known = known.clone();
            t = self.unify_pair(t, known, expr.span(), expr.span())?.0;
        }
        let mut names = Vec::with_capacity(items.len());
        let mut nullable = t.nullable;
        for (k, ((it, iname), span)) in items.into_iter().enumerate() {
            let (_, it) = self.unify_pair(t.clone(), it, expr.span(), span)?;
            self.comparable(&t, &it, span)?;
            if k < 5 {
                nullable |= it.nullable;
            }
            names.push(iname);
        }
        if list.len() + 1 > 6 {
            nullable = true;
        }
        let not = if *negated { " NOT" } else { "" };
        Ok((
            Ty::new(DType::Boolean, nullable),
            format!("{n}{not} IN ([{}])", names.join(", ")),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_in_subquery(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::InSubquery {
            expr,
            subquery,
            negated,
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (t, n) = self.ex(expr, scope, in_agg, ug)?;
        let outs = self.query(subquery, Some(scope))?;
        let [col] = outs.as_slice() else {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                format!(
                    "IN subquery must return one column, it returns {}",
                    outs.len()
                ),
                subquery.span(),
            ));
        };
        let (t, c) = self.unify_pair(t, col.ty.clone(), expr.span(), subquery.span())?;
        self.comparable(&t, &c, e.span())?;
        let not = if *negated { " NOT" } else { "" };
        Ok((
            Ty::new(DType::Boolean, t.nullable || c.nullable),
            format!("{n}{not} IN (<subquery>)"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_between(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Between {
            expr,
            negated,
            low,
            high,
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (t, n) = self.ex(expr, scope, in_agg, ug)?;
        let (lo, lon) = self.ex(low, scope, in_agg, ug)?;
        let (hi, hin) = self.ex(high, scope, in_agg, ug)?;
        let (t, lo) = self.unify_pair(t, lo, expr.span(), low.span())?;
        let (t, hi) = self.unify_pair(t, hi, expr.span(), high.span())?;
        self.comparable(&t, &lo, low.span())?;
        self.comparable(&t, &hi, high.span())?;
        let not = if *negated { " NOT" } else { "" };
        Ok((
            Ty::new(DType::Boolean, t.nullable || lo.nullable || hi.nullable),
            format!("{n}{not} BETWEEN {lon} AND {hin}"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_like(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let (Expr::Like {
            negated,
            expr,
            pattern,
            any: false,
            ..
        }
        | Expr::ILike {
            negated,
            expr,
            pattern,
            any: false,
            ..
        }) = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let (t, n) = self.ex(expr, scope, in_agg, ug)?;
        let (p, pn) = self.ex(pattern, scope, in_agg, ug)?;
        let t = self.coerce_param(t, SqlType::Text, expr.span())?;
        let p = self.coerce_param(p, SqlType::Text, pattern.span())?;
        for (x, span) in [(&t, expr.span()), (&p, pattern.span())] {
            if !matches!(x.dt, DType::Utf8 | DType::Null) {
                return Err(self.err(
                    ErrorKind::TypeMismatch,
                    format!("LIKE needs text operands, found {}", type_name(x)),
                    span,
                ));
            }
        }
        let word = match (e, negated) {
            (Expr::Like { .. }, false) => "LIKE",
            (Expr::Like { .. }, true) => "NOT LIKE",
            (_, false) => "ILIKE",
            (_, true) => "NOT ILIKE",
        };
        Ok((
            Ty::new(DType::Boolean, t.nullable || p.nullable),
            format!("{n} {word} {pn}"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_cast(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Cast {
            kind,
            expr,
            data_type,
            format,
            ..
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if format.is_some() {
            return Err(self.unsupported("CAST … FORMAT", e.span()));
        }
        let target = cast_target(data_type).ok_or_else(|| {
            self.err(
                ErrorKind::Unsupported,
                format!("CAST to {data_type} is not supported by the query engine"),
                e.span(),
            )
        })?;
        let (t, n) = self.ex(expr, scope, in_agg, ug)?;
        let t = match (t.param, target.to_sql()) {
            (Some(_), Some(sql)) if t.dt == DType::Null => {
                self.coerce_param(t, sql, expr.span())?
            }
            _ => t,
        };
        if matches!(t.dt, DType::Embedding(_)) || matches!(target, DType::Embedding(_)) {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                format!("cannot cast {} to {data_type}", type_name(&t)),
                e.span(),
            ));
        }
        let nullable = t.nullable || matches!(kind, CastKind::TryCast | CastKind::SafeCast);
        let mut ty = Ty::new(target, nullable);
        // DataFusion keeps the column's field metadata on a cast (protocol 1.7).
        ty.described = t.kalam.or(t.described);
        Ok((ty, format!("CAST({n} AS {})", target.arrow_name())))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_typed_string(
        &mut self,
        e: &Expr,
        _scope: &Scope<'_>,
        _in_agg: bool,
        _ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::TypedString(ts) = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let target = match &ts.data_type {
            DataType::Date => DType::Date,
            DataType::Time(..) => DType::Time,
            DataType::Timestamp(..) | DataType::Datetime(_) => {
                cast_target(&ts.data_type).unwrap_or(DType::Timestamp { tz: false })
            }
            other => {
                return Err(self.unsupported(format!("typed literal {other} '…'"), e.span()));
            }
        };
        Ok((
            Ty::new(target, false),
            format!(
                "CAST({} AS {})",
                literal_name(&ts.value.value),
                target.arrow_name()
            ),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_subquery(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        _in_agg: bool,
        _ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Subquery(q) = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let outs = self.query(q, Some(scope))?;
        let [col] = outs.as_slice() else {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                format!(
                    "a scalar subquery must return one column, it returns {}",
                    outs.len()
                ),
                e.span(),
            ));
        };
        // DataFusion's optimizer turns scalar subqueries into left joins, so the value
        // is nullable (as in SQL: no row gives NULL).
        let mut ty = col.ty.clone().computed();
        ty.nullable = true;
        Ok((ty, "(<subquery>)".into()))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_exists(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        _in_agg: bool,
        _ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Exists { subquery, negated } = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        self.query(subquery, Some(scope))?;
        let not = if *negated { "NOT " } else { "" };
        Ok((
            Ty::new(DType::Boolean, false),
            format!("{not}EXISTS (<subquery>)"),
        ))
    }

    /// The JSON operators (which the server rewrites to functions before planning, protocol
    /// 7.1) and the regular-expression match operators.
    #[inline(never)]
    fn ty_json_or_regex_op(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::BinaryOp { left, op, right } = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let json = match op {
            BinaryOperator::Arrow => "json_get_json",
            BinaryOperator::LongArrow => "json_as_text",
            BinaryOperator::Question => "json_contains",
            _ => "",
        };
        if !json.is_empty() {
            return self.call_exprs(json, &[left, right], scope, in_agg, ug, e.span());
        }
        let sym = match op {
            BinaryOperator::PGRegexMatch => "~",
            BinaryOperator::PGRegexIMatch => "~*",
            BinaryOperator::PGRegexNotMatch => "!~",
            _ => "!~*",
        };
        let (l, ln) = self.ex(left, scope, in_agg, ug)?;
        let (r, rn) = self.ex(right, scope, in_agg, ug)?;
        let nullable = l.nullable || r.nullable;
        self.string_arg(l, left.span())?;
        self.string_arg(r, right.span())?;
        Ok((
            Ty::new(DType::Boolean, nullable),
            format!("{ln} {sym} {rn}"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_array(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Array(a) = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        let elems: Vec<&Expr> = a.elem.iter().collect();
        self.call_exprs("make_array", &elems, scope, in_agg, ug, e.span())
    }

    /// The error for SQL syntax KalamDB's engine does not plan, with what to use instead.
    fn refused(&self, what: &str, key: &str, span: Span) -> SchemaError {
        let e = self.err(
            ErrorKind::Unsupported,
            format!("KalamDB does not support {what}: the server cannot plan it"),
            span,
        );
        match crate::check_fn::instead(key) {
            Some(help) => e.with_suggestion(help),
            None => e,
        }
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_ceil_floor(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let (Expr::Ceil { expr, field } | Expr::Floor { expr, field }) = e else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if !matches!(
            field,
            CeilFloorKind::DateTimeField(sqlparser::ast::DateTimeField::NoDateTime)
        ) {
            return Err(self.unsupported("CEIL/FLOOR with a unit or scale", e.span()));
        }
        let f = if matches!(e, Expr::Ceil { .. }) {
            "ceil"
        } else {
            "floor"
        };
        self.call_exprs(f, &[expr], scope, in_agg, ug, e.span())
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_similar_to(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::SimilarTo {
            negated,
            expr,
            pattern,
            escape_char,
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if escape_char.is_some() {
            return Err(self.unsupported("SIMILAR TO … ESCAPE", e.span()));
        }
        let (l, ln) = self.ex(expr, scope, in_agg, ug)?;
        let (r, rn) = self.ex(pattern, scope, in_agg, ug)?;
        let nullable = l.nullable || r.nullable;
        self.string_arg(l, expr.span())?;
        self.string_arg(r, pattern.span())?;
        let not = if *negated { "NOT " } else { "" };
        Ok((
            Ty::new(DType::Boolean, nullable),
            format!("{ln} {not}SIMILAR TO {rn}"),
        ))
    }

    /// One `ex_inner` arm, out of line to keep the recursive frames small.
    #[inline(never)]
    fn ty_trim(
        &mut self,
        e: &Expr,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let Expr::Trim {
            expr,
            trim_where,
            trim_what,
            trim_characters,
        } = e
        else {
            return Err(self.unsupported("this expression", e.span()));
        };
        if trim_characters.is_some() {
            return Err(self.unsupported("TRIM(s, characters)", e.span()));
        }
        let f = match trim_where {
            Some(sqlparser::ast::TrimWhereField::Leading) => "ltrim",
            Some(sqlparser::ast::TrimWhereField::Trailing) => "rtrim",
            _ => "btrim",
        };
        let mut args: Vec<&Expr> = vec![expr];
        if let Some(what) = trim_what {
            args.push(what);
        }
        self.call_exprs(f, &args, scope, in_agg, ug, e.span())
    }

    fn value(&mut self, v: &Value, span: Span, negative: bool) -> Result<Typed, SchemaError> {
        let sign = if negative { "-" } else { "" };
        match v {
            Value::Number(n, _) => {
                if n.contains(['.', 'e', 'E']) {
                    let f: f64 = format!("{sign}{n}").parse().map_err(|_| {
                        self.err(ErrorKind::Syntax, format!("invalid number `{n}`"), span)
                    })?;
                    Ok((Ty::new(DType::Float64, false), format!("Float64({f})")))
                } else {
                    let i: i64 = format!("{sign}{n}").parse().map_err(|_| {
                        self.err(
                            ErrorKind::Unsupported,
                            format!("integer literal `{sign}{n}` does not fit BIGINT"),
                            span,
                        )
                    })?;
                    Ok((Ty::new(DType::Int64, false), format!("Int64({i})")))
                }
            }
            Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_) => {
                Ok((Ty::new(DType::Utf8, false), literal_name(v)))
            }
            Value::Boolean(_) => Ok((Ty::new(DType::Boolean, false), literal_name(v))),
            Value::Null => Ok((Ty::new(DType::Null, true), "NULL".into())),
            Value::Placeholder(p) => {
                let idx = self.param_index(p, span)?;
                let dt = self
                    .params
                    .get(&idx)
                    .map_or(DType::Null, |(t, _)| DType::of_sql(*t));
                let mut ty = Ty::new(dt, true);
                ty.param = Some(idx);
                if let Some((t, _)) = self.params.get(&idx) {
                    ty.kalam = Some(*t);
                }
                Ok((ty, format!("${idx}")))
            }
            other => Err(self.unsupported(format!("the literal `{other}`"), span)),
        }
    }

    fn column(
        &mut self,
        ids: &[&Ident],
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let parts: Vec<String> = ids.iter().map(|i| lower_ident(i)).collect();
        let span = ids
            .iter()
            .skip(1)
            .fold(ids[0].span, |s, i| s.union(&i.span));
        let col_span = ids[ids.len() - 1].span;
        let Some((col_name, qual)) = parts.split_last() else {
            return Err(self.unsupported("an empty identifier", span));
        };
        let mut current = Some(scope);
        let mut depth = 0;
        while let Some(s) = current {
            let found = if qual.is_empty() {
                let hits: Vec<(&crate::check::Rel, &crate::check::ScopeCol)> = s
                    .rels
                    .iter()
                    .flat_map(|r| {
                        r.cols
                            .iter()
                            .filter(|c| c.name == *col_name)
                            .map(move |c| (r, c))
                    })
                    .collect();
                let visible: Vec<_> = hits.iter().filter(|(_, c)| c.in_wildcard).collect();
                match (hits.len(), visible.len()) {
                    (0, _) => None,
                    (1, _) | (_, 1) => Some(if hits.len() == 1 {
                        hits[0]
                    } else {
                        *visible[0]
                    }),
                    _ => {
                        let tables: Vec<String> =
                            hits.iter().filter_map(|(r, _)| r.display.clone()).collect();
                        return Err(self
                            .err(
                                ErrorKind::AmbiguousColumn,
                                format!(
                                    "column `{col_name}` is ambiguous: it exists in {}",
                                    tables.join(" and ")
                                ),
                                span,
                            )
                            .with_suggestion(format!(
                                "qualify it, e.g. {}.{col_name}",
                                tables.first().cloned().unwrap_or_default()
                            )));
                    }
                }
            } else {
                match s.rels.iter().find(|r| r.matches(qual)) {
                    Some(r) => match r.cols.iter().find(|c| c.name == *col_name) {
                        Some(c) => Some((r, c)),
                        None => {
                            let mut err = self.err(
                                ErrorKind::UnknownColumn,
                                format!(
                                    "unknown column `{col_name}` in {}",
                                    r.display.clone().unwrap_or_else(|| qual.join("."))
                                ),
                                col_span,
                            );
                            if let Some(sug) =
                                nearest(col_name, r.cols.iter().map(|c| c.name.as_str()))
                            {
                                err = err.with_suggestion(sug);
                            }
                            return Err(err);
                        }
                    },
                    None => None,
                }
            };
            if let Some((rel, col)) = found {
                if qual.len() == 2 {
                    // `ns.table.column`: the first identifier names the namespace.
                    self.namespace_refs.push(ids[0].span);
                }
                let name = match &rel.display {
                    Some(d) => format!("{d}.{col_name}"),
                    None => col_name.clone(),
                };
                if depth == 0 && scope.agg.is_some() && !in_agg {
                    ug.push((name.clone(), span));
                }
                return Ok((col.ty.clone(), name));
            }
            // Output aliases (ORDER BY / HAVING) of this SELECT.
            if qual.is_empty()
                && let Some((_, ty, n)) = s.aliases.iter().find(|(a, _, _)| a == col_name)
            {
                return Ok((ty.clone(), n.clone()));
            }
            current = s.parent;
            depth += 1;
        }
        if !qual.is_empty() {
            let names: Vec<String> = scope
                .rels
                .iter()
                .filter_map(|r| {
                    r.alias
                        .clone()
                        .or_else(|| r.table.as_ref().map(|t| t.1.clone()))
                })
                .collect();
            let mut err = self.err(
                ErrorKind::UnknownTable,
                format!("`{}` is not a table or alias in FROM", qual.join(".")),
                ids[0].span,
            );
            if let Some(s) = nearest(&qual.join("."), names.iter().map(String::as_str)) {
                err = err.with_suggestion(s);
            }
            return Err(err);
        }
        let mut err = self.err(
            ErrorKind::UnknownColumn,
            self.unknown_column_message(col_name, scope),
            col_span,
        );
        if let Some(s) = nearest(col_name, scope.all_column_names()) {
            err = err.with_suggestion(s);
        }
        Err(err)
    }

    fn unknown_column_message(&self, col: &str, scope: &Scope<'_>) -> String {
        let tables: Vec<String> = scope
            .rels
            .iter()
            .filter_map(|r| match (&r.alias, &r.table) {
                (None, Some((ns, t))) => Some(format!("{ns}.{t}")),
                (Some(a), _) => Some(a.clone()),
                _ => None,
            })
            .collect();
        if tables.is_empty() {
            format!("unknown column `{col}`")
        } else {
            format!("unknown column `{col}` in {}", tables.join(", "))
        }
    }

    pub(crate) fn param_error(&self, t: &Ty, span: Span) -> SchemaError {
        let idx = t.param.unwrap_or(0);
        self.err(
            ErrorKind::Parameter,
            format!("cannot infer the type of parameter ${idx} here"),
            span,
        )
        .with_suggestion(format!("add a cast, e.g. ${idx}::BIGINT"))
    }

    /// If `t` is an untyped parameter, gives it type `ty`.
    pub(crate) fn coerce_param(
        &mut self,
        t: Ty,
        ty: SqlType,
        span: Span,
    ) -> Result<Ty, SchemaError> {
        match t.param {
            Some(p) => {
                self.resolve_param(p, ty, false, span)?;
                if t.dt == DType::Null {
                    let mut n = Ty::new(DType::of_sql(ty), true);
                    n.param = Some(p);
                    n.kalam = Some(ty);
                    Ok(n)
                } else {
                    Ok(t)
                }
            }
            None => Ok(t),
        }
    }

    /// Gives an untyped parameter on one side the type of the other side.
    fn unify_pair(&mut self, l: Ty, r: Ty, ls: Span, rs: Span) -> Result<(Ty, Ty), SchemaError> {
        let l = match (unresolved(&l), r.sql()) {
            (true, Some(t)) if !unresolved(&r) && r.dt != DType::Null => {
                self.coerce_param(l, t, ls)?
            }
            _ => l,
        };
        let r = match (unresolved(&r), l.sql()) {
            (true, Some(t)) if !unresolved(&l) && l.dt != DType::Null => {
                self.coerce_param(r, t, rs)?
            }
            _ => r,
        };
        if let (Some(p), Some(lt), Some(rt)) = (r.param, l.sql(), r.sql()) {
            // A parameter typed earlier must still fit.
            if !unresolved(&l) && l.dt != DType::Null && dtype::common(l.dt, r.dt).is_none() {
                return Err(self.err(
                    ErrorKind::Parameter,
                    format!("parameter ${p} is {rt} but is compared with {lt}"),
                    rs,
                ));
            }
        }
        Ok((l, r))
    }

    fn comparable(&self, l: &Ty, r: &Ty, span: Span) -> Result<(), SchemaError> {
        if unresolved(l) || unresolved(r) || dtype::common(l.dt, r.dt).is_some() {
            Ok(())
        } else {
            Err(self.err(
                ErrorKind::TypeMismatch,
                format!("cannot compare {} with {}", type_name(l), type_name(r)),
                span,
            ))
        }
    }

    fn binary(
        &mut self,
        op: &BinaryOperator,
        l: Ty,
        r: Ty,
        ls: Span,
        rs: Span,
        span: Span,
    ) -> Result<Ty, SchemaError> {
        let nullable = |l: &Ty, r: &Ty| l.nullable || r.nullable;
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let l = self.coerce_param(l, SqlType::Boolean, ls)?;
                let r = self.coerce_param(r, SqlType::Boolean, rs)?;
                self.expect_bool(&l, &op.to_string(), ls)?;
                self.expect_bool(&r, &op.to_string(), rs)?;
                Ok(Ty::new(DType::Boolean, nullable(&l, &r)))
            }
            BinaryOperator::StringConcat => {
                let l = self.coerce_param(l, SqlType::Text, ls)?;
                let r = self.coerce_param(r, SqlType::Text, rs)?;
                if l.dt != DType::Utf8 && r.dt != DType::Utf8 {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!(
                            "|| needs a text operand, found {} and {}",
                            type_name(&l),
                            type_name(&r)
                        ),
                        span,
                    ));
                }
                Ok(Ty::new(DType::Utf8, nullable(&l, &r)))
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let (l, r) = self.unify_pair(l, r, ls, rs)?;
                self.comparable(&l, &r, span)?;
                Ok(Ty::new(DType::Boolean, nullable(&l, &r)))
            }
            _ => {
                let arith = match op {
                    BinaryOperator::Plus => Arith::Add,
                    BinaryOperator::Minus => Arith::Sub,
                    BinaryOperator::Multiply => Arith::Mul,
                    BinaryOperator::Divide => Arith::Div,
                    _ => Arith::Rem,
                };
                let (l, r) = self.unify_pair(l, r, ls, rs)?;
                if unresolved(&l) {
                    return Err(self.param_error(&l, ls));
                }
                if unresolved(&r) {
                    return Err(self.param_error(&r, rs));
                }
                let dt = dtype::arithmetic(arith, l.dt, r.dt).ok_or_else(|| {
                    self.err(
                        ErrorKind::TypeMismatch,
                        format!(
                            "cannot apply `{op}` to {} and {}",
                            type_name(&l),
                            type_name(&r)
                        ),
                        span,
                    )
                })?;
                Ok(Ty::new(dt, nullable(&l, &r)))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[sqlparser::ast::CaseWhen],
        else_result: Option<&Expr>,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
        span: Span,
    ) -> Result<Typed, SchemaError> {
        let mut name = String::from("CASE");
        let op = match operand {
            Some(o) => {
                let (t, n) = self.ex(o, scope, in_agg, ug)?;
                name.push_str(&format!(" {n}"));
                Some((t, o.span()))
            }
            None => None,
        };
        let mut results: Vec<(Ty, Span, bool)> = Vec::new();
        for c in conditions {
            let (ct, cn) = self.ex(&c.condition, scope, in_agg, ug)?;
            match &op {
                Some((ot, os)) => {
                    let (ot, ct) = self.unify_pair(ot.clone(), ct, *os, c.condition.span())?;
                    self.comparable(&ot, &ct, c.condition.span())?;
                }
                None => {
                    let ct = self.coerce_param(ct, SqlType::Boolean, c.condition.span())?;
                    self.expect_bool(&ct, "CASE WHEN", c.condition.span())?;
                }
            }
            let (rt, rn) = self.ex(&c.result, scope, in_agg, ug)?;
            // `WHEN x IS NOT NULL THEN x` never yields NULL from that branch.
            let guarded = matches!(&c.condition, Expr::IsNotNull(x) if x.as_ref() == &c.result);
            results.push((rt, c.result.span(), guarded));
            name.push_str(&format!(" WHEN {cn} THEN {rn}"));
        }
        let else_ty = match else_result {
            Some(x) => {
                let (t, n) = self.ex(x, scope, in_agg, ug)?;
                name.push_str(&format!(" ELSE {n}"));
                Some((t, x.span()))
            }
            None => None,
        };
        name.push_str(" END");
        let mut dt = DType::Null;
        for (t, s) in results
            .iter()
            .map(|(t, s, _)| (t, *s))
            .chain(else_ty.iter().map(|(t, s)| (t, *s)))
        {
            if unresolved(t) {
                continue;
            }
            dt = dtype::common(dt, t.dt).ok_or_else(|| {
                self.err(
                    ErrorKind::TypeMismatch,
                    format!(
                        "CASE branches have incompatible types ({} and {})",
                        DType::to_sql(dt).map_or("?".into(), SqlType::sql_name),
                        type_name(t)
                    ),
                    s,
                )
            })?;
        }
        if let Some(sql) = dt.to_sql().filter(|_| dt != DType::Null) {
            for (t, s, _) in &results {
                self.coerce_param(t.clone(), sql, *s)?;
            }
            if let Some((t, s)) = &else_ty {
                self.coerce_param(t.clone(), sql, *s)?;
            }
        }
        let then_nullable = results.iter().any(|(t, _, guarded)| t.nullable && !guarded);
        let nullable = then_nullable || else_ty.as_ref().is_none_or(|(t, _)| t.nullable);
        let _ = span;
        Ok((Ty::new(dt, nullable), name))
    }
}
