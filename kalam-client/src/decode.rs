//! [`FromCell`]: one JSON cell → one Rust value, straight from the response text.
//!
//! Every wire encoding of protocol 1.8 is accepted, leniently where the SDK is lenient:
//! 64-bit integers and timestamps as string or number, JSON and FILE as string or object,
//! BYTES as an array of numbers (or base64 text).

use std::borrow::Cow;

use base64::Engine as _;
use kalam_schema::SqlType;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::types::{Date, DateTime, Decimal, FileRef, Json, JsonValue, Time, Timestamp, Uuid};

/// One cell of a result row: its raw JSON text plus the column it belongs to.
///
/// Hand-written [`FromCell`] impls use its accessors, which already handle every encoding
/// the server uses.
///
/// ```
/// use kalam_client::decode::Cell;
/// let cell = Cell::new(r#""9007199254740993""#, "id", None);
/// assert_eq!(cell.to_i64().unwrap(), 9_007_199_254_740_993);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    raw: &'a str,
    column: &'a str,
    data_type: Option<SqlType>,
}

/// A short, safe description of a raw cell for error messages.
fn describe(raw: &str) -> String {
    if raw == "null" {
        return "NULL".to_owned();
    }
    let mut out: String = raw.chars().take(48).collect();
    if raw.chars().nth(48).is_some() {
        out.push('…');
    }
    out
}

impl<'a> Cell<'a> {
    /// A cell from its raw JSON text, column name and reported type.
    #[inline]
    pub fn new(raw: &'a str, column: &'a str, data_type: Option<SqlType>) -> Cell<'a> {
        Cell {
            raw,
            column,
            data_type,
        }
    }

    /// The cell's JSON text, exactly as sent.
    pub fn raw_json(&self) -> &'a str {
        self.raw
    }

    /// The column name.
    pub fn column(&self) -> &'a str {
        self.column
    }

    /// The type the server reported for the column, if any.
    pub fn data_type(&self) -> Option<SqlType> {
        self.data_type
    }

    /// True for a JSON `null`.
    #[inline]
    pub fn is_null(&self) -> bool {
        self.raw == "null"
    }

    /// A [`Error::Decode`] for this cell.
    pub fn error(&self, expected: impl Into<String>) -> Error {
        Error::decode(self.column, expected, describe(self.raw))
    }

    #[inline]
    fn is_string(&self) -> bool {
        self.raw.starts_with('"')
    }

    /// The text of a string cell (borrowed when it has no escapes).
    #[inline]
    pub fn to_str(self, expected: &str) -> Result<Cow<'a, str>> {
        let raw = self.raw;
        if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
            let inner = &raw[1..raw.len() - 1];
            if !inner.contains('\\') {
                return Ok(Cow::Borrowed(inner));
            }
            return serde_json::from_str::<String>(raw)
                .map(Cow::Owned)
                .map_err(|_| self.error(expected));
        }
        Err(self.error(expected))
    }

    /// The text of a string cell, or the raw JSON of any other non-null cell.
    #[inline]
    fn text_or_raw(&self, expected: &str) -> Result<Cow<'a, str>> {
        if self.is_null() {
            return Err(self.error(expected));
        }
        if self.is_string() {
            self.to_str(expected)
        } else {
            Ok(Cow::Borrowed(self.raw))
        }
    }

    /// The text of a number cell, or of a string cell without escapes (BIGINT strings).
    #[inline]
    fn number_bytes(self) -> Option<&'a [u8]> {
        let raw = self.raw.as_bytes();
        match raw {
            [b'"', inner @ .., b'"'] => Some(inner),
            [b'-' | b'0'..=b'9', ..] => Some(raw),
            _ => None,
        }
    }

    /// An integer from a number or a numeric string, range-checked for `i64`.
    #[inline]
    pub fn to_i64(self) -> Result<i64> {
        self.number_bytes()
            .and_then(parse_i64)
            .ok_or_else(|| self.error("i64"))
    }

    fn to_u64(self) -> Result<u64> {
        self.number_bytes()
            .and_then(parse_u64)
            .ok_or_else(|| self.error("u64"))
    }

    /// A float from a number or a numeric string.
    #[inline]
    pub fn to_f64(self) -> Result<f64> {
        let text = self.text_or_raw("f64")?;
        parse_float::<f64>(&text).ok_or_else(|| self.error("f64"))
    }

    fn to_f32(self) -> Result<f32> {
        let text = self.text_or_raw("f32")?;
        parse_float::<f32>(&text).ok_or_else(|| self.error("f32"))
    }

    /// A `true`/`false` cell.
    #[inline]
    pub fn to_bool(self) -> Result<bool> {
        match self.raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.error("bool")),
        }
    }

    /// Deserializes the cell's JSON with serde (the cell itself, not text inside it).
    pub fn deserialize<T: DeserializeOwned>(&self, expected: &str) -> Result<T> {
        serde_json::from_str(self.raw).map_err(|_| self.error(expected))
    }

    /// Deserializes JSON carried as text in a string cell (JSON and FILE columns), or the
    /// cell's JSON itself when the server sent an object or array.
    pub fn deserialize_json_text<T: DeserializeOwned>(&self, expected: &str) -> Result<T> {
        if self.is_string() {
            let text = self.to_str(expected)?;
            serde_json::from_str(&text).map_err(|e| {
                Error::decode(
                    self.column,
                    expected,
                    format!("{} ({e})", describe(self.raw)),
                )
            })
        } else if self.is_null() {
            Err(self.error(expected))
        } else {
            self.deserialize(expected)
        }
    }
}

