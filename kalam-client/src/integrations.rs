//! [`FromCell`]/[`ToParam`] for the ecosystem's types, behind the `chrono`, `time`, `uuid`
//! and `rust_decimal` features. Each goes through this crate's own type, so the wire rules
//! live in one place; values that do not fit (out of range, sub-microsecond precision,
//! more than 28 decimal digits for rust_decimal) are errors, never silently altered.

#[allow(unused_macros, reason = "used only when an integration feature is on")]
macro_rules! via {
    ($eco:ty, $ours:ty, $expected:literal,
     to_eco: |$a:ident| $to_eco:expr,
     from_eco: |$b:ident| $from_eco:expr $(,)?) => {
        impl $crate::decode::FromCell for $eco {
            const EXPECTED: &'static str = $expected;
            fn accepts(t: ::kalam_schema::SqlType) -> bool {
                <$ours as $crate::decode::FromCell>::accepts(t)
            }
            fn from_cell(cell: &$crate::decode::Cell<'_>) -> $crate::error::Result<Self> {
                let $a: $ours = <$ours as $crate::decode::FromCell>::from_cell(cell)?;
                let value: Option<$eco> = $to_eco;
                value.ok_or_else(|| cell.error(Self::EXPECTED))
            }
        }

        impl $crate::encode::ToParam for $eco {
            fn to_param(&self) -> Result<$crate::encode::QueryParam, $crate::encode::EncodeError> {
                let $b = self;
                let ours: Option<$ours> = $from_eco;
                match ours {
                    Some(v) => $crate::encode::ToParam::to_param(&v),
                    None => Err($crate::encode::EncodeError::new(format!(
                        "{:?} cannot be stored exactly as {}",
                        self,
                        stringify!($ours)
                    ))),
                }
            }
        }
    };
}

#[cfg(feature = "chrono")]
mod chrono_impls {
    use chrono::{Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _, Utc};

    use crate::types::{Date, DateTime, Time, Timestamp};

    const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

    fn micros_of(dt: &chrono::DateTime<Utc>) -> Option<i64> {
        dt.timestamp_subsec_nanos()
            .is_multiple_of(1000)
            .then(|| dt.timestamp_micros())
    }

    via!(NaiveDateTime, Timestamp, "chrono::NaiveDateTime",
        to_eco: |t| chrono::DateTime::from_timestamp_micros(t.as_micros()).map(|d| d.naive_utc()),
        from_eco: |v| micros_of(&v.and_utc()).map(Timestamp::from_micros));
    via!(chrono::DateTime<Utc>, DateTime, "chrono::DateTime<Utc>",
        to_eco: |t| chrono::DateTime::from_timestamp_micros(t.as_micros()),
        from_eco: |v| micros_of(v).map(DateTime::from_micros));
    via!(NaiveDate, Date, "chrono::NaiveDate",
        to_eco: |d| d.as_days().checked_add(UNIX_EPOCH_CE_DAYS).and_then(NaiveDate::from_num_days_from_ce_opt),
        from_eco: |v| v.num_days_from_ce().checked_sub(UNIX_EPOCH_CE_DAYS).map(Date::from_days));
    via!(NaiveTime, Time, "chrono::NaiveTime",
    to_eco: |t| {
        let (h, m, s, us) = t.hms_micro();
        NaiveTime::from_hms_micro_opt(h, m, s, us)
    },
    from_eco: |v| {
        let nanos = v.nanosecond();
        if !nanos.is_multiple_of(1000) {
            None
        } else {
            Time::from_hms_micro(v.hour(), v.minute(), v.second(), nanos / 1000)
        }
    });
}

#[cfg(feature = "time")]
mod time_impls {
    use time::{OffsetDateTime, PrimitiveDateTime};

    use crate::types::{Date, DateTime, Time, Timestamp};

    const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

    fn to_offset(micros: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
    }

    fn micros_of(v: &OffsetDateTime) -> Option<i64> {
        let nanos = v.unix_timestamp_nanos();
        if nanos % 1000 != 0 {
            return None;
        }
        i64::try_from(nanos / 1000).ok()
    }

