//! [`Datum`]: one value of a row as the live filter sees it, with SQL's comparison rules, and
//! the parsers for the text forms of dates, times, timestamps, decimals and UUIDs (shared with
//! the types of kalam-client, so that a literal in a WHERE and a value in a row are read the
//! same way).

use std::borrow::Cow;
use std::cmp::Ordering;

/// A value of a row or of a literal, typed by the kind of column it belongs to.
///
/// Integers of every width are [`Datum::Int`], TEXT, JSON and FILE are [`Datum::Text`],
/// TIMESTAMP and DATETIME are [`Datum::Timestamp`] (µs since the epoch). Text, bytes and
/// vectors borrow from the row when they can.
///
/// ```
/// use kalam_schema::datum::Datum;
/// use std::cmp::Ordering;
/// assert_eq!(Datum::Int(2).sql_cmp(&Datum::Decimal(150, 2)), Some(Ordering::Greater));
/// assert_eq!(Datum::Date(1).sql_cmp(&Datum::Timestamp(86_400_000_000)), Some(Ordering::Equal));
/// assert_eq!(Datum::Null.sql_cmp(&Datum::Int(1)), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Datum<'a> {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// SMALLINT, INT, BIGINT.
    Int(i64),
    /// FLOAT, DOUBLE.
    Float(f64),
    /// DECIMAL: `mantissa / 10^scale`.
    Decimal(i128, u8),
    /// TEXT, JSON (its text), FILE (its FileRef JSON).
    Text(Cow<'a, str>),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// TIMESTAMP, DATETIME: microseconds since the Unix epoch.
    Timestamp(i64),
    /// TIME: microseconds since midnight.
    Time(i64),
    /// UUID, as its big-endian 128-bit value.
    Uuid(u128),
    /// BYTES.
    Bytes(Cow<'a, [u8]>),
    /// EMBEDDING(n).
    Embedding(Cow<'a, [f32]>),
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

impl Datum<'_> {
    /// True for [`Datum::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// The same value borrowing from `self` (no copy of text, bytes or vectors).
    pub fn borrowed(&self) -> Datum<'_> {
        match self {
            Datum::Text(t) => Datum::Text(Cow::Borrowed(t)),
            Datum::Bytes(b) => Datum::Bytes(Cow::Borrowed(b)),
            Datum::Embedding(v) => Datum::Embedding(Cow::Borrowed(v)),
            Datum::Null => Datum::Null,
            Datum::Bool(b) => Datum::Bool(*b),
            Datum::Int(v) => Datum::Int(*v),
            Datum::Float(v) => Datum::Float(*v),
            Datum::Decimal(m, s) => Datum::Decimal(*m, *s),
            Datum::Date(v) => Datum::Date(*v),
            Datum::Timestamp(v) => Datum::Timestamp(*v),
            Datum::Time(v) => Datum::Time(*v),
            Datum::Uuid(v) => Datum::Uuid(*v),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Datum<'static> {
        match self {
            Datum::Text(t) => Datum::Text(Cow::Owned(t.into_owned())),
            Datum::Bytes(b) => Datum::Bytes(Cow::Owned(b.into_owned())),
            Datum::Embedding(v) => Datum::Embedding(Cow::Owned(v.into_owned())),
            Datum::Null => Datum::Null,
            Datum::Bool(b) => Datum::Bool(b),
            Datum::Int(v) => Datum::Int(v),
            Datum::Float(v) => Datum::Float(v),
            Datum::Decimal(m, s) => Datum::Decimal(m, s),
            Datum::Date(v) => Datum::Date(v),
            Datum::Timestamp(v) => Datum::Timestamp(v),
            Datum::Time(v) => Datum::Time(v),
            Datum::Uuid(v) => Datum::Uuid(v),
        }
    }

    /// The value as an `f64`, for numbers.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Datum::Int(v) => Some(*v as f64),
            Datum::Float(v) => Some(*v),
            Datum::Decimal(m, s) => Some(*m as f64 / 10f64.powi(i32::from(*s))),
            _ => None,
        }
    }

    /// SQL comparison (the one DataFusion runs for the server's SELECTs): numbers compare by
    /// value across widths (floats by IEEE total order, as Arrow does), text by bytes, a DATE
    /// with a TIMESTAMP at midnight; `None` when either side is NULL or the kinds do not
    /// compare.
    pub fn sql_cmp(&self, other: &Datum<'_>) -> Option<Ordering> {
        use Datum as D;
        match (self, other) {
            (D::Null, _) | (_, D::Null) => None,
            (D::Bool(a), D::Bool(b)) => Some(a.cmp(b)),
            (D::Int(a), D::Int(b)) => Some(a.cmp(b)),
            (D::Float(_), _) | (_, D::Float(_)) => Some(self.as_f64()?.total_cmp(&other.as_f64()?)),
            (D::Decimal(m, s), D::Int(v)) => Some(decimal_cmp(*m, *s, i128::from(*v), 0)),
            (D::Int(v), D::Decimal(m, s)) => Some(decimal_cmp(i128::from(*v), 0, *m, *s)),
            (D::Decimal(a, sa), D::Decimal(b, sb)) => Some(decimal_cmp(*a, *sa, *b, *sb)),
            (D::Text(a), D::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (D::Date(a), D::Date(b)) => Some(a.cmp(b)),
            (D::Timestamp(a), D::Timestamp(b)) | (D::Time(a), D::Time(b)) => Some(a.cmp(b)),
            (D::Date(d), D::Timestamp(t)) => {
                Some((i128::from(*d) * i128::from(MICROS_PER_DAY)).cmp(&i128::from(*t)))
            }
            (D::Timestamp(_), D::Date(_)) => other.sql_cmp(self).map(Ordering::reverse),
            (D::Uuid(a), D::Uuid(b)) => Some(a.cmp(b)),
            (D::Bytes(a), D::Bytes(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Compares `a / 10^sa` with `b / 10^sb` exactly (through `f64` only if rescaling overflows).
fn decimal_cmp(a: i128, sa: u8, b: i128, sb: u8) -> Ordering {
    let scale = sa.max(sb);
    let up = |m: i128, s: u8| {
        10i128
            .checked_pow(u32::from(scale - s))
            .and_then(|f| m.checked_mul(f))
    };
    match (up(a, sa), up(b, sb)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let f = |m: i128, s: u8| m as f64 / 10f64.powi(i32::from(s));
            f(a, sa).total_cmp(&f(b, sb))
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The number of days of a month (0 for a month outside 1–12).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` (the year may have a sign and more than four digits) → days since the epoch.
///
/// ```
/// assert_eq!(kalam_schema::datum::parse_date("1970-01-02"), Some(1));
/// assert_eq!(kalam_schema::datum::parse_date("2025-02-30"), None);
/// ```
pub fn parse_date(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut parts = body.rsplitn(3, '-');
    let day = digits(parts.next()?, 2)?;
    let month = digits(parts.next()?, 2)?;
    let year_text = parts.next()?;
    if year_text.len() < 4 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut year: i64 = year_text.parse().ok()?;
    if neg {
        year = -year;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `HH:MM[:SS[.fraction]]` → µs since midnight. Fraction digits beyond µs must be zero.
///
/// ```
/// assert_eq!(kalam_schema::datum::parse_time("00:00:01.5"), Some(1_500_000));
/// ```
pub fn parse_time(s: &str) -> Option<i64> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut it = hms.split(':');
    let h = digits(it.next()?, 2)?;
    let m = digits(it.next()?, 2)?;
    let sec = match it.next() {
        Some(t) => digits(t, 2)?,
        None if frac.is_none() => 0,
        None => return None,
    };
    if it.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut micros = 0i64;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (us, rest) = frac.split_at(frac.len().min(6));
        if rest.bytes().any(|b| b != b'0') {
            return None; // sub-microsecond precision would be lost
        }
        let mut padded = us.to_owned();
        while padded.len() < 6 {
            padded.push('0');
        }
        micros = padded.parse().ok()?;
    }
    Some((i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec)) * MICROS_PER_SEC + micros)
}

/// Parses an RFC 3339 / ISO 8601 date-time (`T` or space; `Z`, `±HH:MM` or no offset = UTC;
/// a date alone = midnight) into µs since the epoch.
///
/// ```
/// use kalam_schema::datum::parse_datetime;
/// assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1_000_000));
/// assert_eq!(parse_datetime("1970-01-01 01:00:00+01:00"), Some(0));
/// ```
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let Some(sep) = s.find(['T', 't', ' ']) else {
        return parse_date(s)?.checked_mul(MICROS_PER_DAY);
    };
    let (date, rest) = (&s[..sep], &s[sep + 1..]);
    let days = parse_date(date)?;
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0i64)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = &off[1..];
        let (oh, om) = match off.split_once(':') {
            Some((h, m)) => (digits(h, 2)?, digits(m, 2)?),
            None if off.len() == 4 => (digits(&off[..2], 2)?, digits(&off[2..], 2)?),
            None => (digits(off, 2)?, 0),
        };
        (t, sign * (i64::from(oh) * 3600 + i64::from(om) * 60))
    } else {
        (rest, 0)
    };
    let micros = parse_time(time)?;
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(micros)?
        .checked_sub(offset_secs.checked_mul(MICROS_PER_SEC)?)
}

/// The largest DECIMAL scale (and number of digits) KalamDB allows.
pub const MAX_DECIMAL_SCALE: u8 = 38;

/// Parses `[-+]digits[.digits][e[-+]digits]` into `(mantissa, scale)`, keeping every digit;
/// `None` for other text or a scale beyond [`MAX_DECIMAL_SCALE`].
///
/// ```
/// assert_eq!(kalam_schema::datum::parse_decimal("-12.50"), Some((-1250, 2)));
/// assert_eq!(kalam_schema::datum::parse_decimal("1.5e2"), Some((150, 0)));
/// ```
pub fn parse_decimal(s: &str) -> Option<(i128, u8)> {
    let t = s.trim().as_bytes();
    let (neg, t) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, t),
    };
    // One pass: digits accumulate in a u64 while they fit, then in an i128.
    let mut small: u64 = 0;
    let mut wide: Option<i128> = None;
    let (mut digits, mut frac_digits, mut seen_dot) = (0u32, 0i32, false);
    let mut exponent: Option<&[u8]> = None;
    for (i, &b) in t.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                let d = b - b'0';
                digits += 1;
                if seen_dot {
                    frac_digits += 1;
                }
                match wide {
                    None if small < 1_000_000_000_000_000_000 => {
                        small = small * 10 + u64::from(d);
                    }
                    _ => {
                        let w = wide.unwrap_or(i128::from(small));
                        wide = Some(w.checked_mul(10)?.checked_add(i128::from(d))?);
                    }
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => {
                exponent = Some(&t[i + 1..]);
                break;
            }
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let exp: i32 = match exponent {
        None => 0,
        Some(rest) => std::str::from_utf8(rest).ok()?.parse().ok()?,
    };
    let mut mantissa = wide.unwrap_or(i128::from(small));
    let mut scale = frac_digits.checked_sub(exp)?;
    while scale < 0 {
        mantissa = mantissa.checked_mul(10)?;
        scale += 1;
    }
    let scale = u8::try_from(scale)
        .ok()
        .filter(|s| *s <= MAX_DECIMAL_SCALE)?;
    Some((if neg { -mantissa } else { mantissa }, scale))
}

/// Parses a UUID: hyphenated (`8-4-4-4-12`) or simple (32 hex digits), any case, optionally
/// in braces or with a `urn:uuid:` prefix.
///
/// ```
/// let b = kalam_schema::datum::parse_uuid("00000000-0000-0000-0000-0000000000ff").unwrap();
/// assert_eq!(b[15], 0xff);
/// ```
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let t = s.trim();
    let t = t.strip_prefix("urn:uuid:").unwrap_or(t);
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    let hex: Vec<u8> = match t.len() {
        36 => {
            let b = t.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            b.iter().copied().filter(|&c| c != b'-').collect()
        }
        32 => t.as_bytes().to_vec(),
        _ => return None,
    };
    if hex.len() != 32 {
        return None;
    }
    let nibble = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_kinds() {
        use Datum as D;
        assert_eq!(D::Int(3).sql_cmp(&D::Float(2.5)), Some(Ordering::Greater));
        assert_eq!(
            D::Decimal(250, 2).sql_cmp(&D::Float(2.5)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            D::Decimal(250, 2).sql_cmp(&D::Decimal(25, 1)),
            Some(Ordering::Equal)
        );
        assert_eq!(D::Decimal(-1, 0).sql_cmp(&D::Int(0)), Some(Ordering::Less));
        assert_eq!(
            D::Decimal(i128::MAX, 0).sql_cmp(&D::Decimal(1, 38)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            D::Int(i64::MAX).sql_cmp(&D::Int(i64::MAX - 1)),
            Some(Ordering::Greater)
        );
        // Arrow's total order: NaN is the largest, -0.0 < 0.0.
        assert_eq!(
            D::Float(f64::NAN).sql_cmp(&D::Float(1e300)),
            Some(Ordering::Greater)
        );
        assert_eq!(D::Float(-0.0).sql_cmp(&D::Float(0.0)), Some(Ordering::Less));
        assert_eq!(D::Int(1).sql_cmp(&D::Text("1".into())), None);
    }

    #[test]
    fn text_and_time_compare() {
        use Datum as D;
        assert_eq!(
            D::Text("Abc".into()).sql_cmp(&D::Text("a".into())),
            Some(Ordering::Less)
        );
        let day = MICROS_PER_DAY;
        assert_eq!(
            D::Date(2).sql_cmp(&D::Timestamp(2 * day + 1)),
            Some(Ordering::Less)
        );
        assert_eq!(
            D::Date(2).sql_cmp(&D::Timestamp(2 * day - 1)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            D::Timestamp(2 * day).sql_cmp(&D::Date(2)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            D::Date(-1).sql_cmp(&D::Timestamp(-day)),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn text_forms_parse() {
        assert_eq!(parse_date("2025-06-01"), Some(20240));
        assert_eq!(parse_date("2025-6-1"), None);
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("12:00:00.0000001"), None);
        assert_eq!(
            parse_datetime("2025-06-02T00:00:00Z"),
            Some(1_748_822_400_000_000)
        );
        assert_eq!(parse_datetime("2025-06-02"), Some(1_748_822_400_000_000));
        assert_eq!(parse_decimal("1e-3"), Some((1, 3)));
        assert_eq!(parse_decimal("."), None);
        assert_eq!(parse_decimal("1e99"), None);
        assert!(parse_uuid("0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a1").is_none());
    }
}