/// `-?[0-9]+` and nothing else, with overflow checks (no `as` casts, no floats).
#[inline]
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    if digits.len() <= 18 {
        // Up to 18 digits cannot overflow an i64: no per-digit checks needed.
        let mut acc: i64 = 0;
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            acc = acc * 10 + i64::from(d);
        }
        return Some(if neg { -acc } else { acc });
    }
    let mut acc: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc.checked_mul(10)?;
        acc = if neg {
            acc.checked_sub(i64::from(d))?
        } else {
            acc.checked_add(i64::from(d))?
        };
    }
    Some(acc)
}

/// `[0-9]+` with overflow checks.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut acc: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(acc)
}

/// Accepts finite numbers only; JSON never carries NaN or infinity.
fn parse_float<F: std::str::FromStr + Copy>(text: &str) -> Option<F> {
    let t = text.strip_prefix('-').unwrap_or(text);
    let first = t.bytes().next()?;
    if !first.is_ascii_digit() {
        return None;
    }
    text.parse().ok()
}

/// A Rust type that one result cell decodes into.
///
/// Implemented for the std types of the type table (`bool`, integers, floats, `String`,
/// `Vec<u8>`, `Vec<f32>`), for every type of [`crate::types`], for `Option<T>` (NULL → `None`)
/// and, behind features, for chrono, time, uuid and rust_decimal types.
///
/// ```
/// use kalam_client::{FromCell, decode::Cell};
/// use kalam_client::types::{Decimal, Timestamp};
/// let price = Decimal::from_cell(&Cell::new(r#""3.50""#, "price", None)).unwrap();
/// assert_eq!(price.to_string(), "3.50");
/// let due = Option::<Timestamp>::from_cell(&Cell::new("null", "due_at", None)).unwrap();
/// assert_eq!(due, None);
/// assert!(i16::from_cell(&Cell::new("70000", "qty", None)).is_err());
/// ```
pub trait FromCell: Sized {
    /// What this type expects, for error messages (`"i64"`, `"Timestamp"`).
    const EXPECTED: &'static str;

    /// Whether a column reported with this type can hold values of `Self`. Used for the
    /// schema check before any row is decoded; lenient on purpose, since the server's
    /// metadata is a hint (protocol 1.7).
    fn accepts(data_type: SqlType) -> bool {
        let _ = data_type;
        true
    }

    /// Decodes one cell. A NULL into a non-`Option` type is an [`Error::Decode`].
    fn from_cell(cell: &Cell<'_>) -> Result<Self>;
}

fn is_integer(t: SqlType) -> bool {
    matches!(t, SqlType::SmallInt | SqlType::Int | SqlType::BigInt)
}

fn is_numeric(t: SqlType) -> bool {
    is_integer(t)
        || matches!(
            t,
            SqlType::Float | SqlType::Double | SqlType::Decimal { .. }
        )
}

fn is_temporal(t: SqlType) -> bool {
    matches!(
        t,
        SqlType::Timestamp | SqlType::DateTime | SqlType::Date | SqlType::Time
    )
}

impl<T: FromCell> FromCell for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn accepts(data_type: SqlType) -> bool {
        T::accepts(data_type)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        if cell.is_null() {
            Ok(None)
        } else {
            T::from_cell(cell).map(Some)
        }
    }
}

