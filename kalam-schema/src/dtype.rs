//! The query engine's view of types (DataFusion 53 / Arrow), used while checking expressions,
//! and its coercion rules. Table columns enter through [`DType::of_sql`]; results leave through
//! [`DType::to_sql`] with the server's Arrow → KalamDB mapping (protocol 1.7).

use crate::types::SqlType;

/// An Arrow-level type as DataFusion computes it for expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    /// The type of an untyped `NULL`.
    Null,
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Binary,
    /// FixedSizeBinary(16): UUID columns.
    Uuid,
    Decimal(u8, u8),
    /// Timestamp of any unit; `tz` when it carries a time zone.
    Timestamp {
        tz: bool,
    },
    Date,
    Time,
    /// FixedSizeList<Float32, n>.
    Embedding(u32),
    /// An interval (only as an operand of temporal arithmetic).
    Interval,
}

impl DType {
    /// The Arrow type a table column of `ty` has (protocol 1.7).
    pub(crate) fn of_sql(ty: SqlType) -> DType {
        match ty {
            SqlType::Boolean => DType::Boolean,
            SqlType::SmallInt => DType::Int16,
            SqlType::Int => DType::Int32,
            SqlType::BigInt => DType::Int64,
            SqlType::Float => DType::Float32,
            SqlType::Double => DType::Float64,
            SqlType::Text | SqlType::Json | SqlType::File => DType::Utf8,
            SqlType::Timestamp => DType::Timestamp { tz: false },
            SqlType::DateTime => DType::Timestamp { tz: true },
            SqlType::Date => DType::Date,
            SqlType::Time => DType::Time,
            SqlType::Bytes => DType::Binary,
            SqlType::Uuid => DType::Uuid,
            SqlType::Embedding(n) => DType::Embedding(n),
            SqlType::Decimal { precision, scale } => DType::Decimal(precision, scale),
        }
    }

    /// The KalamDB type the server reports for a computed column of this Arrow type
    /// (protocol 1.7: anything without a KalamDB counterpart, NULL included, is reported as
    /// TEXT). `None` for intervals, whose cells the server cannot encode.
    pub(crate) fn to_sql(self) -> Option<SqlType> {
        Some(match self {
            DType::Null | DType::Utf8 => SqlType::Text,
            DType::Boolean => SqlType::Boolean,
            DType::Int16 => SqlType::SmallInt,
            DType::Int32 => SqlType::Int,
            DType::Int64 => SqlType::BigInt,
            DType::Float32 => SqlType::Float,
            DType::Float64 => SqlType::Double,
            DType::Binary => SqlType::Bytes,
            DType::Uuid => SqlType::Uuid,
            DType::Decimal(precision, scale) => SqlType::Decimal { precision, scale },
            DType::Timestamp { tz: false } => SqlType::Timestamp,
            DType::Timestamp { tz: true } => SqlType::DateTime,
            DType::Date => SqlType::Date,
            DType::Time => SqlType::Time,
            DType::Embedding(n) => SqlType::Embedding(n),
            DType::Interval => return None,
        })
    }

    pub(crate) fn is_integer(self) -> bool {
        matches!(self, DType::Int16 | DType::Int32 | DType::Int64)
    }

    pub(crate) fn is_float(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }

    pub(crate) fn is_numeric(self) -> bool {
        self.is_integer() || self.is_float() || matches!(self, DType::Decimal(..))
    }

    pub(crate) fn is_temporal(self) -> bool {
        matches!(self, DType::Timestamp { .. } | DType::Date | DType::Time)
    }

