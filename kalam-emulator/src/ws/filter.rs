//! The live filter: the small WHERE evaluator the server applies to the **new** row of every
//! change (protocol 3.7), quirks included.
//!
//! Supported: `AND`, `OR`, `NOT`, parentheses, `= != <> < > <= >=`, `LIKE`/`ILIKE`, column
//! references (bare or qualified, case-insensitive fallback) and string/number/boolean/NULL
//! literals. Anything else (`IN`, `IS NULL`, `BETWEEN`, function calls, arithmetic, negative
//! numbers) makes the evaluation fail, and a failed evaluation drops the change. There is no
//! three-valued logic: a NULL column is simply "not equal" to a literal, so `NOT title = 'x'`
//! holds for a NULL title. `<`, `>`, `<=`, `>=` need numbers on both sides (else: failure).

use std::collections::HashMap;

use kalam_schema::{SqlType, Table};
use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value as SqlValue};

use crate::store::Row;
use crate::store::value::Value;

/// A value as the evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    /// The literal `NULL`.
    Null,
    /// A NULL column value (typed: it never equals the literal `NULL`).
    NullCell,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Temporal values, UUIDs, bytes…: equal only to the same value.
    Other(String),
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn of(v: &Value, ty: SqlType) -> Scalar {
        match v {
            Value::Null => Scalar::NullCell,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::SmallInt(x) => Scalar::Int(i64::from(*x)),
            Value::Int(x) => Scalar::Int(i64::from(*x)),
            Value::BigInt(x) => Scalar::Int(*x),
            Value::Float(f) => Scalar::Float(f64::from(*f)),
            Value::Double(f) => Scalar::Float(*f),
            Value::Decimal(x) => {
                let scale = match ty {
                    SqlType::Decimal { scale, .. } => i32::from(scale),
                    _ => 0,
                };
                Scalar::Float(*x as f64 / 10f64.powi(scale))
            }
            Value::Text(s) | Value::Json(s) | Value::File(s) => Scalar::Str(s.clone()),
            other => Scalar::Other(other.to_json_cell(ty).to_string()),
        }
    }
}

/// Why an evaluation failed (the change is dropped).
#[derive(Debug)]
struct EvalError;

type Eval<T> = Result<T, EvalError>;

/// The values of one row by column name.
pub(crate) struct RowData {
    values: HashMap<String, Scalar>,
}

impl RowData {
    /// Every column of `row` (user columns, `_seq`, `_deleted`).
    pub(crate) fn new(def: &Table, row: &Row) -> RowData {
        let mut values: HashMap<String, Scalar> = def
            .user_columns()
            .zip(&row.values)
            .map(|(c, v)| (c.name.clone(), Scalar::of(v, c.ty)))
            .collect();
        values.insert("_seq".into(), Scalar::Int(row.seq));
        values.insert("_deleted".into(), Scalar::Bool(row.deleted));
        RowData { values }
    }

    fn get(&self, name: &str) -> Eval<Scalar> {
        self.values
            .get(name)
            .or_else(|| self.values.get(&name.to_lowercase()))
            .or_else(|| self.values.get(&name.to_uppercase()))
            .cloned()
            .ok_or(EvalError)
    }
}

/// A compiled live filter.
#[derive(Debug, Clone)]
pub(crate) struct LiveFilter {
    /// `None`: no WHERE, or a WHERE that could not be parsed: every change passes.
    expr: Option<Expr>,
}

impl LiveFilter {
    /// The filter of a subscription (see `query::parse` for `CURRENT_USER()`).
    pub(crate) fn new(filter: Option<&Expr>) -> LiveFilter {
        LiveFilter {
            expr: filter.cloned(),
        }
    }

    /// Whether a change whose new row is `row` is delivered.
    pub(crate) fn matches(&self, row: &RowData) -> bool {
        match &self.expr {
            None => true,
            Some(e) => eval(e, row, 0).unwrap_or(false),
        }
    }
}

const MAX_DEPTH: usize = 64;

fn eval(e: &Expr, row: &RowData, depth: usize) -> Eval<bool> {
    if depth > MAX_DEPTH {
        return Err(EvalError);
    }
    match e {
        Expr::Nested(inner) => eval(inner, row, depth + 1),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Ok(!eval(expr, row, depth + 1)?),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => Ok(eval(left, row, depth + 1)? && eval(right, row, depth + 1)?),
            BinaryOperator::Or => Ok(eval(left, row, depth + 1)? || eval(right, row, depth + 1)?),
            BinaryOperator::Eq => Ok(equal(&value(left, row)?, &value(right, row)?)),
            BinaryOperator::NotEq => Ok(!equal(&value(left, row)?, &value(right, row)?)),
            BinaryOperator::Lt
            | BinaryOperator::Gt
            | BinaryOperator::LtEq
            | BinaryOperator::GtEq => {
                let l = value(left, row)?.as_f64().ok_or(EvalError)?;
                let r = value(right, row)?.as_f64().ok_or(EvalError)?;
                Ok(match op {
                    BinaryOperator::Lt => l < r,
                    BinaryOperator::Gt => l > r,
                    BinaryOperator::LtEq => l <= r,
                    _ => l >= r,
                })
            }
            _ => Err(EvalError),
        },
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like(expr, pattern, row, false).map(|m| m != *negated),
        Expr::ILike {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like(expr, pattern, row, true).map(|m| m != *negated),
        _ => Err(EvalError),
    }
}