impl FromCell for bool {
    const EXPECTED: &'static str = "bool";
    fn accepts(t: SqlType) -> bool {
        matches!(t, SqlType::Boolean | SqlType::Text)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        cell.to_bool()
    }
}

macro_rules! int_from_cell {
    ($($t:ty => $via:ident),*) => {$(
        impl FromCell for $t {
            const EXPECTED: &'static str = stringify!($t);
            fn accepts(t: SqlType) -> bool {
                is_integer(t) || t == SqlType::Text
            }
            #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
                let wide = cell.$via().map_err(|_| cell.error(Self::EXPECTED))?;
                <$t>::try_from(wide).map_err(|_| cell.error(Self::EXPECTED))
            }
        }
    )*};
}
int_from_cell!(i8 => to_i64, i16 => to_i64, i32 => to_i64, i64 => to_i64,
    u8 => to_u64, u16 => to_u64, u32 => to_u64, u64 => to_u64);

macro_rules! float_from_cell {
    ($($t:ty => $via:ident),*) => {$(
        impl FromCell for $t {
            const EXPECTED: &'static str = stringify!($t);
            fn accepts(t: SqlType) -> bool {
                is_numeric(t) || t == SqlType::Text
            }
            #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
                cell.$via()
            }
        }
    )*};
}
float_from_cell!(f64 => to_f64, f32 => to_f32);

impl FromCell for String {
    const EXPECTED: &'static str = "String";
    fn accepts(t: SqlType) -> bool {
        !matches!(t, SqlType::Bytes | SqlType::Embedding(_))
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        cell.text_or_raw(Self::EXPECTED).map(Cow::into_owned)
    }
}

impl FromCell for Vec<u8> {
    const EXPECTED: &'static str = "Vec<u8>";
    fn accepts(t: SqlType) -> bool {
        matches!(t, SqlType::Bytes | SqlType::Text)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        if cell.is_string() {
            // The SDK's `as_bytes` reads base64; KalamDB itself sends arrays.
            let text = cell.to_str(Self::EXPECTED)?;
            return base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|_| cell.error(Self::EXPECTED));
        }
        cell.deserialize(Self::EXPECTED)
    }
}

macro_rules! vector_from_cell {
    ($($t:ty),*) => {$(
        impl FromCell for Vec<$t> {
            const EXPECTED: &'static str = concat!("Vec<", stringify!($t), ">");
            fn accepts(t: SqlType) -> bool {
                matches!(t, SqlType::Embedding(_) | SqlType::Text)
            }
            #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
                cell.deserialize_json_text(Self::EXPECTED)
            }
        }
    )*};
}
vector_from_cell!(f32, f64);

/// A string cell parsed with `FromStr`, or an integer cell converted by `from_int`.
fn text_or_int<T: std::str::FromStr>(
    cell: &Cell<'_>,
    expected: &str,
    from_int: impl FnOnce(i64) -> Option<T>,
) -> Result<T> {
    if cell.is_string() {
        let text = cell.to_str(expected)?;
        return text.parse().map_err(|_| cell.error(expected));
    }
    let n = cell.to_i64().map_err(|_| cell.error(expected))?;
    from_int(n).ok_or_else(|| cell.error(expected))
}

macro_rules! temporal_from_cell {
    ($($t:ident => $from_int:expr),*) => {$(
        impl FromCell for $t {
            const EXPECTED: &'static str = stringify!($t);
            fn accepts(t: SqlType) -> bool {
                is_temporal(t) || is_integer(t) || t == SqlType::Text
            }
            #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
                text_or_int(cell, Self::EXPECTED, $from_int)
            }
        }
    )*};
}
temporal_from_cell!(
    Timestamp => |n| Some(Timestamp::from_micros(n)),
    DateTime => |n| Some(DateTime::from_micros(n)),
    Date => |n| i32::try_from(n).ok().map(Date::from_days),
    Time => Time::from_micros
);