    /// DataFusion's display of the type, as used in `CAST(x AS …)` column names.
    pub(crate) fn arrow_name(self) -> String {
        match self {
            DType::Null => "Null".into(),
            DType::Boolean => "Boolean".into(),
            DType::Int16 => "Int16".into(),
            DType::Int32 => "Int32".into(),
            DType::Int64 => "Int64".into(),
            DType::Float32 => "Float32".into(),
            DType::Float64 => "Float64".into(),
            DType::Utf8 => "Utf8".into(),
            DType::Binary => "Binary".into(),
            DType::Uuid => "FixedSizeBinary(16)".into(),
            DType::Decimal(p, s) => format!("Decimal128({p}, {s})"),
            DType::Timestamp { tz: false } => "Timestamp(ns)".into(),
            DType::Timestamp { tz: true } => "Timestamp(ns, \"+00:00\")".into(),
            DType::Date => "Date32".into(),
            DType::Time => "Time64(ns)".into(),
            DType::Embedding(n) => format!("FixedSizeList({n} x Float32)"),
            DType::Interval => "Interval(MonthDayNano)".into(),
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// The decimal an integer or float is coerced to next to a decimal (DataFusion's
/// `coerce_numeric_type_to_decimal128`).
fn as_decimal(t: DType) -> Option<(u8, u8)> {
    match t {
        DType::Decimal(p, s) => Some((p, s)),
        DType::Int16 => Some((5, 0)),
        DType::Int32 => Some((10, 0)),
        DType::Int64 => Some((20, 0)),
        DType::Float32 => Some((14, 7)),
        DType::Float64 => Some((30, 15)),
        _ => None,
    }
}

/// The narrowest numeric type holding both (DataFusion's `numerical_coercion`).
fn numerical(l: DType, r: DType) -> Option<DType> {
    use DType::*;
    Some(match (l, r) {
        (Float64, _) | (_, Float64) => Float64,
        (Float32, _) | (_, Float32) => Float32,
        (Int64, _) | (_, Int64) => Int64,
        (Int32, _) | (_, Int32) => Int32,
        (Int16, _) | (_, Int16) => Int16,
        _ => return None,
    })
}

/// Result type of Decimal128 arithmetic (Arrow's kernel rules).
fn decimal_arith(op: Arith, (p1, s1): (u8, u8), (p2, s2): (u8, u8)) -> Option<DType> {
    let (p1, s1, p2, s2) = (i32::from(p1), i32::from(s1), i32::from(p2), i32::from(s2));
    let (p, s) = match op {
        Arith::Add | Arith::Sub => {
            let s = s1.max(s2);
            (s + (p1 - s1).max(p2 - s2) + 1, s)
        }
        Arith::Mul => {
            let s = s1 + s2;
            if s > 38 {
                return None;
            }
            (p1 + p2 + 1, s)
        }
        Arith::Div => {
            let s = (s1 + 4).min(38);
            (p1 - s1 + s2 + s, s)
        }
        Arith::Rem => {
            let s = s1.max(s2);
            (s + (p1 - s1).min(p2 - s2), s)
        }
    };
    Some(DType::Decimal(
        u8::try_from(p.clamp(1, 38)).ok()?,
        u8::try_from(s).ok()?,
    ))
}

/// The result type of `l op r` for arithmetic, or `None` when DataFusion refuses it.
pub(crate) fn arithmetic(op: Arith, l: DType, r: DType) -> Option<DType> {
    use DType::*;
    match (l, r) {
        (Null, Null) => Some(Int64),
        (Null, t) | (t, Null) if t.is_numeric() => arithmetic(op, t, t),
        (Date, Date) if op == Arith::Sub => Some(Int64),
        (Timestamp { .. }, Timestamp { .. }) if op == Arith::Sub => Some(Interval),
        (t, Interval) if t.is_temporal() && matches!(op, Arith::Add | Arith::Sub) => Some(t),
        (Interval, t) if t.is_temporal() && op == Arith::Add => Some(t),
        (Decimal(..), Decimal(..)) => decimal_arith(op, as_decimal(l)?, as_decimal(r)?),
        (Decimal(..), t) | (t, Decimal(..)) if t.is_integer() => {
            decimal_arith(op, as_decimal(l)?, as_decimal(r)?)
        }
        (a, b) if a.is_numeric() && b.is_numeric() => {
            if a == b {
                Some(a)
            } else {
                numerical(a, b)
            }
        }
        _ => None,
    }
}

/// The common type two values are compared (or unified, for CASE/COALESCE/UNION) at, or
/// `None` when DataFusion cannot compare them (its `comparison_coercion`, for our types).
pub(crate) fn common(l: DType, r: DType) -> Option<DType> {
    use DType::*;
    if l == r {
        return Some(l);
    }
    match (l, r) {
        (Null, t) | (t, Null) => Some(t),
        (a, b) if a.is_numeric() && b.is_numeric() => {
            if matches!(a, Decimal(..)) || matches!(b, Decimal(..)) {
                let (p1, s1) = as_decimal(a)?;
                let (p2, s2) = as_decimal(b)?;
                let s = s1.max(s2);
                let range = (p1 - s1).max(p2 - s2);
                Some(Decimal((u16::from(s) + u16::from(range)).min(38) as u8, s))
            } else {
                numerical(a, b)
            }
        }
        (Utf8, t) | (t, Utf8) if t.is_temporal() || t == Uuid => Some(t),
        (Timestamp { .. }, Date) | (Date, Timestamp { .. }) => Some(if l == Date { r } else { l }),
        (Timestamp { .. }, Timestamp { .. }) => Some(Timestamp { tz: true }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn arithmetic_follows_datafusion() {
        assert_eq!(arithmetic(Arith::Add, Int32, Int32), Some(Int32));
        assert_eq!(arithmetic(Arith::Add, Int32, Int64), Some(Int64));
        assert_eq!(arithmetic(Arith::Div, Int32, Int32), Some(Int32));
        assert_eq!(arithmetic(Arith::Mul, Int32, Float64), Some(Float64));
        assert_eq!(arithmetic(Arith::Add, Float32, Int64), Some(Float32));
        assert_eq!(
            arithmetic(Arith::Add, Decimal(10, 2), Decimal(10, 2)),
            Some(Decimal(11, 2))
        );
        assert_eq!(
            arithmetic(Arith::Mul, Decimal(10, 2), Int64),
            Some(Decimal(31, 2))
        );
        assert_eq!(
            arithmetic(Arith::Div, Decimal(10, 2), Decimal(5, 0)),
            Some(Decimal(14, 6))
        );
        assert_eq!(
            arithmetic(Arith::Add, Decimal(10, 2), Float64),
            Some(Float64)
        );
        assert_eq!(arithmetic(Arith::Add, Utf8, Int64), None);
        assert_eq!(arithmetic(Arith::Add, Null, Int32), Some(Int32));
    }
}
