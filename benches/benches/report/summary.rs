//! The summary table and the scaling tables, in Markdown, from the recorded results.

use std::fmt::Write as _;

use crate::local::SIZES;
use crate::result;
use crate::server::TASKS;

/// A duration in seconds, with a unit that keeps three significant digits readable.
pub fn time(secs: f64) -> String {
    let (value, unit) = if secs >= 1.0 {
        (secs, "s")
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms")
    } else if secs >= 1e-6 {
        (secs * 1e6, "µs")
    } else {
        (secs * 1e9, "ns")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// How the ratio of a row is read against its target.
enum Target {
    /// `ratio` ≥ the bound.
    AtLeast(f64),
    /// `ratio` ≤ the bound.
    AtMost(f64),
    /// `ratio` < the bound.
    Below(f64),
    /// No target was set.
    None,
}

struct Row {
    metric: String,
    ours: Option<f64>,
    base: Option<f64>,
    /// Formats a value of the row.
    show: fn(f64) -> String,
    /// `ours / base` when true, else `base / ours` (a speed-up).
    ours_over_base: bool,
    target: Target,
}

/// Seconds per round trip as round trips per second.
fn per_second(v: f64) -> String {
    format!("{:.0}", 1.0 / v)
}

fn bytes(v: f64) -> String {
    format!("{v:.0} B")
}

fn factor(v: f64) -> String {
    format!("{v:.2}×")
}

fn rows() -> Vec<Row> {
    let r = |k: &str| result(k);
    let mut rows = vec![
        Row {
            metric: "decode 10k rows × 8 columns (time per row); ratio: speed-up".into(),
            ours: r("decode/ours/10000"),
            base: r("decode/official/10000"),
            show: time,
            ours_over_base: false,
            target: Target::AtLeast(5.0),
        },
        Row {
            metric: "decode 10k rows against the serde_json floor (baseline)".into(),
            ours: r("decode/ours/10000"),
            base: r("decode/floor/10000"),
            show: time,
            ours_over_base: true,
            target: Target::AtMost(1.3),
        },
        Row {
            metric: "live apply, one change on a 10k-row set; ratio: speed-up".into(),
            ours: r("apply/ours/10000"),
            base: r("apply/official/10000"),
            show: time,
            ours_over_base: false,
            target: Target::AtLeast(1000.0),
        },
        Row {
            metric: "memory per live row, 100k-row set".into(),
            ours: r("memory/ours/100000"),
            base: r("memory/official/100000"),
            show: bytes,
            ours_over_base: true,
            target: Target::AtMost(0.3),
        },
        Row {
            metric: "insert → live event latency, median".into(),
            ours: r("latency/ours/median"),
            base: r("latency/official/median"),
            show: time,
            ours_over_base: true,
            target: Target::AtMost(1.0),
        },
        Row {
            metric: "insert → live event latency, p99".into(),
            ours: r("latency/ours/p99"),
            base: r("latency/official/p99"),
            show: time,
            ours_over_base: true,
            target: Target::AtMost(1.0),
        },
    ];
    for tasks in TASKS {
        rows.push(Row {
            metric: format!(
                "SELECT round trips per second, {tasks} task(s); ratio: ours ÷ official"
            ),
            ours: r(&format!("rtt/ours/{tasks}")),
            base: r(&format!("rtt/official/{tasks}")),
            show: per_second,
            ours_over_base: false,
            target: Target::AtLeast(1.0),
        });
    }
    rows.extend([
        Row {
            metric: "`fetch_all` of 10k rows, paged by 1,000 (official: the same pages by hand)"
                .into(),
            ours: r("fetch_all/ours"),
            base: r("fetch_all/official"),
            show: time,
            ours_over_base: true,
            target: Target::None,
        },
        Row {
            metric: "dropped socket → 10 subscriptions resubscribed and caught up".into(),
            ours: r("reconnect/ours"),
            base: r("reconnect/official"),
            show: time,
            ours_over_base: true,
            target: Target::None,
        },
        Row {
            metric: "exact live view against server-filtered (baseline), 100k changes".into(),
            ours: r("filter/exact"),
            base: r("filter/server"),
            show: time,
            ours_over_base: true,
            target: Target::Below(2.0),
        },
    ]);
    let growth = |side: &str, what: &str| {
        Some(
            r(&format!("{what}/{side}/{}", SIZES[2]))? / r(&format!("{what}/{side}/{}", SIZES[0]))?,
        )
    };
    rows.extend([
        Row {
            metric: "decode: cost per row at 100k ÷ at 1k (1.00× = linear)".into(),
            ours: growth("ours", "decode"),
            base: growth("official", "decode"),
            show: factor,
            ours_over_base: true,
            target: Target::None,
        },
        Row {
            metric: "live apply: cost per change at 100k rows ÷ at 1k (1.00× = linear)".into(),
            ours: growth("ours", "apply"),
            base: growth("official", "apply"),
            show: factor,
            ours_over_base: true,
            target: Target::None,
        },
    ]);
    rows
}

/// Whether a growth factor counts as linear: cost per unit at 100× the size within 1.5×.
pub const LINEAR: f64 = 1.5;

/// The summary table.
fn summary(out: &mut String) {
    out.push_str("| metric | ours | official / baseline | ratio | target | met? |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for row in rows() {
        let show = |v: Option<f64>| v.map_or_else(|| "not run".to_owned(), row.show);
        let growth = row.metric.contains("1.00× = linear");
        let ratio = match (row.ours, row.base) {
            (Some(o), Some(b)) if !growth => Some(if row.ours_over_base { o / b } else { b / o }),
            _ => None,
        };
        let (target, met) = if growth {
            (
                format!("ours ≤ {LINEAR:.1}×"),
                row.ours.map(|o| o <= LINEAR),
            )
        } else {
            match row.target {
                Target::AtLeast(t) => (format!("≥ {t}×"), ratio.map(|x| x >= t)),
                Target::AtMost(t) => (format!("≤ {t}×"), ratio.map(|x| x <= t)),
                Target::Below(t) => (format!("< {t}×"), ratio.map(|x| x < t)),
                Target::None => ("—".to_owned(), None),
            }
        };
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let ratio = ratio.map_or_else(|| "—".to_owned(), |x| format!("{x:.2}×"));
        writeln!(
            out,
            "| {} | {} | {} | {ratio} | {target} | {met} |",
            row.metric,
            show(row.ours),
            show(row.base)
        )
        .unwrap_or(());
    }
}

/// The scaling tables.
fn scaling(out: &mut String) {
    let r = |k: String| result(&k);
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "—".to_owned(), f);
    out.push_str(
        "\nDecode, time per row (total = rows × per row):\n\n\
         | rows | ours | official | serde_json floor | ours ÷ floor | official ÷ ours |\n\
         |---|---|---|---|---|---|\n",
    );
    for n in SIZES {
        let (o, f, s) = (
            r(format!("decode/ours/{n}")),
            r(format!("decode/official/{n}")),
            r(format!("decode/floor/{n}")),
        );
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        writeln!(
            out,
            "| {n} | {} | {} | {} | {} | {} |",
            opt(o, time),
            opt(f, time),
            opt(s, time),
            opt(ratio(o, s), factor),
            opt(ratio(f, o), factor)
        )
        .unwrap_or(());
    }
    out.push_str(
        "\nLive apply, time per change on a set of the given size:\n\n\
         | rows in the set | ours | official | official ÷ ours |\n|---|---|---|---|\n",
    );
    for n in SIZES {
        let (o, f) = (
            r(format!("apply/ours/{n}")),
            r(format!("apply/official/{n}")),
        );
        writeln!(
            out,
            "| {n} | {} | {} | {} |",
            opt(o, time),
            opt(f, time),
            opt(o.zip(f).map(|(o, f)| f / o), |x| format!("{x:.0}×"))
        )
        .unwrap_or(());
    }
    out.push_str(
        "\nMemory per live row:\n\n\
         | rows in the set | ours | official | ours ÷ official |\n|---|---|---|---|\n",
    );
    for n in SIZES {
        let (o, f) = (
            r(format!("memory/ours/{n}")),
            r(format!("memory/official/{n}")),
        );
        writeln!(
            out,
            "| {n} | {} | {} | {} |",
            opt(o, bytes),
            opt(f, bytes),
            opt(o.zip(f).map(|(o, f)| o / f), factor)
        )
        .unwrap_or(());
    }
    let (exact, server, stale) = (
        result("filter/frames/exact"),
        result("filter/frames/server"),
        result("filter/stale"),
    );
    if let (Some(e), Some(s), Some(st)) = (exact, server, stale) {
        writeln!(
            out,
            "\nExact against server-filtered: exact mode gets {e:.0} frames, server-filtered \
             {s:.0}, and ends with {st:.0} stale rows that exact mode removed; \
             server-filtered without the client's re-check: {}.",
            opt(result("filter/unchecked"), time)
        )
        .unwrap_or(());
    }
}

/// The whole Markdown report of a run.
pub fn render() -> String {
    let mut out = String::new();
    summary(&mut out);
    scaling(&mut out);
    out
}