impl FromCell for Uuid {
    const EXPECTED: &'static str = "Uuid";
    fn accepts(t: SqlType) -> bool {
        matches!(t, SqlType::Uuid | SqlType::Text | SqlType::Bytes)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        if cell.is_string() {
            return cell
                .to_str(Self::EXPECTED)?
                .parse()
                .map_err(|_| cell.error(Self::EXPECTED));
        }
        let bytes: Vec<u8> = cell.deserialize(Self::EXPECTED)?;
        <[u8; 16]>::try_from(bytes)
            .map(Uuid::from_bytes)
            .map_err(|_| cell.error(Self::EXPECTED))
    }
}

impl FromCell for Decimal {
    const EXPECTED: &'static str = "Decimal";
    fn accepts(t: SqlType) -> bool {
        is_numeric(t) || t == SqlType::Text
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        let text = cell.text_or_raw(Self::EXPECTED)?;
        text.parse().map_err(|_| cell.error(Self::EXPECTED))
    }
}

/// JSON columns arrive as a string holding JSON text; that text is parsed. Objects and
/// arrays (sent by some statements) are taken as they are. A NULL cell is an error (use
/// `Option<JsonValue>`), so that SQL NULL and JSON `null` stay apart.
impl FromCell for JsonValue {
    const EXPECTED: &'static str = "JsonValue";
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        cell.deserialize_json_text(Self::EXPECTED)
    }
}

impl<T: DeserializeOwned> FromCell for Json<T> {
    const EXPECTED: &'static str = "Json<T>";
    fn accepts(t: SqlType) -> bool {
        matches!(t, SqlType::Json | SqlType::Text | SqlType::File)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        cell.deserialize_json_text(Self::EXPECTED).map(Json)
    }
}

