//! Rust types for the KalamDB column types that have no exact std equivalent.
//!
//! These are the types `kalam_schema::SqlType::rust_type` names; all are lossless for what the
//! server sends (protocol 1.8):
//!
//! | KalamDB | Rust |
//! |---|---|
//! | `TIMESTAMP` | [`Timestamp`] (µs since the Unix epoch) |
//! | `DATETIME` | [`DateTime`] (µs since the Unix epoch, UTC) |
//! | `DATE` | [`Date`] (days since the Unix epoch) |
//! | `TIME` | [`Time`] (µs since midnight) |
//! | `UUID` | [`Uuid`] (16 bytes) |
//! | `DECIMAL(p, s)` | [`Decimal`] (exact mantissa and scale) |
//! | `JSON` | [`JsonValue`], or [`Json<T>`] for any `Deserialize` type |
//! | `FILE` | [`FileRef`] |

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use kalam_schema::datum::{
    days_from_civil, days_in_month, parse_date, parse_datetime, parse_decimal, parse_time,
    parse_uuid,
};
use serde::{Deserialize, Serialize};

/// A `JSON` column's value.
pub type JsonValue = serde_json::Value;

/// Why a text could not be parsed into one of the types of this module.
///
/// ```
/// use kalam_client::types::Date;
/// let err = "2025-13-01".parse::<Date>().unwrap_err();
/// assert!(err.to_string().contains("2025-13-01"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: `{input}`")]
pub struct ParseError {
    kind: &'static str,
    input: String,
}

impl ParseError {
    fn new(kind: &'static str, input: &str) -> ParseError {
        let mut input = input.to_owned();
        if input.len() > 64 {
            let mut end = 64;
            while !input.is_char_boundary(end) {
                end -= 1;
            }
            input.truncate(end);
            input.push('…');
        }
        ParseError { kind, input }
    }
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn write_date(f: &mut fmt::Formatter<'_>, days: i64) -> fmt::Result {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        write!(f, "{y:04}-{m:02}-{d:02}")
    } else {
        write!(f, "{y:+05}-{m:02}-{d:02}")
    }
}

fn write_time(f: &mut fmt::Formatter<'_>, micros: i64) -> fmt::Result {
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let frac = micros.rem_euclid(MICROS_PER_SEC);
    write!(
        f,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )?;
    if frac != 0 {
        write!(f, ".{frac:06}")?;
    }
    Ok(())
}

