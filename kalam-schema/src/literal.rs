//! Rendering values as SQL literals that are safe to splice into live-query text.
//!
//! Live queries cannot take `$n` parameters (the subscription carries only SQL text), so the
//! `live!` macro renders values with [`render_literal`]. Strings are single-quoted with quotes
//! doubled; numbers and booleans are checked and written as-is; anything that cannot be written
//! safely is refused rather than guessed.

use crate::error::{ErrorKind, SchemaError};
use crate::model::Literal;
use crate::types::SqlType;

/// Renders `value` as a SQL literal for a column of type `ty`.
///
/// - `NULL` renders as `NULL` for every type.
/// - BOOLEAN takes booleans; SMALLINT/INT/BIGINT take integers in range; FLOAT/DOUBLE take
///   finite numbers; DECIMAL(p, s) takes numbers (or numeric strings) that fit p and s.
/// - TEXT, JSON and FILE take strings (quotes doubled, NUL refused); UUID takes a canonical UUID
///   string; TIMESTAMP, DATETIME, DATE and TIME take ISO-8601-looking strings or integers
///   (µs since the epoch / days / µs since midnight).
/// - BYTES and EMBEDDING are refused: the live filter evaluator has no literal for them.
///
/// ```
/// use kalam_schema::{render_literal, Literal, SqlType};
/// let s = Literal::String("it's".into());
/// assert_eq!(render_literal(&s, SqlType::Text).unwrap(), "'it''s'");
/// assert_eq!(render_literal(&Literal::Number("42".into()), SqlType::BigInt).unwrap(), "42");
/// assert!(render_literal(&Literal::Number("1; DROP TABLE x".into()), SqlType::Int).is_err());
/// assert!(render_literal(&Literal::Number("70000".into()), SqlType::SmallInt).is_err());
/// ```
pub fn render_literal(value: &Literal, ty: SqlType) -> Result<String, SchemaError> {
    let refuse = |why: &str| {
        Err(SchemaError::new(
            ErrorKind::Literal,
            format!(
                "cannot render {} as a {} literal: {why}",
                describe(value),
                ty.sql_name()
            ),
        ))
    };
    match (value, ty) {
        (Literal::Null, _) => Ok("NULL".into()),
        (Literal::Bool(b), SqlType::Boolean) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
        (_, SqlType::Bytes | SqlType::Embedding(_)) => {
            refuse("the live filter evaluator has no literal syntax for this type")
        }
        (Literal::Number(n), t) if t.is_integer() || t.is_temporal() => {
            let Some(v) = parse_integer(n) else {
                return refuse("not an integer");
            };
            let (lo, hi) = match t {
                SqlType::SmallInt => (i128::from(i16::MIN), i128::from(i16::MAX)),
                SqlType::Int | SqlType::Date => (i128::from(i32::MIN), i128::from(i32::MAX)),
                _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
            };
            if v < lo || v > hi {
                return refuse("out of range");
            }
            Ok(v.to_string())
        }
        (Literal::Number(n), SqlType::Float | SqlType::Double) => {
            if !is_decimal_syntax(n, true) {
                return refuse("not a number");
            }
            match n.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(n.clone()),
                _ => refuse("not a finite number"),
            }
        }
        (Literal::Number(n) | Literal::String(n), SqlType::Decimal { precision, scale }) => {
            if !is_decimal_syntax(n, false) {
                return refuse("not a decimal number");
            }
            let digits = n.trim_start_matches('-');
            let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
            let int = int.trim_start_matches('0');
            if frac.len() > usize::from(scale) || int.len() > usize::from(precision - scale) {
                return refuse("does not fit the precision and scale");
            }
            Ok(n.clone())
        }
        (Literal::String(s), SqlType::Text | SqlType::Json | SqlType::File) => quote(s)
            .ok_or(())
            .or_else(|()| refuse("strings cannot contain NUL characters")),
        (Literal::String(s), SqlType::Uuid) => {
            if is_uuid(s) {
                Ok(format!("'{s}'"))
            } else {
                refuse("not a canonical UUID (8-4-4-4-12 hex digits)")
            }
        }
        (Literal::String(s), t) if t.is_temporal() => {
            let ok = !s.is_empty()
                && s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars()
                    .all(|c| c.is_ascii_digit() || "-:T .Z+".contains(c));
            if ok {
                Ok(format!("'{s}'"))
            } else {
                refuse("not an ISO-8601 date/time string")
            }
        }
        _ => refuse("the value's kind does not match the column type"),
    }
}