    via!(OffsetDateTime, DateTime, "time::OffsetDateTime",
        to_eco: |t| to_offset(t.as_micros()),
        from_eco: |v| micros_of(v).map(DateTime::from_micros));
    via!(PrimitiveDateTime, Timestamp, "time::PrimitiveDateTime",
        to_eco: |t| to_offset(t.as_micros()).map(|o| PrimitiveDateTime::new(o.date(), o.time())),
        from_eco: |v| micros_of(&v.assume_utc()).map(Timestamp::from_micros));
    via!(time::Date, Date, "time::Date",
        to_eco: |d| d.as_days().checked_add(UNIX_EPOCH_JULIAN_DAY).and_then(|j| time::Date::from_julian_day(j).ok()),
        from_eco: |v| v.to_julian_day().checked_sub(UNIX_EPOCH_JULIAN_DAY).map(Date::from_days));
    via!(time::Time, Time, "time::Time",
    to_eco: |t| {
        let (h, m, s, us) = t.hms_micro();
        let narrow = |x: u32| u8::try_from(x).ok();
        match (narrow(h), narrow(m), narrow(s)) {
            (Some(h), Some(m), Some(s)) => time::Time::from_hms_micro(h, m, s, us).ok(),
            _ => None,
        }
    },
    from_eco: |v| {
        let (h, m, s, nanos) = v.as_hms_nano();
        if !nanos.is_multiple_of(1000) {
            None
        } else {
            Time::from_hms_micro(h.into(), m.into(), s.into(), nanos / 1000)
        }
    });
}

#[cfg(feature = "uuid")]
mod uuid_impls {
    use crate::types::Uuid;

    via!(uuid::Uuid, Uuid, "uuid::Uuid",
        to_eco: |u| Some(uuid::Uuid::from_bytes(*u.as_bytes())),
        from_eco: |v| Some(Uuid::from_bytes(*v.as_bytes())));
}

#[cfg(feature = "rust_decimal")]
mod rust_decimal_impls {
    use crate::types::Decimal;

    via!(rust_decimal::Decimal, Decimal, "rust_decimal::Decimal",
        to_eco: |d| rust_decimal::Decimal::try_from_i128_with_scale(d.mantissa(), u32::from(d.scale())).ok(),
        from_eco: |v| u8::try_from(v.scale()).ok().and_then(|s| Decimal::new(v.mantissa(), s)));
}

#[cfg(all(
    test,
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "rust_decimal"
))]
mod tests {
    use crate::decode::{Cell, FromCell};
    use crate::encode::{QueryParam, ToParam};

    fn decode<T: FromCell>(raw: &str) -> T {
        T::from_cell(&Cell::new(raw, "c", None)).unwrap()
    }

    #[test]
    fn chrono_round_trips() {
        let ts: chrono::NaiveDateTime = decode("1748736005123456");
        assert_eq!(ts.to_string(), "2025-06-01 00:00:05.123456");
        assert_eq!(
            ts.to_param().unwrap(),
            QueryParam::Text("2025-06-01T00:00:05.123456Z".into())
        );
        let d: chrono::NaiveDate = decode("20240");
        assert_eq!(d.to_string(), "2025-06-01");
        let t: chrono::NaiveTime = decode("45296000000");
        assert_eq!(t.to_string(), "12:34:56");
        let dt: chrono::DateTime<chrono::Utc> = decode("0");
        assert_eq!(dt.timestamp(), 0);
        let ns = chrono::NaiveTime::from_hms_nano_opt(1, 2, 3, 1).unwrap();
        assert!(ns.to_param().is_err());
    }

    #[test]
    fn time_round_trips() {
        let ts: time::OffsetDateTime = decode("1748736005123456");
        assert_eq!(ts.unix_timestamp(), 1_748_736_005);
        assert_eq!(ts.microsecond(), 123_456);
        let d: time::Date = decode("20240");
        assert_eq!((d.year(), u8::from(d.month()), d.day()), (2025, 6, 1));
        assert_eq!(d.to_param().unwrap(), QueryParam::Text("2025-06-01".into()));
        let t: time::Time = decode("45296000000");
        assert_eq!(t.hour(), 12);
    }

    #[test]
    fn uuid_and_decimal_round_trip() {
        let u: uuid::Uuid = decode(r#""0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11""#);
        assert_eq!(u.to_string(), "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11");
        let d: rust_decimal::Decimal = decode(r#""-12.35""#);
        assert_eq!(d.to_string(), "-12.35");
        assert_eq!(d.to_param().unwrap(), QueryParam::Text("-12.35".into()));
        let too_big = Cell::new(r#""99999999999999999999999999999999999999""#, "c", None);
        assert!(rust_decimal::Decimal::from_cell(&too_big).is_err());
    }
}