/// `Debug` as the readable `Display` form (`2025-06-01T00:00:05Z`, not the wire integer), as
/// chrono, uuid and rust_decimal print theirs: a `{:?}` of a row should read like the data.
macro_rules! readable_debug {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

macro_rules! instant_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        readable_debug!($name);

        impl $name {
            /// The Unix epoch.
            pub const UNIX_EPOCH: $name = $name(0);

            /// From microseconds since the Unix epoch (the wire value).
            pub const fn from_micros(micros: i64) -> $name {
                $name(micros)
            }

            /// Microseconds since the Unix epoch.
            pub const fn as_micros(self) -> i64 {
                self.0
            }

            /// From milliseconds since the epoch; `None` on overflow.
            pub fn from_millis(millis: i64) -> Option<$name> {
                millis.checked_mul(1000).map($name)
            }

            /// Milliseconds since the epoch (rounded toward negative infinity).
            pub fn as_millis(self) -> i64 {
                self.0.div_euclid(1000)
            }

            /// From whole seconds since the epoch; `None` on overflow.
            pub fn from_secs(secs: i64) -> Option<$name> {
                secs.checked_mul(MICROS_PER_SEC).map($name)
            }

            /// Whole seconds since the epoch (rounded toward negative infinity).
            pub fn as_secs(self) -> i64 {
                self.0.div_euclid(MICROS_PER_SEC)
            }

            /// The microseconds past the whole second, `0..1_000_000`.
            pub fn subsec_micros(self) -> u32 {
                u32::try_from(self.0.rem_euclid(MICROS_PER_SEC)).unwrap_or(0)
            }

            /// The calendar date (UTC).
            pub fn date(self) -> Date {
                let days = self.0.div_euclid(MICROS_PER_DAY);
                Date(i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX }))
            }

            /// The time of day (UTC).
            pub fn time(self) -> Time {
                Time(self.0.rem_euclid(MICROS_PER_DAY))
            }

            /// Combines a date and a time of day (UTC); `None` on overflow.
            pub fn from_date_time(date: Date, time: Time) -> Option<$name> {
                i64::from(date.0)
                    .checked_mul(MICROS_PER_DAY)?
                    .checked_add(time.0)
                    .map($name)
            }

            /// The current time; `None` if the clock is outside the representable range.
            pub fn now() -> Option<$name> {
                Self::from_system_time(crate::transport::system_now())
            }

            /// From a [`SystemTime`](std::time::SystemTime); `None` outside ±292 000 years.
            pub fn from_system_time(t: std::time::SystemTime) -> Option<$name> {
                match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_micros()).ok().map($name),
                    Err(e) => i64::try_from(e.duration().as_micros()).ok().map(|m| $name(-m)),
                }
            }

            /// As a [`SystemTime`](std::time::SystemTime).
            pub fn to_system_time(self) -> std::time::SystemTime {
                let d = std::time::Duration::from_micros(self.0.unsigned_abs());
                if self.0 >= 0 {
                    std::time::UNIX_EPOCH + d
                } else {
                    std::time::UNIX_EPOCH - d
                }
            }
        }

        /// RFC 3339 in UTC with up to six fraction digits: `2025-06-01T00:00:05.123456Z`.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_date(f, self.0.div_euclid(MICROS_PER_DAY))?;
                f.write_str("T")?;
                write_time(f, self.0.rem_euclid(MICROS_PER_DAY))?;
                f.write_str("Z")
            }
        }

        /// Parses RFC 3339 (`2025-06-01T00:00:05.123456Z`, `…+02:00`, `2025-06-01 00:00:05`,
        /// no offset = UTC), a date alone (midnight UTC), or an integer of microseconds.
        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<$name, ParseError> {
                if let Ok(micros) = s.parse::<i64>() {
                    return Ok($name(micros));
                }
                parse_datetime(s).map($name).ok_or_else(|| ParseError::new($kind, s))
            }
        }
    };
}

instant_type! {
    /// A `TIMESTAMP` value: microseconds since the Unix epoch, no time zone.
    ///
    /// ```
    /// use kalam_client::types::Timestamp;
    /// let t: Timestamp = "2025-06-02T00:00:00Z".parse().unwrap();
    /// assert_eq!(t.as_micros(), 1_748_822_400_000_000);
    /// assert_eq!(Timestamp::from_micros(1_748_736_005_123_456).to_string(), "2025-06-01T00:00:05.123456Z");
    /// ```
    Timestamp, "timestamp"
}

instant_type! {
    /// A `DATETIME` value: microseconds since the Unix epoch, in UTC.
    ///
    /// ```
    /// use kalam_client::types::DateTime;
    /// let t: DateTime = "2025-06-01T02:00:00+02:00".parse().unwrap();
    /// assert_eq!(t.to_string(), "2025-06-01T00:00:00Z");
    /// ```
    DateTime, "datetime"
}

impl From<Timestamp> for DateTime {
    fn from(t: Timestamp) -> DateTime {
        DateTime(t.0)
    }
}

impl From<DateTime> for Timestamp {
    fn from(t: DateTime) -> Timestamp {
        Timestamp(t.0)
    }
}

/// A `DATE` value: days since 1970-01-01.
///
/// ```
/// use kalam_client::types::Date;
/// let d = Date::from_ymd(2025, 6, 1).unwrap();
/// assert_eq!(d.as_days(), 20240);
/// assert_eq!(d.to_string(), "2025-06-01");
/// assert_eq!("2025-06-01".parse::<Date>().unwrap(), d);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date(i32);

readable_debug!(Date);

impl Date {
    /// From days since the epoch (the wire value).
    pub const fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// Days since the epoch.
    pub const fn as_days(self) -> i32 {
        self.0
    }

    /// From a calendar date; `None` if it does not exist or is out of range.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
            return None;
        }
        i32::try_from(days_from_civil(i64::from(year), month, day))
            .ok()
            .map(Date)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        // |days| ≤ i32::MAX keeps the year far inside i32.
        (i32::try_from(y).unwrap_or(i32::MAX), m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_date(f, i64::from(self.0))
    }
}

