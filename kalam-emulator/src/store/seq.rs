//! Snowflake SeqIds (protocol 3.8): `(ms since 2024-01-01) << 22 | worker << 12 | sequence`.

use std::sync::Mutex;

/// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
pub(crate) const EPOCH_MS: i64 = 1_704_067_200_000;

/// The wall-clock time (ms since the Unix epoch) embedded in a SeqId.
pub(crate) fn time_ms(seq: i64) -> i64 {
    (seq >> 22) + EPOCH_MS
}

/// A strictly increasing Snowflake generator (one per emulator).
#[derive(Debug)]
pub(crate) struct SeqGen {
    last: Mutex<i64>,
    worker: i64,
}

impl SeqGen {
    pub(crate) fn new() -> SeqGen {
        SeqGen {
            last: Mutex::new(0),
            worker: i64::from(rand::random::<u16>() % 1024),
        }
    }

    /// The next id: the current millisecond's first id, or one more than the last id when the
    /// clock has not moved on (the sequence spills into the next millisecond if needed).
    pub(crate) fn next(&self) -> i64 {
        let ms = (crate::time::now_ms() - EPOCH_MS).max(0);
        let candidate = (ms << 22) | (self.worker << 12);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let v = if candidate > *last {
            candidate
        } else {
            *last + 1
        };
        *last = v;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_and_time_based() {
        let g = SeqGen::new();
        let a = g.next();
        let b = g.next();
        assert!(b > a);
        let ms = time_ms(a);
        assert!((ms - crate::time::now_ms()).abs() < 5_000);
    }
}
