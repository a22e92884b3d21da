//! Typing of function calls. Which functions exist, which argument types they take, their
//! result types and nullability come from the engine's function catalog ([`crate::catalog`],
//! generated from DataFusion as KalamDB configures it); this module adds the server's rewrites
//! (`CURRENT_USER`), what a literal argument changes (`round(decimal, n)`), and for what KalamDB
//! refuses, what to use instead.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned,
    Value,
};
use sqlparser::tokenizer::Span;

use crate::catalog::{self, Arg, Resolved};
use crate::check::{Checker, Scope, Ty};
use crate::check_expr::{Typed, type_name, unresolved};
use crate::dtype::{self, DType};
use crate::error::{ErrorKind, SchemaError, nearest};
use crate::types::SqlType;

/// What to use instead of a function or SQL form that KalamDB refuses or cannot send.
pub(crate) fn instead(name: &str) -> Option<&'static str> {
    Some(match name {
        "substring" | "substr" => {
            "use LEFT(s, n) or RIGHT(s, n) (SPLIT_PART splits at a delimiter, STRPOS finds a position)"
        }
        "position" => "use STRPOS(s, 'needle')",
        "extract" => "use DATE_PART('year', ts) (or 'month', 'dow', 'epoch', …)",
        "md5" | "sha224" | "sha256" | "sha384" | "sha512" | "digest" | "blake2b" | "blake2s"
        | "blake3" => "the server has no hash functions: hash the value in the application",
        "mod" => "use the `%` operator",
        "sign" | "signum" => "use CASE WHEN x > 0 THEN 1 WHEN x < 0 THEN -1 ELSE 0 END",
        "json_get" => {
            "use JSON_GET_STR, JSON_GET_INT, JSON_GET_FLOAT, JSON_GET_BOOL, JSON_GET_JSON or the ->> operator"
        }
        "to_timestamp_seconds" | "from_unixtime" => {
            "use TO_TIMESTAMP_MILLIS(x * 1000) (or TO_TIMESTAMP(x))"
        }
        "interval" => "compare the values instead, or subtract TO_UNIXTIME(…) values (seconds)",
        "cast" => "select the column itself and convert it in the application",
        _ => return None,
    })
}

/// The error for an expression the server plans but cannot send (protocol 1.5: it closes the
/// connection without a response).
pub(crate) fn unsendable(what: &str, why: &str) -> String {
    format!(
        "KalamDB cannot send {what} ({why}): the server closes the connection instead of answering"
    )
}