/// Parses `YYYY-MM-DD` or an integer number of days.
impl FromStr for Date {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Date, ParseError> {
        if let Ok(days) = s.parse::<i32>() {
            return Ok(Date(days));
        }
        parse_date(s.trim())
            .and_then(|d| i32::try_from(d).ok())
            .map(Date)
            .ok_or_else(|| ParseError::new("date", s))
    }
}

/// A `TIME` value: microseconds since midnight, `0..86_400_000_000`.
///
/// ```
/// use kalam_client::types::Time;
/// let t = Time::from_hms_micro(12, 34, 56, 0).unwrap();
/// assert_eq!(t.as_micros(), 45_296_000_000);
/// assert_eq!(t.to_string(), "12:34:56");
/// assert_eq!("12:34:56.5".parse::<Time>().unwrap().as_micros(), 45_296_500_000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(i64);

readable_debug!(Time);

impl Time {
    /// Midnight.
    pub const MIDNIGHT: Time = Time(0);

    /// From microseconds since midnight; `None` outside one day.
    pub fn from_micros(micros: i64) -> Option<Time> {
        (0..MICROS_PER_DAY)
            .contains(&micros)
            .then_some(Time(micros))
    }

    /// Microseconds since midnight.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// From hours, minutes, seconds and microseconds; `None` when out of range.
    pub fn from_hms_micro(hour: u32, minute: u32, second: u32, micro: u32) -> Option<Time> {
        if hour > 23 || minute > 59 || second > 59 || micro > 999_999 {
            return None;
        }
        Some(Time(
            (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * MICROS_PER_SEC
                + i64::from(micro),
        ))
    }

    /// `(hour, minute, second, microsecond)`.
    pub fn hms_micro(self) -> (u32, u32, u32, u32) {
        let secs = self.0.div_euclid(MICROS_PER_SEC);
        let part = |v: i64| u32::try_from(v).unwrap_or(0);
        (
            part(secs / 3600),
            part((secs / 60) % 60),
            part(secs % 60),
            part(self.0.rem_euclid(MICROS_PER_SEC)),
        )
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.0)
    }
}

/// Parses `HH:MM:SS[.ffffff]` or an integer number of microseconds.
impl FromStr for Time {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Time, ParseError> {
        if let Ok(micros) = s.parse::<i64>() {
            return Time::from_micros(micros).ok_or_else(|| ParseError::new("time", s));
        }
        parse_time(s.trim())
            .map(Time)
            .ok_or_else(|| ParseError::new("time", s))
    }
}

/// A `UUID` value: 16 bytes, shown as canonical lower-case hyphenated text.
///
/// ```
/// use kalam_client::types::Uuid;
/// let id: Uuid = "0190F1E2-7C3A-7D4E-9B1A-2F6C8D0E4A11".parse().unwrap();
/// assert_eq!(id.to_string(), "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11");
/// assert_eq!(id.as_bytes()[0], 0x01);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid([u8; 16]);

readable_debug!(Uuid);

impl Uuid {
    /// The all-zero UUID.
    pub const NIL: Uuid = Uuid([0; 16]);