fn describe(value: &Literal) -> &'static str {
    match value {
        Literal::Null => "NULL",
        Literal::Bool(_) => "a boolean",
        Literal::Number(_) => "a number",
        Literal::String(_) => "a string",
    }
}

/// `'…'` with quotes doubled; `None` if the string holds a NUL character.
fn quote(s: &str) -> Option<String> {
    if s.contains('\0') {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

fn parse_integer(n: &str) -> Option<i128> {
    let digits = n.strip_prefix('-').unwrap_or(n);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// `-?digits[.digits]` and, when `exponent`, an optional `e[+-]digits`.
fn is_decimal_syntax(n: &str, exponent: bool) -> bool {
    let body = n.strip_prefix('-').unwrap_or(n);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) if exponent => (&body[..i], Some(&body[i + 1..])),
        Some(_) => return false,
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = !int.is_empty()
        && all_digits(int)
        && all_digits(frac)
        && (!mantissa.contains('.') || !frac.is_empty());
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exp_ok
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Literal {
        Literal::Number(s.into())
    }

    #[test]
    fn renders_and_refuses() {
        let dec = SqlType::Decimal {
            precision: 5,
            scale: 2,
        };
        assert_eq!(render_literal(&num("123.45"), dec).unwrap(), "123.45");
        assert!(render_literal(&num("1234.5"), dec).is_err());
        assert!(render_literal(&num("1.234"), dec).is_err());
        assert_eq!(
            render_literal(&num("-1.5e3"), SqlType::Double).unwrap(),
            "-1.5e3"
        );
        assert!(render_literal(&num("1e999"), SqlType::Double).is_err());
        assert!(render_literal(&num("NaN"), SqlType::Double).is_err());
        assert!(render_literal(&num("1."), SqlType::Double).is_err());
        assert_eq!(
            render_literal(&Literal::Bool(true), SqlType::Boolean).unwrap(),
            "TRUE"
        );
        assert!(render_literal(&Literal::Bool(true), SqlType::Int).is_err());
        assert_eq!(
            render_literal(&Literal::Null, SqlType::Bytes).unwrap(),
            "NULL"
        );
        assert!(render_literal(&Literal::String("x".into()), SqlType::Bytes).is_err());
        assert!(render_literal(&Literal::String("a\0b".into()), SqlType::Text).is_err());
        let u = "0191b0f8-0000-7000-8000-000000000000";
        assert_eq!(
            render_literal(&Literal::String(u.into()), SqlType::Uuid).unwrap(),
            format!("'{u}'")
        );
        assert!(render_literal(&Literal::String("x' OR 1=1".into()), SqlType::Uuid).is_err());
        assert!(
            render_literal(
                &Literal::String("2024-01-01' --".into()),
                SqlType::Timestamp
            )
            .is_err()
        );
        assert_eq!(
            render_literal(
                &Literal::String("2024-01-01T00:00:00Z".into()),
                SqlType::DateTime
            )
            .unwrap(),
            "'2024-01-01T00:00:00Z'"
        );
        assert!(render_literal(&num("9223372036854775808"), SqlType::BigInt).is_err());
        assert_eq!(
            render_literal(&num("-9223372036854775808"), SqlType::BigInt).unwrap(),
            "-9223372036854775808"
        );
    }
}
