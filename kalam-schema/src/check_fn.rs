//! Typing of function calls: aggregates (COUNT, SUM, AVG, MIN, MAX) and the scalar functions
//! KalamDB queries commonly use, with DataFusion 53's return types and nullability.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned,
    Value,
};
use sqlparser::tokenizer::Span;

use crate::check::{Checker, Scope, Ty};
use crate::check_expr::{Typed, type_name, unresolved};
use crate::dtype::{self, DType};
use crate::error::{ErrorKind, SchemaError, nearest};
use crate::types::SqlType;

/// The aggregate functions.
pub(crate) const AGGREGATES: &[&str] = &["count", "sum", "avg", "min", "max"];

/// Scalar functions the checker knows (for did-you-mean).
const SCALARS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_user",
    "current_user_id",
    "current_role",
    "lower",
    "upper",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "initcap",
    "reverse",
    "md5",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "concat",
    "substr",
    "substring",
    "replace",
    "left",
    "right",
    "lpad",
    "rpad",
    "split_part",
    "starts_with",
    "ends_with",
    "strpos",
    "repeat",
    "abs",
    "round",
    "coalesce",
    "nullif",
    "date_trunc",
    "snowflake_id",
    "uuid_v7",
    "ulid",
];

impl Checker<'_> {
    pub(crate) fn string_arg(&mut self, t: Ty, span: Span) -> Result<Ty, SchemaError> {
        let t = self.coerce_param(t, SqlType::Text, span)?;
        if matches!(t.dt, DType::Utf8 | DType::Null) {
            Ok(t)
        } else {
            Err(self.err(
                ErrorKind::TypeMismatch,
                format!("expected a text argument, found {}", type_name(&t)),
                span,
            ))
        }
    }

    pub(crate) fn int_arg(&mut self, t: Ty, span: Span) -> Result<Ty, SchemaError> {
        let t = self.coerce_param(t, SqlType::BigInt, span)?;
        if t.dt.is_integer() || t.dt == DType::Null {
            Ok(t)
        } else {
            Err(self.err(
                ErrorKind::TypeMismatch,
                format!("expected an integer argument, found {}", type_name(&t)),
                span,
            ))
        }
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) fn function(
        &mut self,
        f: &Function,
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
    ) -> Result<Typed, SchemaError> {
        let fname = f.name.to_string().to_ascii_lowercase();
        let span = f.name.span();
        if f.over.is_some() {
            return Err(self.err(
                ErrorKind::Unsupported,
                "window functions (OVER) are not supported: the server drops the connection for them",
                span,
            ));
        }
        if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(self.unsupported("FILTER / WITHIN GROUP / null treatment", span));
        }
        let (args, distinct, star) = match &f.args {
            FunctionArguments::None => (Vec::new(), false, false),
            FunctionArguments::Subquery(_) => {
                return Err(self.unsupported("a subquery as function argument", span));
            }
            FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return Err(self.unsupported(format!("clauses inside {fname}(…)"), span));
                }
                let mut v = Vec::new();
                let mut star = false;
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => v.push(x),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                        other => {
                            return Err(self.unsupported(format!("the argument `{other}`"), span));
                        }
                    }
                }
                (
                    v,
                    list.duplicate_treatment == Some(DuplicateTreatment::Distinct),
                    star,
                )
            }
        };
        let is_agg = AGGREGATES.contains(&fname.as_str());
        if is_agg {
            if in_agg {
                return Err(self.err(
                    ErrorKind::Unsupported,
                    "aggregate functions cannot be nested",
                    span,
                ));
            }
            if scope.agg.is_none() {
                return Err(self.err(
                    ErrorKind::Unsupported,
                    format!("aggregate function {fname}() is not allowed here"),
                    span,
                ));
            }
        } else if star {
            return Err(self.err(ErrorKind::Syntax, format!("{fname}(*) is not valid"), span));
        }
        let mut typed = Vec::with_capacity(args.len());
        for a in &args {
            let (t, n) = self.ex(a, scope, in_agg || is_agg, ug)?;
            typed.push((t, n, a.span()));
        }
        let names: Vec<String> = typed.iter().map(|(_, n, _)| n.clone()).collect();
        let dist = if distinct { "DISTINCT " } else { "" };
        let display = |f: &str| format!("{f}({dist}{})", names.join(", "));
        let arity = |cx: &Checker<'_>, ok: bool, what: &str| -> Result<(), SchemaError> {
            if ok {
                Ok(())
            } else {
                Err(cx.err(
                    ErrorKind::TypeMismatch,
                    format!("{fname}() takes {what}"),
                    span,
                ))
            }
        };
        let any_nullable = typed.iter().any(|(t, _, _)| t.nullable);
        let first = typed.first().map(|(t, _, s)| (t.clone(), *s));
        match fname.as_str() {
            "count" => {
                arity(self, star || typed.len() == 1, "one argument or *")?;
                let name = if star {
                    "count(*)".to_owned()
                } else {
                    display("count")
                };
                Ok((Ty::new(DType::Int64, false), name))
            }
            "sum" | "avg" => {
                arity(self, typed.len() == 1, "one argument")?;
                let (t, s) = first.unwrap_or((Ty::new(DType::Null, true), span));
                if unresolved(&t) {
                    return Err(self.param_error(&t, s));
                }
                let dt = match (fname.as_str(), t.dt) {
                    ("sum", d) if d.is_integer() => DType::Int64,
                    ("sum", DType::Decimal(p, sc)) => {
                        DType::Decimal(p.saturating_add(10).min(38), sc)
                    }
                    ("avg", DType::Decimal(p, sc)) => {
                        DType::Decimal(p.saturating_add(4).min(38), sc.saturating_add(4).min(38))
                    }
                    (_, d) if d.is_numeric() || d == DType::Null => DType::Float64,
                    _ => {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            format!(
                                "{fname}() needs a numeric argument, found {}",
                                type_name(&t)
                            ),
                            s,
                        ));
                    }
                };
                Ok((Ty::new(dt, true), display(&fname)))
            }
            "min" | "max" => {
                arity(self, typed.len() == 1, "one argument")?;
                let (t, s) = first.unwrap_or((Ty::new(DType::Null, true), span));
                if unresolved(&t) {
                    return Err(self.param_error(&t, s));
                }
                if matches!(t.dt, DType::Embedding(_) | DType::Interval) {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!("{fname}() cannot order {}", type_name(&t)),
                        s,
                    ));
                }
                Ok((Ty::new(t.dt, true), display(&fname)))
            }
            "now" | "current_timestamp" => {
                arity(self, typed.is_empty(), "no arguments")?;
                // DataFusion 53's `now()` carries the session time zone, none by default, so
                // the result is a TIMESTAMP (a session with `execution.time_zone` set would make
                // it DATETIME).
                Ok((
                    Ty::new(DType::Timestamp { tz: false }, false),
                    "now()".into(),
                ))
            }
            "current_user" | "current_user_id" => {
                arity(self, typed.is_empty(), "no arguments")?;
                Ok((Ty::new(DType::Utf8, true), "kdb_current_user()".into()))
            }
            "current_role" => {
                arity(self, typed.is_empty(), "no arguments")?;
                Ok((Ty::new(DType::Utf8, true), "kdb_current_role()".into()))
            }
            "snowflake_id" | "uuid_v7" | "ulid" => {
                arity(self, typed.is_empty(), "no arguments")?;
                let dt = if fname == "snowflake_id" {
                    DType::Int64
                } else {
                    DType::Utf8
                };
                Ok((Ty::new(dt, true), display(&fname)))
            }
            "lower" | "upper" | "trim" | "btrim" | "ltrim" | "rtrim" | "initcap" | "reverse"
            | "md5" => {
                arity(self, typed.len() == 1, "one text argument")?;
                for (t, _, s) in typed {
                    self.string_arg(t, s)?;
                }
                let shown = if fname == "trim" {
                    "btrim"
                } else {
                    fname.as_str()
                };
                Ok((Ty::new(DType::Utf8, true), display(shown)))
            }
            "length" | "char_length" | "character_length" | "octet_length" => {
                arity(self, typed.len() == 1, "one text argument")?;
                for (t, _, s) in typed {
                    self.string_arg(t, s)?;
                }
                let shown = if fname == "octet_length" {
                    "octet_length"
                } else {
                    "character_length"
                };
                Ok((Ty::new(DType::Int32, true), display(shown)))
            }
            "concat" => {
                arity(self, !typed.is_empty(), "at least one argument")?;
                for (t, _, s) in typed {
                    if unresolved(&t) {
                        self.coerce_param(t, SqlType::Text, s)?;
                    }
                }
                Ok((Ty::new(DType::Utf8, true), display("concat")))
            }
            "substr" | "substring" | "left" | "right" | "repeat" | "lpad" | "rpad" => {
                let ok = match fname.as_str() {
                    "substr" | "substring" => (2..=3).contains(&typed.len()),
                    "lpad" | "rpad" => (2..=3).contains(&typed.len()),
                    _ => typed.len() == 2,
                };
                arity(self, ok, "a text and integer arguments")?;
                for (k, (t, _, s)) in typed.into_iter().enumerate() {
                    if k == 0 || (k == 2 && fname.ends_with("pad")) {
                        self.string_arg(t, s)?;
                    } else {
                        self.int_arg(t, s)?;
                    }
                }
                let shown = if fname == "substring" {
                    "substr"
                } else {
                    fname.as_str()
                };
                Ok((Ty::new(DType::Utf8, true), display(shown)))
            }
            "replace" | "split_part" => {
                arity(self, typed.len() == 3, "three arguments")?;
                for (k, (t, _, s)) in typed.into_iter().enumerate() {
                    if fname == "split_part" && k == 2 {
                        self.int_arg(t, s)?;
                    } else {
                        self.string_arg(t, s)?;
                    }
                }
                Ok((Ty::new(DType::Utf8, true), display(&fname)))
            }
            "starts_with" | "ends_with" | "strpos" => {
                arity(self, typed.len() == 2, "two text arguments")?;
                for (t, _, s) in typed {
                    self.string_arg(t, s)?;
                }
                if fname == "strpos" {
                    Ok((Ty::new(DType::Int32, any_nullable), display("strpos")))
                } else {
                    // DataFusion simplifies starts_with (only) to LIKE, whose nullability is
                    // its inputs'; ends_with keeps the default (nullable).
                    let nullable = fname == "ends_with" || any_nullable;
                    Ok((Ty::new(DType::Boolean, nullable), display(&fname)))
                }
            }
            "abs" => {
                arity(self, typed.len() == 1, "one numeric argument")?;
                let (t, s) = first.unwrap_or((Ty::new(DType::Null, true), span));
                if unresolved(&t) {
                    return Err(self.param_error(&t, s));
                }
                if !(t.dt.is_numeric() || t.dt == DType::Null) {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        format!("abs() needs a numeric argument, found {}", type_name(&t)),
                        s,
                    ));
                }
                let dt = if t.dt == DType::Null {
                    DType::Int64
                } else {
                    t.dt
                };
                Ok((Ty::new(dt, true), display("abs")))
            }
            "round" => {
                arity(self, (1..=2).contains(&typed.len()), "one or two arguments")?;
                let (t, s) = first.unwrap_or((Ty::new(DType::Null, true), span));
                if unresolved(&t) {
                    return Err(self.param_error(&t, s));
                }
                let places: Option<Option<i64>> = match args.get(1) {
                    None => Some(Some(0)),
                    Some(Expr::Value(v)) => match &v.value {
                        Value::Number(n, _) => Some(n.parse::<i64>().ok()),
                        _ => None,
                    },
                    Some(_) => None,
                };
                if let Some((dp, _, ds)) = typed.get(1) {
                    self.int_arg(dp.clone(), *ds)?;
                }
                let dt = match t.dt {
                    DType::Float32 => DType::Float32,
                    DType::Decimal(p, sc) => match places {
                        Some(Some(dp)) if dp >= 0 => {
                            DType::Decimal(p, sc.min(u8::try_from(dp).unwrap_or(u8::MAX)))
                        }
                        Some(Some(_)) => {
                            return Err(
                                self.unsupported("round() of a DECIMAL to negative places", s)
                            );
                        }
                        _ => DType::Decimal(p.saturating_add(1).min(38), sc),
                    },
                    d if d.is_numeric() || d == DType::Null => DType::Float64,
                    _ => {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            format!("round() needs a numeric argument, found {}", type_name(&t)),
                            s,
                        ));
                    }
                };
                Ok((Ty::new(dt, any_nullable), display("round")))
            }
            "coalesce" | "nullif" => {
                let ok = if fname == "nullif" {
                    typed.len() == 2
                } else {
                    !typed.is_empty()
                };
                arity(
                    self,
                    ok,
                    if fname == "nullif" {
                        "two arguments"
                    } else {
                        "at least one argument"
                    },
                )?;
                let mut dt = DType::Null;
                for (t, _, s) in &typed {
                    if unresolved(t) {
                        continue;
                    }
                    dt = dtype::common(dt, t.dt).ok_or_else(|| {
                        self.err(
                            ErrorKind::TypeMismatch,
                            format!("{fname}() arguments have incompatible types"),
                            *s,
                        )
                    })?;
                }
                if let Some(sql) = dt.to_sql().filter(|_| dt != DType::Null) {
                    for (t, _, s) in &typed {
                        self.coerce_param(t.clone(), sql, *s)?;
                    }
                }
                let nullable = if fname == "nullif" {
                    true
                } else {
                    typed.iter().all(|(t, _, _)| t.nullable)
                };
                Ok((Ty::new(dt, nullable), display(&fname)))
            }
            "date_trunc" => {
                arity(self, typed.len() == 2, "a granularity and a timestamp")?;
                let mut it = typed.into_iter();
                if let Some((g, _, gs)) = it.next() {
                    self.string_arg(g, gs)?;
                }
                let Some((t, _, s)) = it.next() else {
                    return Err(self.err(
                        ErrorKind::TypeMismatch,
                        "date_trunc() takes a granularity and a timestamp",
                        span,
                    ));
                };
                let t = self.coerce_param(t, SqlType::Timestamp, s)?;
                let dt = match t.dt {
                    DType::Timestamp { tz } => DType::Timestamp { tz },
                    DType::Time => DType::Time,
                    DType::Date | DType::Utf8 | DType::Null => DType::Timestamp { tz: false },
                    _ => {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            format!("date_trunc() needs a timestamp, found {}", type_name(&t)),
                            s,
                        ));
                    }
                };
                Ok((Ty::new(dt, t.nullable), display("date_trunc")))
            }
            _ => {
                let mut err = self.err(
                    ErrorKind::UnknownFunction,
                    format!("unknown or unsupported function `{fname}`"),
                    span,
                );
                if let Some(s) = nearest(&fname, AGGREGATES.iter().chain(SCALARS).copied()) {
                    err = err.with_suggestion(s);
                }
                Err(err)
            }
        }
    }
}
