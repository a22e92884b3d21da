//! Typed cell values as the store keeps them, and their conversions to and from DataFusion
//! scalars.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::ScalarValue;
use kalam_schema::SqlType;

/// One stored cell. The variant follows the column's [`SqlType`]; `Null` fits every column.
///
/// ```
/// use kalam_emulator::Value;
/// use kalam_schema::SqlType;
/// assert_eq!(Value::BigInt(5).to_json_cell(SqlType::BigInt), serde_json::json!("5"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `BOOLEAN`
    Bool(bool),
    /// `SMALLINT`
    SmallInt(i16),
    /// `INT`
    Int(i32),
    /// `BIGINT`
    BigInt(i64),
    /// `FLOAT`
    Float(f32),
    /// `DOUBLE`
    Double(f64),
    /// `TEXT`
    Text(String),
    /// `TIMESTAMP`: microseconds since the Unix epoch.
    Timestamp(i64),
    /// `DATE`: days since the Unix epoch.
    Date(i32),
    /// `DATETIME`: microseconds since the Unix epoch (UTC).
    DateTime(i64),
    /// `TIME`: microseconds since midnight.
    Time(i64),
    /// `JSON`: the JSON text.
    Json(String),
    /// `BYTES`
    Bytes(Vec<u8>),
    /// `EMBEDDING(n)`
    Embedding(Vec<f32>),
    /// `UUID`, as its 128-bit big-endian value.
    Uuid(u128),
    /// `DECIMAL(p, s)`: the unscaled value (the scale comes from the column type).
    Decimal(i128),
    /// `FILE`: the FileRef JSON text.
    File(String),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The JSON cell of this value in a column of type `ty` (protocol 1.8): the same encoding
    /// HTTP rows use, so WebSocket rows and topic payloads match them cell for cell.
    pub fn to_json_cell(&self, ty: SqlType) -> serde_json::Value {
        let mut out = String::new();
        crate::encode::write_value(&mut out, self, ty);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }

    /// The value as a DataFusion scalar of the column's Arrow type.
    pub(crate) fn to_scalar(&self, ty: SqlType) -> ScalarValue {
        let dt = arrow_type(ty);
        match self {
            Value::Null => ScalarValue::try_from(&dt).unwrap_or(ScalarValue::Null),
            Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
            Value::SmallInt(v) => ScalarValue::Int16(Some(*v)),
            Value::Int(v) => ScalarValue::Int32(Some(*v)),
            Value::BigInt(v) => ScalarValue::Int64(Some(*v)),
            Value::Float(v) => ScalarValue::Float32(Some(*v)),
            Value::Double(v) => ScalarValue::Float64(Some(*v)),
            Value::Text(s) | Value::Json(s) | Value::File(s) => ScalarValue::Utf8(Some(s.clone())),
            Value::Timestamp(v) => ScalarValue::TimestampMicrosecond(Some(*v), None),
            Value::DateTime(v) => ScalarValue::TimestampMicrosecond(Some(*v), Some("UTC".into())),
            Value::Date(v) => ScalarValue::Date32(Some(*v)),
            Value::Time(v) => ScalarValue::Time64Microsecond(Some(*v)),
            Value::Bytes(b) => ScalarValue::Binary(Some(b.clone())),
            Value::Uuid(u) => ScalarValue::FixedSizeBinary(16, Some(u.to_be_bytes().to_vec())),
            Value::Decimal(v) => match ty {
                SqlType::Decimal { precision, scale } => {
                    ScalarValue::Decimal128(Some(*v), precision, scale as i8)
                }
                _ => ScalarValue::Decimal128(Some(*v), 38, 0),
            },
            Value::Embedding(v) => {
                let values: Vec<ScalarValue> =
                    v.iter().map(|f| ScalarValue::Float32(Some(*f))).collect();
                let len = i32::try_from(v.len()).unwrap_or(i32::MAX);
                match ScalarValue::iter_to_array(values) {
                    Ok(arr) => {
                        let field = Arc::new(Field::new("item", DataType::Float32, true));
                        match datafusion::arrow::array::FixedSizeListArray::try_new(
                            field, len, arr, None,
                        ) {
                            Ok(list) => ScalarValue::FixedSizeList(Arc::new(list)),
                            Err(_) => ScalarValue::Null,
                        }
                    }
                    Err(_) => ScalarValue::Null,
                }
            }
        }
    }
}

/// The Arrow type a column of `ty` has in query plans (protocol 1.7).
pub(crate) fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Boolean => DataType::Boolean,
        SqlType::SmallInt => DataType::Int16,
        SqlType::Int => DataType::Int32,
        SqlType::BigInt => DataType::Int64,
        SqlType::Float => DataType::Float32,
        SqlType::Double => DataType::Float64,
        SqlType::Text | SqlType::Json | SqlType::File => DataType::Utf8,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time64(TimeUnit::Microsecond),
        SqlType::Bytes => DataType::Binary,
        SqlType::Uuid => DataType::FixedSizeBinary(16),
        SqlType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
        SqlType::Embedding(n) => DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, true)),
            i32::try_from(n).unwrap_or(i32::MAX),
        ),
    }
}

