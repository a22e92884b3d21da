//! Wall-clock helpers and RFC 3339 formatting (no date library needed).

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    (now_nanos() / 1_000_000) as i64
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    (now_nanos() / 1_000) as i64
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    (now_nanos() / 1_000_000_000) as i64
}

/// (year, month, day) of a day number since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn split(nanos: i128) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    (
        y,
        mo,
        d,
        (tod / 3600) as u32,
        ((tod % 3600) / 60) as u32,
        (tod % 60) as u32,
        sub,
    )
}

/// `2025-06-01T00:00:00.123+00:00` (millisecond fraction), as `created_at` in login bodies.
pub(crate) fn rfc3339_millis(ms: i64) -> String {
    let (y, mo, d, h, mi, s, sub) = split(i128::from(ms) * 1_000_000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+00:00",
        sub / 1_000_000
    )
}

/// `2025-06-02T00:00:00.123456789+00:00` (nanosecond fraction), as `expires_at`.
pub(crate) fn rfc3339_nanos(nanos: i128) -> String {
    let (y, mo, d, h, mi, s, sub) = split(nanos);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{sub:09}+00:00")
}

/// `2026-05-10 09:30:05 UTC`, the health endpoint's `build_date`.
pub(crate) fn build_date(secs: i64) -> String {
    let (y, mo, d, h, mi, s, _) = split(i128::from(secs) * 1_000_000_000);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            rfc3339_millis(1_748_736_005_123),
            "2025-06-01T00:00:05.123+00:00"
        );
        assert_eq!(build_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            rfc3339_nanos(1_748_822_400_000_000_001),
            "2025-06-02T00:00:00.000000001+00:00"
        );
    }
}