    /// From its 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Uuid {
        Uuid(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A random (version 4) UUID.
    pub fn new_v4() -> Uuid {
        let mut bytes: [u8; 16] = rand::random();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Parses hyphenated (`8-4-4-4-12`) or simple (32 hex digits) text, any case, optionally in
/// braces or with a `urn:uuid:` prefix.
impl FromStr for Uuid {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Uuid, ParseError> {
        parse_uuid(s)
            .map(Uuid)
            .ok_or_else(|| ParseError::new("uuid", s))
    }
}

/// A `DECIMAL(p, s)` value kept exactly: an integer mantissa and a scale
/// (`value = mantissa / 10^scale`). Up to 38 digits, as the server allows.
///
/// Equality compares the representation: `3.50` (scale 2) and `3.5` (scale 1) differ; use
/// [`Decimal::normalized`] to compare values.
///
/// ```
/// use kalam_client::types::Decimal;
/// let d: Decimal = "-12.35".parse().unwrap();
/// assert_eq!((d.mantissa(), d.scale()), (-1235, 2));
/// assert_eq!(d.to_string(), "-12.35");
/// assert_eq!("3.50".parse::<Decimal>().unwrap().normalized().to_string(), "3.5");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    mantissa: i128,
    scale: u8,
}

readable_debug!(Decimal);

impl Decimal {
    /// The largest scale (and number of digits) KalamDB allows.
    pub const MAX_SCALE: u8 = kalam_schema::datum::MAX_DECIMAL_SCALE;

    /// `mantissa / 10^scale`; `None` when `scale` exceeds [`Decimal::MAX_SCALE`].
    pub fn new(mantissa: i128, scale: u8) -> Option<Decimal> {
        (scale <= Self::MAX_SCALE).then_some(Decimal { mantissa, scale })
    }

    /// The integer mantissa.
    pub const fn mantissa(self) -> i128 {
        self.mantissa
    }

    /// Digits after the decimal point.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// The same value without trailing fraction zeros.
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The same value with exactly `scale` fraction digits; `None` if that would drop
    /// non-zero digits or overflow.
    pub fn rescale(self, scale: u8) -> Option<Decimal> {
        if scale > Self::MAX_SCALE {
            return None;
        }
        let mut d = self;
        while d.scale < scale {
            d.mantissa = d.mantissa.checked_mul(10)?;
            d.scale += 1;
        }
        while d.scale > scale {
            if d.mantissa % 10 != 0 {
                return None;
            }
            d.mantissa /= 10;
            d.scale -= 1;
        }
        Some(d)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if self.mantissa < 0 {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{int}.{frac}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

/// Parses `[-+]digits[.digits][e[-+]digits]`, keeping every digit.
impl FromStr for Decimal {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Decimal, ParseError> {
        parse_decimal(s)
            .map(|(mantissa, scale)| Decimal { mantissa, scale })
            .ok_or_else(|| ParseError::new("decimal", s))
    }
}

macro_rules! decimal_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Decimal {
            fn from(v: $t) -> Decimal {
                Decimal { mantissa: i128::from(v), scale: 0 }
            }
        }
    )*};
}
decimal_from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

/// A `FILE` column's value: a reference to a stored file (protocol 6.2).
///
/// ```
/// use kalam_client::types::FileRef;
/// let f = FileRef::from_json(r#"{"id":"1","sub":"f0001","name":"a.pdf","size":3,"mime":"application/pdf","sha256":"ab"}"#).unwrap();
/// assert_eq!(f.sub, "f0001");
/// assert_eq!(f.shard, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileRef {
    /// Snowflake id of the file.
    pub id: String,
    /// Subfolder (`f` + 4 digits).
    pub sub: String,
    /// Original file name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Shard, for files of USER tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
}

impl FileRef {
    /// Parses the JSON text a `FILE` cell holds.
    pub fn from_json(text: &str) -> Result<FileRef, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON text of this reference (what a `FILE` cell and parameter carry).
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and integers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A `JSON` cell decoded into (or a parameter encoded from) any serde type.
///
/// KalamDB sends JSON columns as a string holding the JSON text; `Json<T>` parses that text
/// into `T`, and sends `T` back as JSON text.
///
/// ```
/// use kalam_client::types::Json;
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Prefs { theme: String }
/// let p = Json(Prefs { theme: "dark".into() });
/// assert_eq!(p.theme, "dark");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(v: T) -> Json<T> {
        Json(v)
    }
}