/// A primary-key value in a form that orders and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// Integers, temporal values, decimals, booleans.
    Int(i128),
    /// Floats, by their total-order bits.
    Float(i64),
    /// Text, JSON, FILE.
    Text(String),
    /// Bytes, UUIDs, embeddings.
    Bytes(Vec<u8>),
    /// Rows of tables without a primary key are keyed by their first `_seq`.
    Seq(i64),
}

impl Key {
    /// The key of a non-null value.
    pub(crate) fn of(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => Key::Int(i128::from(*b)),
            Value::SmallInt(x) => Key::Int(i128::from(*x)),
            Value::Int(x) => Key::Int(i128::from(*x)),
            Value::BigInt(x) | Value::Timestamp(x) | Value::DateTime(x) | Value::Time(x) => {
                Key::Int(i128::from(*x))
            }
            Value::Date(x) => Key::Int(i128::from(*x)),
            Value::Decimal(x) => Key::Int(*x),
            Value::Float(f) => Key::Float(total_bits(f64::from(*f))),
            Value::Double(f) => Key::Float(total_bits(*f)),
            Value::Text(s) | Value::Json(s) | Value::File(s) => Key::Text(s.clone()),
            Value::Bytes(b) => Key::Bytes(b.clone()),
            Value::Uuid(u) => Key::Bytes(u.to_be_bytes().to_vec()),
            Value::Embedding(v) => Key::Bytes(v.iter().flat_map(|f| f.to_be_bytes()).collect()),
        })
    }
}

fn total_bits(f: f64) -> i64 {
    let bits = f.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The text of a key value as the server prints it in messages (`value '1'`).
pub(crate) fn display_value(v: &Value, ty: SqlType) -> String {
    match v.to_json_cell(ty) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Converts any scalar (a literal, a parameter, an expression result) into a value of column
/// type `ty`, with the casts the server applies on INSERT/UPDATE (protocol 1.2).
pub(crate) fn coerce(s: &ScalarValue, ty: SqlType) -> Result<Value, String> {
    if s.is_null() {
        return Ok(Value::Null);
    }
    let text = match s {
        ScalarValue::Utf8(Some(t))
        | ScalarValue::LargeUtf8(Some(t))
        | ScalarValue::Utf8View(Some(t)) => Some(t.as_str()),
        _ => None,
    };
    match ty {
        SqlType::Text => Ok(Value::Text(match text {
            Some(t) => t.to_owned(),
            None => cast(s, &DataType::Utf8).and_then(|c| utf8(&c))?,
        })),
        SqlType::Json => match text {
            Some(t) => Ok(Value::Json(t.to_owned())),
            None => Ok(Value::Json(
                cast(s, &DataType::Utf8).and_then(|c| utf8(&c))?,
            )),
        },
        SqlType::File => match text {
            Some(t) => Ok(Value::File(t.to_owned())),
            None => Err(format!("Cannot convert {} to FILE", s.data_type())),
        },
        SqlType::Uuid => match (text, s) {
            (Some(t), _) => parse_uuid(t)
                .map(Value::Uuid)
                .ok_or_else(|| format!("Invalid UUID string: {t}")),
            (None, ScalarValue::FixedSizeBinary(16, Some(b))) => {
                let arr: [u8; 16] = b
                    .as_slice()
                    .try_into()
                    .map_err(|_| "Invalid UUID bytes".to_owned())?;
                Ok(Value::Uuid(u128::from_be_bytes(arr)))
            }
            _ => Err(format!("Cannot convert {} to UUID", s.data_type())),
        },
        SqlType::Bytes => match (text, s) {
            (Some(t), _) => Ok(Value::Bytes(t.as_bytes().to_vec())),
            (None, ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)))
            | (None, ScalarValue::FixedSizeBinary(_, Some(b)))
            | (None, ScalarValue::BinaryView(Some(b))) => Ok(Value::Bytes(b.clone())),
            _ => Err(format!("Cannot convert {} to BYTES", s.data_type())),
        },
        SqlType::Embedding(n) => {
            let floats: Vec<f32> = match text {
                Some(t) => {
                    let parsed: Vec<f64> = serde_json::from_str(t)
                        .map_err(|e| format!("Invalid EMBEDDING value '{t}': {e}"))?;
                    parsed.into_iter().map(|f| f as f32).collect()
                }
                None => list_floats(s)?,
            };
            if floats.len() != n as usize {
                return Err(format!(
                    "Embedding dimension mismatch: expected {n}, got {}",
                    floats.len()
                ));
            }
            Ok(Value::Embedding(floats))
        }
        _ => {
            let target = arrow_type(ty);
            let c = cast(s, &target)?;
            from_scalar(&c, ty)
        }
    }
}