fn like(expr: &Expr, pattern: &Expr, row: &RowData, fold: bool) -> Eval<bool> {
    let Scalar::Str(p) = value(pattern, row)? else {
        return Err(EvalError);
    };
    match value(expr, row)? {
        Scalar::Str(s) if fold => Ok(like_match(&s.to_lowercase(), &p.to_lowercase())),
        Scalar::Str(s) => Ok(like_match(&s, &p)),
        Scalar::NullCell => Ok(false),
        _ => Err(EvalError),
    }
}

/// SQL LIKE: `%` any run, `_` one character, `\` escapes the next character.
fn like_match(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    // Iterative matcher with backtracking to the last `%`.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && p[j] == '\\' && j + 1 < p.len() && p[j + 1] == s[i] {
            i += 1;
            j += 2;
        } else if j < p.len() && p[j] != '%' && p[j] != '\\' && (p[j] == '_' || p[j] == s[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '%')
}

fn equal(l: &Scalar, r: &Scalar) -> bool {
    if l == r {
        return true;
    }
    match (l.as_f64(), r.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < f64::EPSILON,
        _ => false,
    }
}

fn value(e: &Expr, row: &RowData) -> Eval<Scalar> {
    match e {
        Expr::Identifier(i) => row.get(&i.value),
        Expr::CompoundIdentifier(parts) => row.get(&parts.last().ok_or(EvalError)?.value),
        Expr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                Ok(Scalar::Str(s.clone()))
            }
            SqlValue::Number(n, _) => n
                .parse::<i64>()
                .map(Scalar::Int)
                .or_else(|_| n.parse::<f64>().map(Scalar::Float))
                .map_err(|_| EvalError),
            SqlValue::Boolean(b) => Ok(Scalar::Bool(*b)),
            SqlValue::Null => Ok(Scalar::Null),
            _ => Err(EvalError),
        },
        _ => Err(EvalError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivers(filter: &str, title: Option<&str>, n: Option<i32>) -> bool {
        let q = crate::ws::query::parse(&format!("SELECT * FROM app.t WHERE {filter}"), "alice")
            .unwrap();
        let f = LiveFilter::new(q.live_filter.as_ref());
        let row = Row {
            values: vec![
                Value::BigInt(20),
                title.map_or(Value::Null, |t| Value::Text(t.into())),
                n.map_or(Value::Null, Value::Int),
            ],
            seq: 1,
            deleted: false,
            commit_seq: 1,
        };
        f.matches(&RowData::new(&crate::ws::sample_table(), &row))
    }

    #[test]
    fn observed_delivery_table() {
        let row = (Some("zed"), Some(5));
        for f in [
            "n = 5",
            "n <> 6",
            "n > 1 AND title = 'zed'",
            "n = 1 OR n = 5",
            "NOT (n = 6)",
            "title LIKE 'z%'",
            "title ILIKE 'Z_D'",
            "(n = 5 OR n = 6) AND title <> 'q'",
            "t.n = 5",
            "N = 5",
        ] {
            assert!(delivers(f, row.0, row.1), "{f}");
        }
        for f in [
            "id IN (20, 21)",
            "n BETWEEN 0 AND 10",
            "title IS NOT NULL",
            "length(title) > 0",
            "n + 1 > 0",
            "LOWER(title) = 'zed'",
            "title = CURRENT_USER()",
            "n > -1",
            "title > 'a'",
            "n = 6",
        ] {
            assert!(!delivers(f, row.0, row.1), "{f}");
        }
    }

    #[test]
    fn no_three_valued_logic() {
        assert!(delivers(
            "(n = 5 OR n = 6) AND NOT title = 'zzz'",
            None,
            Some(5)
        ));
        assert!(delivers("n <> 5", Some("a"), None));
        assert!(!delivers("n = NULL", Some("a"), None));
        assert!(!delivers("n > 2", Some("a"), None));
    }

    #[test]
    fn like_patterns() {
        assert!(like_match("xy", "x%"));
        assert!(like_match("abc", "a_c"));
        assert!(like_match("a%c", "a\\%c"));
        assert!(!like_match("abc", "a\\%c"));
        assert!(like_match("", "%"));
        assert!(!like_match("ab", "a"));
        assert!(like_match("banana", "%an%na"));
    }
}
