//! Cell encoding (protocol 1.8): one rule for HTTP rows, WebSocket rows and topic payloads.
//!
//! Query results are encoded from the runtime Arrow value ([`write_cell`]); store rows (change
//! events) from the typed [`Value`] ([`write_value`]). Both produce identical text for equal
//! logical values.

use std::fmt::Write as _;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, FixedSizeBinaryArray, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use kalam_schema::SqlType;

use crate::store::value::{Value, format_uuid};

/// A cell that has no JSON mapping (NaN/∞, intervals, second-precision timestamps, …).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct EncodeError(pub(crate) String);

/// Appends a JSON string literal.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_f64(out: &mut String, f: f64) -> Result<(), EncodeError> {
    match serde_json::Number::from_f64(f) {
        Some(n) => {
            out.push_str(&n.to_string());
            Ok(())
        }
        None => Err(EncodeError(format!(
            "Json error: Cannot serialize float value {f} to JSON"
        ))),
    }
}

/// Decimal text with exactly `scale` fraction digits, mirroring the server's sign bug for
/// values in (-1, 0): the integer part `0` carries no sign.
pub(crate) fn decimal_text(v: i128, scale: i8) -> String {
    if scale <= 0 {
        let mut n = v;
        for _ in 0..(-i32::from(scale)) {
            n = n.saturating_mul(10);
        }
        return n.to_string();
    }
    let div = 10i128.pow(scale as u32);
    let int = v / div;
    let frac = (v % div).unsigned_abs();
    format!("{int}.{frac:0width$}", width = scale as usize)
}

/// Appends the JSON cell for row `i` of `array`.
pub(crate) fn write_cell(out: &mut String, array: &ArrayRef, i: usize) -> Result<(), EncodeError> {
    write_cell_dyn(out, array.as_ref(), i)
}

fn write_cell_dyn(out: &mut String, array: &dyn Array, i: usize) -> Result<(), EncodeError> {
    if array.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! num {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(i));
        }};
    }
    macro_rules! text_num {
        ($t:ty) => {{
            let _ = write!(out, "\"{}\"", array.as_primitive::<$t>().value(i));
        }};
    }
    match array.data_type() {
        DataType::Null => out.push_str("null"),
        DataType::Boolean => {
            let b = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(|a| a.value(i))
                .unwrap_or(false);
            out.push_str(if b { "true" } else { "false" });
        }
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::Int64 => text_num!(Int64Type),
        DataType::UInt64 => text_num!(UInt64Type),
        DataType::Float32 => {
            write_f64(out, f64::from(array.as_primitive::<Float32Type>().value(i)))?;
        }
        DataType::Float64 => write_f64(out, array.as_primitive::<Float64Type>().value(i))?,
        DataType::Utf8 => {
            let s = array
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| a.value(i))
                .unwrap_or("");
            write_str(out, s);
        }
        DataType::LargeUtf8 => write_str(out, array.as_string::<i64>().value(i)),
        DataType::Utf8View => write_str(out, array.as_string_view().value(i)),
        DataType::Timestamp(TimeUnit::Second, _) => {
            return Err(EncodeError(
                "Unsupported data type for JSON conversion: Timestamp(Second)".into(),
            ));
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => num!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => num!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => num!(TimestampNanosecondType),
        DataType::Date32 => num!(Date32Type),
        DataType::Date64 => num!(Date64Type),
        DataType::Time32(TimeUnit::Second) => num!(Time32SecondType),
        DataType::Time32(_) => num!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => num!(Time64MicrosecondType),
        DataType::Time64(_) => num!(Time64NanosecondType),
        DataType::FixedSizeBinary(16) => {
            let b = array
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .map(|a| a.value(i).to_vec())
                .unwrap_or_default();
            let arr: [u8; 16] = b.as_slice().try_into().unwrap_or([0; 16]);
            write_str(out, &format_uuid(u128::from_be_bytes(arr)));
        }
        DataType::FixedSizeBinary(_) => {
            let b = array.as_fixed_size_binary().value(i);
            write_bytes(out, b);
        }
        DataType::Binary => write_bytes(out, array.as_binary::<i32>().value(i)),
        DataType::LargeBinary => write_bytes(out, array.as_binary::<i64>().value(i)),
        DataType::BinaryView => write_bytes(out, array.as_binary_view().value(i)),
        DataType::Decimal128(_, scale) => {
            let v = array
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .map(|a| a.value(i))
                .unwrap_or(0);
            write_str(out, &decimal_text(v, *scale));
        }
        DataType::FixedSizeList(_, _) => {
            let inner = array.as_fixed_size_list().value(i);
            write_list(out, &inner)?;
        }
        DataType::List(_) => write_list(out, &array.as_list::<i32>().value(i))?,
        DataType::LargeList(_) => write_list(out, &array.as_list::<i64>().value(i))?,
        DataType::Dictionary(_, value_type) => {
            let unpacked = datafusion::arrow::compute::cast(&array.slice(i, 1), value_type)
                .map_err(|e| EncodeError(e.to_string()))?;
            write_cell_dyn(out, unpacked.as_ref(), 0)?;
        }
        other => {
            return Err(EncodeError(format!(
                "Unsupported data type for JSON conversion: {other}"
            )));
        }
    }
    Ok(())
}

fn write_bytes(out: &mut String, b: &[u8]) {
    out.push('[');
    for (k, byte) in b.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "{byte}");
    }
    out.push(']');
}

fn write_list(out: &mut String, inner: &ArrayRef) -> Result<(), EncodeError> {
    out.push('[');
    for k in 0..inner.len() {
        if k > 0 {
            out.push(',');
        }
        write_cell(out, inner, k)?;
    }
    out.push(']');
    Ok(())
}

/// Appends the JSON cell of a stored value in a column of type `ty`. Stored values are always
/// encodable (NaN is written as `null`, which the store never holds for table columns).
pub(crate) fn write_value(out: &mut String, v: &Value, ty: SqlType) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::SmallInt(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Int(x) => {
            let _ = write!(out, "{x}");
        }
        Value::BigInt(x) => {
            let _ = write!(out, "\"{x}\"");
        }
        Value::Float(f) => {
            if write_f64(out, f64::from(*f)).is_err() {
                out.push_str("null");
            }
        }
        Value::Double(f) => {
            if write_f64(out, *f).is_err() {
                out.push_str("null");
            }
        }
        Value::Text(s) | Value::Json(s) | Value::File(s) => write_str(out, s),
        Value::Timestamp(x) | Value::DateTime(x) | Value::Time(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Date(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Bytes(b) => write_bytes(out, b),
        Value::Embedding(v) => {
            out.push('[');
            for (k, f) in v.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if write_f64(out, f64::from(*f)).is_err() {
                    out.push_str("null");
                }
            }
            out.push(']');
        }
        Value::Uuid(u) => write_str(out, &format_uuid(*u)),
        Value::Decimal(x) => {
            let scale = match ty {
                SqlType::Decimal { scale, .. } => scale as i8,
                _ => 0,
            };
            write_str(out, &decimal_text(*x, scale));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_sign_bug_is_mirrored() {
        assert_eq!(decimal_text(-50, 2), "0.50");
        assert_eq!(decimal_text(-5, 2), "0.05");
        assert_eq!(decimal_text(-1235, 2), "-12.35");
        assert_eq!(decimal_text(1250, 2), "12.50");
        assert_eq!(decimal_text(-3, 0), "-3");
    }
}