impl FromCell for FileRef {
    const EXPECTED: &'static str = "FileRef";
    fn accepts(t: SqlType) -> bool {
        matches!(t, SqlType::File | SqlType::Text | SqlType::Json)
    }
    #[inline]
    fn from_cell(cell: &Cell<'_>) -> Result<Self> {
        cell.deserialize_json_text(Self::EXPECTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(raw: &str) -> Cell<'_> {
        Cell::new(raw, "c", None)
    }

    fn decode<T: FromCell>(raw: &str) -> Result<T> {
        T::from_cell(&cell(raw))
    }

    #[test]
    fn bigint_as_string_or_number_with_range_checks() {
        assert_eq!(
            decode::<i64>(r#""9007199254740993""#).unwrap(),
            9_007_199_254_740_993
        );
        assert_eq!(decode::<i64>(r#""-5""#).unwrap(), -5);
        assert_eq!(decode::<i64>("42").unwrap(), 42);
        assert_eq!(decode::<i64>(r#""9223372036854775807""#).unwrap(), i64::MAX);
        assert!(decode::<i64>(r#""9223372036854775808""#).is_err());
        assert!(decode::<i64>("1.5").is_err());
        assert!(decode::<i64>("1e3").is_err());
        assert!(decode::<i64>(r#""""#).is_err());
        assert_eq!(
            decode::<u64>(r#""18446744073709551615""#).unwrap(),
            u64::MAX
        );
        assert!(decode::<u32>("-1").is_err());
        assert_eq!(decode::<i16>("-32768").unwrap(), i16::MIN);
        assert!(decode::<i16>("32768").is_err());
        assert!(decode::<i32>(r#""2147483648""#).is_err());
    }

    #[test]
    fn null_into_non_option_names_the_column() {
        let err = i64::from_cell(&Cell::new("null", "qty", None)).unwrap_err();
        match err {
            Error::Decode { column, found, .. } => {
                assert_eq!(column, "qty");
                assert_eq!(found, "NULL");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(decode::<Option<i64>>("null").unwrap(), None);
        assert_eq!(decode::<Option<i64>>(r#""7""#).unwrap(), Some(7));
    }

    #[test]
    fn floats() {
        assert_eq!(decode::<f64>("2.5").unwrap(), 2.5);
        assert_eq!(decode::<f32>("0.10000000149011612").unwrap(), 0.1f32);
        assert_eq!(decode::<f64>(r#""3.50""#).unwrap(), 3.5);
        assert!(decode::<f64>(r#""NaN""#).is_err());
        assert!(decode::<f64>(r#""inf""#).is_err());
        assert!(decode::<f64>("true").is_err());
    }

    #[test]
    fn strings_borrow_or_unescape() {
        assert_eq!(decode::<String>(r#""Buy milk""#).unwrap(), "Buy milk");
        assert_eq!(decode::<String>(r#""a\"b\u00e9""#).unwrap(), "a\"bé");
        assert_eq!(
            decode::<String>(r#""9007199254740993""#).unwrap(),
            "9007199254740993"
        );
        assert!(decode::<String>("null").is_err());
    }

    #[test]
    fn temporal_encodings() {
        assert_eq!(
            decode::<Timestamp>("1748822400000000").unwrap().as_micros(),
            1_748_822_400_000_000
        );
        assert_eq!(
            decode::<Timestamp>(r#""1748822400000000""#)
                .unwrap()
                .as_micros(),
            1_748_822_400_000_000
        );
        assert_eq!(
            decode::<DateTime>(r#""2025-06-02T00:00:00Z""#)
                .unwrap()
                .as_micros(),
            1_748_822_400_000_000
        );
        assert_eq!(decode::<Date>("20240").unwrap().to_string(), "2025-06-01");
        assert_eq!(
            decode::<Time>("45296000000").unwrap().to_string(),
            "12:34:56"
        );
        assert!(decode::<Time>("86400000000").is_err());
        assert!(decode::<Date>("99999999999").is_err());
    }

    #[test]
    fn uuid_decimal_json_bytes_embedding_file() {
        let u = decode::<Uuid>(r#""0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11""#).unwrap();
        assert_eq!(u.to_string(), "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11");
        assert_eq!(
            decode::<Decimal>(r#""12.50""#).unwrap().to_string(),
            "12.50"
        );
        assert_eq!(decode::<Decimal>("7.25").unwrap().to_string(), "7.25");
        assert_eq!(decode::<Decimal>(r#""-3""#).unwrap().mantissa(), -3);
        let j = decode::<JsonValue>(r#""{\"a\":1}""#).unwrap();
        assert_eq!(j["a"], 1);
        let j = decode::<JsonValue>(r#"{"a":1}"#).unwrap();
        assert_eq!(j["a"], 1);
        #[derive(serde::Deserialize)]
        struct A {
            a: i32,
        }
        assert_eq!(decode::<Json<A>>(r#""{\"a\":2}""#).unwrap().a, 2);
        assert!(decode::<Json<A>>(r#""{\"b\":2}""#).is_err());
        assert_eq!(decode::<Vec<u8>>("[104, 105]").unwrap(), b"hi");
        assert_eq!(decode::<Vec<u8>>(r#""aGk=""#).unwrap(), b"hi");
        assert!(decode::<Vec<u8>>("[256]").is_err());
        assert_eq!(
            decode::<Vec<f32>>("[0.25, -1.0, 0.10000000149011612]").unwrap(),
            vec![0.25, -1.0, 0.1]
        );
        let f = decode::<FileRef>(
            r#""{\"id\":\"1\",\"sub\":\"f0001\",\"name\":\"C.pdf\",\"size\":13,\"mime\":\"application/pdf\",\"sha256\":\"ab\"}""#,
        )
        .unwrap();
        assert_eq!((f.name.as_str(), f.size), ("C.pdf", 13));
    }

    #[test]
    fn accepts_is_lenient_but_not_blind() {
        assert!(i64::accepts(SqlType::Int)); // aliased CAST(qty AS BIGINT) reported Int
        assert!(String::accepts(SqlType::BigInt)); // CAST(id AS TEXT) reported BigInt
        assert!(i64::accepts(SqlType::Text)); // unknown result types are reported Text
        assert!(!i64::accepts(SqlType::Boolean));
        assert!(!bool::accepts(SqlType::Timestamp));
        assert!(!Uuid::accepts(SqlType::Double));
        assert!(!Vec::<f32>::accepts(SqlType::Int));
    }
}