macro_rules! serde_via_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_text!(Timestamp, DateTime, Date, Time, Uuid, Decimal);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000i64, -1, 0, 1, 20240, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            Date::from_ymd(2024, 2, 29).map(|d| d.ymd()),
            Some((2024, 2, 29))
        );
        assert_eq!(Date::from_ymd(2023, 2, 29), None);
    }

    #[test]
    fn debug_prints_the_readable_form() {
        let ts = Timestamp::from_micros(1_748_736_005_123_456);
        assert_eq!(format!("{ts:?}"), "2025-06-01T00:00:05.123456Z");
        assert_eq!(
            format!("{:?}", DateTime::from(ts)),
            "2025-06-01T00:00:05.123456Z"
        );
        assert_eq!(
            format!("{:?}", Some(Date::from_days(20240))),
            "Some(2025-06-01)"
        );
        assert_eq!(
            format!("{:?}", Time::from_micros(45_296_000_000)),
            "Some(12:34:56)"
        );
        let id = Uuid::from_bytes([0x01; 16]);
        assert_eq!(format!("{id:?}"), "01010101-0101-0101-0101-010101010101");
        assert_eq!(format!("{:?}", Decimal::new(-1235, 2)), "Some(-12.35)");
    }

    #[test]
    fn timestamps_parse_and_print() {
        let cases = [
            ("2025-06-02T00:00:00Z", 1_748_822_400_000_000),
            ("2025-06-01T00:00:05.123456Z", 1_748_736_005_123_456),
            ("2025-06-01 00:00:05.123456", 1_748_736_005_123_456),
            ("2025-06-01T02:00:05.123456+02:00", 1_748_736_005_123_456),
            ("2025-06-01T00:00:05.123456789Z", -1),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("2025-06-01", 1_748_736_000_000_000),
            ("1748736005123456", 1_748_736_005_123_456),
        ];
        for (text, micros) in cases {
            let parsed = text.parse::<Timestamp>();
            if text.ends_with("789Z") {
                assert!(parsed.is_err(), "{text}: sub-µs digits must not be dropped");
                continue;
            }
            assert_eq!(parsed.map(Timestamp::as_micros), Ok(micros), "{text}");
        }
        let t = Timestamp::from_micros(-1);
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        assert_eq!(t.date().to_string(), "1969-12-31");
        assert_eq!(t.time().to_string(), "23:59:59.999999");
        for bad in [
            "",
            "2025-06-01T25:00:00Z",
            "2025-02-30T00:00:00Z",
            "yesterday",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_parse_and_print() {
        let text = "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11";
        let u: Uuid = text.parse().unwrap();
        assert_eq!(u.to_string(), text);
        assert_eq!(
            "0190f1e27c3a7d4e9b1a2f6c8d0e4a11".parse::<Uuid>().unwrap(),
            u
        );
        assert_eq!(format!("{{{text}}}").parse::<Uuid>().unwrap(), u);
        for bad in [
            "",
            "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a1",
            "0190f1e2x7c3a-7d4e-9b1a-2f6c8d0e4a11",
            "zz90f1e27c3a7d4e9b1a2f6c8d0e4a11",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
        let v4 = Uuid::new_v4();
        assert_eq!(v4.to_string().as_bytes()[14], b'4');
    }

    #[test]
    fn decimals_keep_every_digit() {
        for text in [
            "0",
            "13",
            "-3",
            "12.50",
            "0.05",
            "-0.05",
            "-12.35",
            "99999999999999999999999999999999999999",
            "0.00000000000000000000000000000000000001",
        ] {
            let d: Decimal = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
        assert_eq!("1e3".parse::<Decimal>().unwrap().to_string(), "1000");
        assert_eq!("1.5E-2".parse::<Decimal>().unwrap().to_string(), "0.015");
        assert!(
            "999999999999999999999999999999999999999999"
                .parse::<Decimal>()
                .is_err()
        );
        for bad in ["", ".", "-", "1.2.3", "abc", "1e"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
        let d: Decimal = "3.5".parse().unwrap();
        assert_eq!(d.rescale(2).unwrap().to_string(), "3.50");
        assert_eq!("3.51".parse::<Decimal>().unwrap().rescale(1), None);
    }

    #[test]
    fn time_bounds() {
        assert!(Time::from_micros(86_400_000_000).is_none());
        assert!("24:00:00".parse::<Time>().is_err());
        assert_eq!(
            "43200000000".parse::<Time>().unwrap().to_string(),
            "12:00:00"
        );
        assert_eq!(
            Time::from_hms_micro(1, 2, 3, 4).unwrap().hms_micro(),
            (1, 2, 3, 4)
        );
    }

    #[test]
    fn serde_uses_text() {
        let d = Date::from_days(20240);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2025-06-01\"");
        let back: Date = serde_json::from_str("\"2025-06-01\"").unwrap();
        assert_eq!(back, d);
    }
}
