//! [`ToParam`]: Rust values → `$n` parameters (protocol 1.2).
//!
//! The server binds JSON scalars only (arrays and objects are refused), and casts strings on
//! INSERT into TIMESTAMP, DATE, TIME, UUID, JSON, BYTES and DECIMAL, so those types travel
//! as their canonical text.

use serde::Serialize;
use serde_json::{Number, Value};

use crate::types::{Date, DateTime, Decimal, FileRef, Json, JsonValue, Time, Timestamp, Uuid};

/// A bound parameter, as the official SDK names it.
///
/// ```
/// use kalam_client::QueryParam;
/// assert_eq!(QueryParam::from(42_i64).to_json(), serde_json::json!(42));
/// assert_eq!(QueryParam::from("hi").to_json(), serde_json::json!("hi"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueryParam {
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Finite float.
    Float(f64),
    /// Text (also the carrier of timestamps, UUIDs, decimals, JSON …).
    Text(String),
    /// A `FILE` reference; sent as a string holding its JSON.
    File(FileRef),
    /// Any JSON value, sent verbatim (the server refuses arrays and objects).
    Json(Value),
}

impl QueryParam {
    /// The JSON sent for this parameter.
    pub fn to_json(&self) -> Value {
        match self {
            QueryParam::Null => Value::Null,
            QueryParam::Bool(b) => Value::Bool(*b),
            QueryParam::Int(i) => Value::Number(Number::from(*i)),
            QueryParam::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            QueryParam::Text(s) => Value::String(s.clone()),
            QueryParam::File(f) => Value::String(f.to_json()),
            QueryParam::Json(v) => v.clone(),
        }
    }
}

/// Why a value cannot be sent as a parameter.
///
/// ```
/// use kalam_client::ToParam;
/// assert!(f64::NAN.to_param().is_err());
/// assert!(u64::MAX.to_param().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(String);

impl EncodeError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> EncodeError {
        EncodeError(message.into())
    }
}

/// A Rust value that can be bound to a `$n` placeholder.
///
/// ```
/// use kalam_client::{QueryParam, ToParam};
/// use kalam_client::types::Timestamp;
/// assert_eq!(Some(7_i32).to_param().unwrap(), QueryParam::Int(7));
/// assert_eq!(None::<i32>.to_param().unwrap(), QueryParam::Null);
/// assert_eq!(
///     Timestamp::from_micros(0).to_param().unwrap(),
///     QueryParam::Text("1970-01-01T00:00:00Z".into())
/// );
/// ```
pub trait ToParam {
    /// Encodes the value.
    fn to_param(&self) -> Result<QueryParam, EncodeError>;
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        (**self).to_param()
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        match self {
            Some(v) => v.to_param(),
            None => Ok(QueryParam::Null),
        }
    }
}

impl ToParam for QueryParam {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(self.clone())
    }
}

impl ToParam for bool {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(QueryParam::Bool(*self))
    }
}

macro_rules! int_to_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn to_param(&self) -> Result<QueryParam, EncodeError> {
                i64::try_from(*self)
                    .map(QueryParam::Int)
                    .map_err(|_| EncodeError::new(format!("{self} does not fit in BIGINT")))
            }
        }
    )*};
}
int_to_param!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);

impl ToParam for f64 {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        if self.is_finite() {
            Ok(QueryParam::Float(*self))
        } else {
            Err(EncodeError::new(format!(
                "{self} cannot be sent: KalamDB has no JSON form for NaN or infinity"
            )))
        }
    }
}

impl ToParam for f32 {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        f64::from(*self).to_param()
    }
}

impl ToParam for str {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(QueryParam::Text(self.to_owned()))
    }
}

impl ToParam for String {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(QueryParam::Text(self.clone()))
    }
}

/// BYTES parameters: the server stores the UTF-8 bytes of a string parameter, so only
/// UTF-8 byte strings can be sent exactly; others are refused rather than altered.
impl ToParam for [u8] {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        std::str::from_utf8(self)
            .map(|s| QueryParam::Text(s.to_owned()))
            .map_err(|_| {
                EncodeError::new(
                    "BYTES parameters must be valid UTF-8 (the server stores a string \
                     parameter's bytes); write other bytes with a literal",
                )
            })
    }
}

impl ToParam for Vec<u8> {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        self.as_slice().to_param()
    }
}

