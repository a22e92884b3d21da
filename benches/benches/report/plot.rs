//! The scaling curves as PNG: decode, live apply and memory against the number of rows, ours
//! and the official SDK's (and the serde_json floor for decode), on log-log axes, where
//! linear growth is a straight line of slope 1 and a constant cost per row a flat line.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::local::SIZES;
use crate::result;

/// A TrueType font for the labels: `KALAM_REPORT_FONT`, else DejaVu Sans (or any `.ttf`)
/// under the usual font directories.
fn find_font() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KALAM_REPORT_FONT") {
        return Some(path.into());
    }
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = [
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        "/Library/Fonts",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ttf") {
                found.push(path);
            }
        }
    }
    found.sort();
    let preferred = found
        .iter()
        .position(|p| p.file_name().is_some_and(|n| n == "DejaVuSans.ttf"))
        .unwrap_or(0);
    found.into_iter().nth(preferred)
}

/// One series: a name, a colour and the values at [`SIZES`] stored under `<key>/<size>`.
struct Series {
    name: &'static str,
    color: RGBColor,
    key: &'static str,
    /// Multiplies the stored value into the plotted unit.
    scale: f64,
}

fn draw(
    path: &Path,
    title: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            SIZES
                .iter()
                .filter_map(|&n| Some((n as f64, result(&format!("{}/{n}", s.key))? * s.scale)))
                .collect()
        })
        .collect();
    let all = points.iter().flatten().map(|p| p.1);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    if lo > hi {
        return Ok(());
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (SIZES[0] as f64 * 0.8..SIZES[2] as f64 * 1.25).log_scale(),
            // Whole decades, so that the log axis labels its powers of ten.
            (10_f64.powf((lo / 1.5).log10().floor())..10_f64.powf((hi * 1.5).log10().ceil()))
                .log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("rows")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(12)
        .y_label_formatter(&|y| format!("{y}"))
        .label_style(("sans-serif", 16))
        .draw()?;
    for (s, pts) in series.iter().zip(points) {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Registers a TrueType font as plotters' "sans-serif", which Criterion's HTML plots and
/// ours draw their text with (without one they cannot draw text); false if none was found.
pub fn register_font() -> bool {
    let Some(font) = find_font() else {
        eprintln!("no TrueType font found (set KALAM_REPORT_FONT): no plots are drawn");
        return false;
    };
    let bytes: &'static [u8] = match std::fs::read(&font) {
        Ok(b) => Box::leak(b.into_boxed_slice()),
        Err(e) => {
            eprintln!("{}: {e}: no plots are drawn", font.display());
            return false;
        }
    };
    if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_err() {
        eprintln!("{}: not a usable font: no plots are drawn", font.display());
        return false;
    }
    true
}

/// Writes `decode.png`, `live_apply.png` and `live_memory.png` into `dir`.
pub fn all(dir: &Path) {
    let ours = RGBColor(0x1f, 0x77, 0xb4);
    let official = RGBColor(0xd6, 0x27, 0x28);
    let floor = RGBColor(0x7f, 0x7f, 0x7f);
    let plots: [(&str, &str, &str, Vec<Series>); 3] = [
        (
            "decode.png",
            "Decode: time per row against result size",
            "ns per row",
            vec![
                Series {
                    name: "ours (KalamRow)",
                    color: ours,
                    key: "decode/ours",
                    scale: 1e9,
                },
                Series {
                    name: "official SDK (row maps)",
                    color: official,
                    key: "decode/official",
                    scale: 1e9,
                },
                Series {
                    name: "serde_json floor",
                    color: floor,
                    key: "decode/floor",
                    scale: 1e9,
                },
            ],
        ),
        (
            "live_apply.png",
            "Live apply: time per change against set size",
            "µs per change",
            vec![
                Series {
                    name: "ours (LiveRowsMaterializer<Item>)",
                    color: ours,
                    key: "apply/ours",
                    scale: 1e6,
                },
                Series {
                    name: "official SDK (LiveRowsMaterializer)",
                    color: official,
                    key: "apply/official",
                    scale: 1e6,
                },
            ],
        ),
        (
            "live_memory.png",
            "Live set memory: bytes per row against set size",
            "bytes per row",
            vec![
                Series {
                    name: "ours",
                    color: ours,
                    key: "memory/ours",
                    scale: 1.0,
                },
                Series {
                    name: "official SDK",
                    color: official,
                    key: "memory/official",
                    scale: 1.0,
                },
            ],
        ),
    ];
    for (file, title, y_desc, series) in plots {
        let path = dir.join(file);
        if let Err(e) = draw(&path, title, y_desc, &series) {
            eprintln!("{}: {e}", path.display());
        }
    }
}