fn list_floats(s: &ScalarValue) -> Result<Vec<f32>, String> {
    let arr = match s {
        ScalarValue::List(l) => l.value(0),
        ScalarValue::LargeList(l) => l.value(0),
        ScalarValue::FixedSizeList(l) => l.value(0),
        _ => return Err(format!("Cannot convert {} to EMBEDDING", s.data_type())),
    };
    let f =
        datafusion::arrow::compute::cast(&arr, &DataType::Float32).map_err(|e| e.to_string())?;
    let f = f
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Float32Array>()
        .ok_or_else(|| "Cannot convert list to EMBEDDING".to_owned())?;
    Ok(f.iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn cast(s: &ScalarValue, to: &DataType) -> Result<ScalarValue, String> {
    if &s.data_type() == to {
        return Ok(s.clone());
    }
    let r = s.cast_to(to).map_err(|e| e.strip_backtrace())?;
    if r.is_null() {
        return Err(format!("Cannot cast value {s} to {to}"));
    }
    Ok(r)
}

fn utf8(s: &ScalarValue) -> Result<String, String> {
    match s {
        ScalarValue::Utf8(Some(t)) => Ok(t.clone()),
        other => Ok(other.to_string()),
    }
}

/// Reads a value of column type `ty` out of a scalar that already has the column's Arrow type.
pub(crate) fn from_scalar(s: &ScalarValue, ty: SqlType) -> Result<Value, String> {
    if s.is_null() {
        return Ok(Value::Null);
    }
    let v = match (ty, s) {
        (SqlType::Boolean, ScalarValue::Boolean(Some(b))) => Value::Bool(*b),
        (SqlType::SmallInt, ScalarValue::Int16(Some(v))) => Value::SmallInt(*v),
        (SqlType::Int, ScalarValue::Int32(Some(v))) => Value::Int(*v),
        (SqlType::BigInt, ScalarValue::Int64(Some(v))) => Value::BigInt(*v),
        (SqlType::Float, ScalarValue::Float32(Some(v))) => Value::Float(*v),
        (SqlType::Double, ScalarValue::Float64(Some(v))) => Value::Double(*v),
        (SqlType::Timestamp, ScalarValue::TimestampMicrosecond(Some(v), _)) => Value::Timestamp(*v),
        (SqlType::DateTime, ScalarValue::TimestampMicrosecond(Some(v), _)) => Value::DateTime(*v),
        (SqlType::Date, ScalarValue::Date32(Some(v))) => Value::Date(*v),
        (SqlType::Time, ScalarValue::Time64Microsecond(Some(v))) => Value::Time(*v),
        (SqlType::Decimal { .. }, ScalarValue::Decimal128(Some(v), _, _)) => Value::Decimal(*v),
        (SqlType::Text, ScalarValue::Utf8(Some(t))) => Value::Text(t.clone()),
        (SqlType::Json, ScalarValue::Utf8(Some(t))) => Value::Json(t.clone()),
        (SqlType::File, ScalarValue::Utf8(Some(t))) => Value::File(t.clone()),
        (SqlType::Bytes, ScalarValue::Binary(Some(b))) => Value::Bytes(b.clone()),
        (SqlType::Uuid, ScalarValue::FixedSizeBinary(16, Some(b))) => {
            let arr: [u8; 16] = b.as_slice().try_into().map_err(|_| "bad uuid".to_owned())?;
            Value::Uuid(u128::from_be_bytes(arr))
        }
        (SqlType::Embedding(_), other) => Value::Embedding(list_floats(other)?),
        (ty, other) => return coerce(other, ty),
    };
    Ok(v)
}

/// Parses a hyphenated (or plain 32-hex-digit) UUID.
pub(crate) fn parse_uuid(t: &str) -> Option<u128> {
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let dashes: Vec<usize> = t.match_indices('-').map(|(i, _)| i).collect();
    if !dashes.is_empty() && dashes != [8, 13, 18, 23] {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// Canonical lower-case hyphenated UUID text.
pub(crate) fn format_uuid(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The zero value the 0.4.3 server fills into an omitted NOT NULL column without default
/// (protocol 7.3).
pub(crate) fn zero_value(ty: SqlType) -> Value {
    match ty {
        SqlType::Boolean => Value::Bool(false),
        SqlType::SmallInt => Value::SmallInt(0),
        SqlType::Int => Value::Int(0),
        SqlType::BigInt => Value::BigInt(0),
        SqlType::Float => Value::Float(0.0),
        SqlType::Double => Value::Double(0.0),
        SqlType::Text => Value::Text(String::new()),
        SqlType::Timestamp => Value::Timestamp(0),
        SqlType::DateTime => Value::DateTime(0),
        SqlType::Date => Value::Date(0),
        SqlType::Time => Value::Time(0),
        SqlType::Json => Value::Json(String::new()),
        SqlType::File => Value::File(String::new()),
        SqlType::Bytes => Value::Bytes(Vec::new()),
        SqlType::Uuid => Value::Uuid(0),
        SqlType::Decimal { .. } => Value::Decimal(0),
        SqlType::Embedding(n) => Value::Embedding(vec![0.0; n as usize]),
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Key::of(self).partial_cmp(&Key::of(other))
    }
}
