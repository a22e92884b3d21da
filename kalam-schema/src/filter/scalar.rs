//! Values as the server's live filter sees them (server mode).

use std::borrow::Cow;

use sqlparser::ast::Value;

use super::Datum;

/// A value as the server's evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// The literal `NULL`.
    Null,
    /// A NULL column value (it never equals the literal `NULL`).
    NullCell,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// Temporal values, UUIDs, bytes, vectors: equal only to the same value.
    Other(Opaque<'a>),
}

/// An opaque value, compared as the server compares their JSON cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Opaque<'a> {
    /// DATE, TIME, TIMESTAMP (a JSON number).
    Number(i64),
    Uuid(u128),
    Bytes(Cow<'a, [u8]>),
    Vector(Cow<'a, [f32]>),
}

impl<'a> Scalar<'a> {
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A row value as the server sees it: DECIMAL through `f64`, text kinds as strings.
    pub(crate) fn of(d: Datum<'a>) -> Scalar<'a> {
        match d {
            Datum::Null => Scalar::NullCell,
            Datum::Bool(b) => Scalar::Bool(b),
            Datum::Int(i) => Scalar::Int(i),
            Datum::Float(f) => Scalar::Float(f),
            Datum::Decimal(m, s) => Scalar::Float(m as f64 / 10f64.powi(i32::from(s))),
            Datum::Text(t) => Scalar::Str(t),
            Datum::Date(d) => Scalar::Other(Opaque::Number(i64::from(d))),
            Datum::Timestamp(v) | Datum::Time(v) => Scalar::Other(Opaque::Number(v)),
            Datum::Uuid(u) => Scalar::Other(Opaque::Uuid(u)),
            Datum::Bytes(b) => Scalar::Other(Opaque::Bytes(b)),
            Datum::Embedding(v) => Scalar::Other(Opaque::Vector(v)),
        }
    }

    /// A literal as the server's evaluator reads it; `None` when it cannot (the change is
    /// dropped).
    pub(crate) fn literal(v: &Value) -> Option<Scalar<'static>> {
        match v {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(Scalar::Str(Cow::Owned(s.clone())))
            }
            Value::Number(n, _) => n
                .parse::<i64>()
                .map(Scalar::Int)
                .or_else(|_| n.parse::<f64>().map(Scalar::Float))
                .ok(),
            Value::Boolean(b) => Some(Scalar::Bool(*b)),
            Value::Null => Some(Scalar::Null),
            _ => None,
        }
    }

    pub(crate) fn borrowed(&self) -> Scalar<'_> {
        match self {
            Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
            Scalar::Null => Scalar::Null,
            Scalar::NullCell => Scalar::NullCell,
            Scalar::Bool(b) => Scalar::Bool(*b),
            Scalar::Int(i) => Scalar::Int(*i),
            Scalar::Float(f) => Scalar::Float(*f),
            Scalar::Other(o) => Scalar::Other(o.clone()),
        }
    }
}

/// The server's equality: the same value, or two numbers within `f64::EPSILON`.
pub(crate) fn server_equal(l: &Scalar<'_>, r: &Scalar<'_>) -> bool {
    if l == r {
        return true;
    }
    match (l.as_f64(), r.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < f64::EPSILON,
        _ => false,
    }
}