/// EMBEDDING parameters travel as the vector's JSON text (`"[0.25,-1.0]"`), since the
/// server refuses array parameters.
impl ToParam for [f32] {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        if let Some(bad) = self.iter().find(|v| !v.is_finite()) {
            return Err(EncodeError::new(format!(
                "embedding element {bad} cannot be sent"
            )));
        }
        serde_json::to_string(self)
            .map(QueryParam::Text)
            .map_err(|e| EncodeError::new(e.to_string()))
    }
}

impl ToParam for Vec<f32> {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        self.as_slice().to_param()
    }
}

macro_rules! text_to_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn to_param(&self) -> Result<QueryParam, EncodeError> {
                Ok(QueryParam::Text(self.to_string()))
            }
        }
    )*};
}
text_to_param!(Timestamp, DateTime, Date, Time, Uuid, Decimal);

impl ToParam for FileRef {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(QueryParam::File(self.clone()))
    }
}

/// JSON values are sent as JSON text (the JSON column's own wire form).
impl ToParam for JsonValue {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        Ok(QueryParam::Text(self.to_string()))
    }
}

impl<T: Serialize> ToParam for Json<T> {
    fn to_param(&self) -> Result<QueryParam, EncodeError> {
        serde_json::to_string(&self.0)
            .map(QueryParam::Text)
            .map_err(|e| EncodeError::new(format!("cannot serialize JSON parameter: {e}")))
    }
}

macro_rules! from_for_param {
    ($($t:ty),*) => {$(
        /// Infallible conversions, as in the official SDK.
        impl From<$t> for QueryParam {
            fn from(v: $t) -> QueryParam {
                match v.to_param() {
                    Ok(p) => p,
                    Err(_) => QueryParam::Null,
                }
            }
        }
    )*};
}
from_for_param!(bool, i8, i16, i32, i64, u8, u16, u32, String, &str, FileRef);

impl From<f64> for QueryParam {
    /// NaN and infinity become NULL, as in the official SDK.
    fn from(v: f64) -> QueryParam {
        if v.is_finite() {
            QueryParam::Float(v)
        } else {
            QueryParam::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_wire_form() {
        let cases: Vec<(Box<dyn ToParam>, Value)> = vec![
            (Box::new(true), Value::Bool(true)),
            (Box::new(-5_i16), serde_json::json!(-5)),
            (
                Box::new(9_007_199_254_740_993_i64),
                serde_json::json!(9_007_199_254_740_993_i64),
            ),
            (Box::new(2.5_f64), serde_json::json!(2.5)),
            (Box::new(0.1_f32), serde_json::json!(0.10000000149011612)),
            (Box::new("hi".to_owned()), serde_json::json!("hi")),
            (
                Box::new(Timestamp::from_micros(1_748_736_005_123_456)),
                serde_json::json!("2025-06-01T00:00:05.123456Z"),
            ),
            (
                Box::new(Date::from_days(20240)),
                serde_json::json!("2025-06-01"),
            ),
            (
                Box::new(Time::from_micros(45_296_000_001).unwrap()),
                serde_json::json!("12:34:56.000001"),
            ),
            (
                Box::new("12.50".parse::<Decimal>().unwrap()),
                serde_json::json!("12.50"),
            ),
            (
                Box::new(serde_json::json!({"a": 1})),
                serde_json::json!("{\"a\":1}"),
            ),
            (Box::new(b"hi".to_vec()), serde_json::json!("hi")),
            (
                Box::new(vec![0.25_f32, -1.0]),
                serde_json::json!("[0.25,-1.0]"),
            ),
            (Box::new(None::<i32>), Value::Null),
        ];
        for (value, json) in cases {
            assert_eq!(value.to_param().unwrap().to_json(), json);
        }
    }

    #[test]
    fn unsendable_values_are_refused() {
        assert!(f64::INFINITY.to_param().is_err());
        assert!(u64::MAX.to_param().is_err());
        assert!(vec![0xff_u8, 0xfe].to_param().is_err());
        assert!(vec![f32::NAN].to_param().is_err());
    }

    #[test]
    fn file_refs_are_json_strings() {
        let f = FileRef {
            id: "1".into(),
            sub: "f0001".into(),
            name: "a".into(),
            size: 1,
            mime: "text/plain".into(),
            sha256: "00".into(),
            shard: None,
        };
        let json = f.to_param().unwrap().to_json();
        let text = json.as_str().unwrap();
        assert_eq!(FileRef::from_json(text).unwrap(), f);
    }
}