fn is_string_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_)))
}

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

    /// The error for a function the engine does not have.
    pub(crate) fn not_a_function(&self, fname: &str, span: Span) -> SchemaError {
        if let Some(help) = instead(fname) {
            return self
                .err(
                    ErrorKind::Unsupported,
                    format!("KalamDB does not support the function `{fname}`"),
                    span,
                )
                .with_suggestion(help);
        }
        let mut err = self.err(
            ErrorKind::UnknownFunction,
            format!("unknown function `{fname}`"),
            span,
        );
        if let Some(s) = nearest(fname, catalog::names()) {
            err = err.with_suggestion(s);
        }
        err
    }

    /// Types `fname(args…)` (a SQL form the engine plans as that function: `CEIL(x)`,
    /// `TRIM(BOTH 'x' FROM s)`, `ARRAY[…]`, the JSON operators).
    pub(crate) fn call_exprs(
        &mut self,
        fname: &str,
        args: &[&Expr],
        scope: &Scope<'_>,
        in_agg: bool,
        ug: &mut Vec<(String, Span)>,
        span: Span,
    ) -> Result<Typed, SchemaError> {
        let Some(func) = catalog::lookup(fname) else {
            return Err(self.not_a_function(fname, span));
        };
        let mut typed = Vec::with_capacity(args.len());
        let mut literals = Vec::with_capacity(args.len());
        for a in args {
            let (t, n) = self.ex(a, scope, in_agg, ug)?;
            literals.push(is_string_literal(a));
            typed.push((t, n, a.span()));
        }
        let names: Vec<&str> = typed.iter().map(|(_, n, _)| n.as_str()).collect();
        let display = format!("{}({})", func.name, names.join(","));
        self.call(fname, func, typed, &literals, span, display)
    }

    /// Types a call of a catalog function on already typed arguments. `literals` tells which
    /// arguments are string literals; `display` is DataFusion's name of the call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &mut self,
        fname: &str,
        func: &catalog::Function,
        typed: Vec<(Ty, String, Span)>,
        literals: &[bool],
        span: Span,
        display: String,
    ) -> Result<Typed, SchemaError> {
        if !func.takes(typed.len()) {
            return Err(self.err(
                ErrorKind::TypeMismatch,
                format!("{fname}() does not take {} argument(s)", typed.len()),
                span,
            ));
        }
        let mut args: Vec<Arg> = typed
            .iter()
            .zip(literals)
            .map(|((t, _, _), &literal)| Arg {
                dt: t.dt,
                nullable: t.nullable,
                literal,
            })
            .collect();
        // An untyped parameter takes the first type the function accepts in its place: the
        // other arguments' type, then TEXT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DATE.
        let others = typed
            .iter()
            .filter(|(t, _, _)| !unresolved(t) && t.dt != DType::Null)
            .try_fold(DType::Null, |acc, (t, _, _)| dtype::common(acc, t.dt));
        let mut typed = typed;
        for i in 0..typed.len() {
            if !unresolved(&typed[i].0) {
                continue;
            }
            let candidates = others.into_iter().filter(|d| *d != DType::Null).chain([
                DType::Utf8,
                DType::Int64,
                DType::Float64,
                DType::Boolean,
                DType::Timestamp { tz: false },
                DType::Date,
            ]);
            let mut chosen = None;
            for c in candidates {
                args[i].dt = c;
                if func.resolve(&args).is_some() {
                    chosen = c.to_sql();
                    break;
                }
            }
            let (t, _, s) = &typed[i];
            let Some(sql) = chosen else {
                return Err(self.param_error(t, *s));
            };
            let t = self.coerce_param(t.clone(), sql, *s)?;
            args[i].dt = t.dt;
            typed[i].0 = t;
        }
        match func.resolve(&args) {
            Some(Resolved::Value { dt, nullable }) => {
                let dt = Self::literal_refinement(func.name, dt, &typed);
                Ok((Ty::new(dt, nullable), display))
            }
            Some(Resolved::Unsendable) => {
                let mut e = self.err(
                    ErrorKind::Unsupported,
                    unsendable(
                        &format!("the result of {fname}()"),
                        "a type without a JSON encoding",
                    ),
                    span,
                );
                if let Some(help) = instead(fname) {
                    e = e.with_suggestion(help);
                }
                Err(e)
            }
            None => {
                // Point at the one argument that does not fit, when there is one.
                for (i, (t, _, s)) in typed.iter().enumerate() {
                    let expected = func.expected_at(&args, i);
                    if !expected.is_empty() {
                        return Err(self.err(
                            ErrorKind::TypeMismatch,
                            format!(
                                "{fname}() cannot take {} as argument {}; it takes {}",
                                type_name(t),
                                i + 1,
                                expected.join(", ")
                            ),
                            *s,
                        ));
                    }
                }
                let types: Vec<String> = typed.iter().map(|(t, _, _)| type_name(t)).collect();
                Err(self.err(
                    ErrorKind::TypeMismatch,
                    format!("{fname}() cannot take ({})", types.join(", ")),
                    span,
                ))
            }
        }
    }

    /// Result types that depend on a literal argument's value, which the catalog (typed by
    /// argument types only) cannot tell: `round(decimal[, n])` keeps `n` decimal places
    /// (DataFusion 53's rule; a non-literal `n` keeps the scale and adds a digit).
    fn literal_refinement(name: &str, dt: DType, typed: &[(Ty, String, Span)]) -> DType {
        let Some((
            Ty {
                dt: DType::Decimal(p, s),
                ..
            },
            _,
            _,
        )) = typed.first()
        else {
            return dt;
        };
        if name != "round" {
            return dt;
        }
        let (p, s) = (*p, *s);
        let places: Option<i64> = match typed.get(1) {
            None => Some(0),
            Some((_, shown, _)) => shown
                .strip_prefix("Int64(")
                .and_then(|x| x.strip_suffix(')'))
                .and_then(|x| x.parse().ok()),
        };
        match places {
            Some(dp) => {
                let scale = s.min(u8::try_from(dp.max(0)).unwrap_or(u8::MAX));
                let carry = s == 0 && dp < 0 && dp.unsigned_abs() <= u64::from(p);
                DType::Decimal(if carry { (p + 1).min(38) } else { p }, scale)
            }
            None => DType::Decimal((p + 1).min(38), s),
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
        // The server rewrites these before planning (protocol 7.1).
        let lookup = match fname.as_str() {
            "current_user" | "current_user_id" => "kdb_current_user",
            "current_role" => "kdb_current_role",
            other => other,
        };
        let Some(func) = catalog::lookup(lookup) else {
            return Err(self.not_a_function(&fname, span));
        };
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
        let is_agg = func.aggregate;
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
        }
        if star {
            if func.name != "count" || !args.is_empty() {
                return Err(self.err(ErrorKind::Syntax, format!("{fname}(*) is not valid"), span));
            }
            return Ok((Ty::new(DType::Int64, false), "count(*)".to_owned()));
        }
        let mut typed = Vec::with_capacity(args.len());
        let mut literals = Vec::with_capacity(args.len());
        for a in &args {
            let (t, n) = self.ex(a, scope, in_agg || is_agg, ug)?;
            literals.push(is_string_literal(a));
            typed.push((t, n, a.span()));
        }
        let names: Vec<&str> = typed.iter().map(|(_, n, _)| n.as_str()).collect();
        let dist = if distinct { "DISTINCT " } else { "" };
        let display = format!("{}({dist}{})", func.name, names.join(","));
        self.call(&fname, func, typed, &literals, span, display)
    }
}
