//! How much build time does `query!` add? This program writes a small Cargo workspace with
//! three binary crates that run the same queries — `checked` with `query!` (checked against
//! the workspace's `schemas/` while compiling), `runtime` with `kalam_client::query_as(..).bind(..)`
//! decoding into tuples, and `rows` with the same runtime calls decoding into a
//! `#[derive(KalamRow)]` struct written out for each query (the named fields `query!` gives,
//! by hand) — and times `cargo build` of each after touching its `main.rs`, in the dev and
//! release profiles. Dependencies are built once, before the timed runs.
//!
//! ```text
//! CARGO_TARGET_DIR=target/compile-cost \
//!     cargo run --release --manifest-path benches/compile-cost/Cargo.toml -- --runs 5
//! ```
//!
//! Options: `--runs N` (timed builds per crate and profile, default 5), `--count N` (queries
//! per crate, default 200), `--profiles dev,release` (also `dev-fresh`: a dev build with the
//! crate's incremental cache deleted first, as in a first or CI build), `--out DIR` (default
//! `$CARGO_TARGET_DIR/compile-cost`), `--repo DIR` (the kalam checkout whose kalam-client,
//! kalam-macros and `schemas/` are used; default: this one — pass an exported older commit
//! to measure a before/after), `--optimize-macros` (build kalam-macros, kalam-schema and
//! sqlparser at opt-level 3, as the kalam-macros README recommends), `--generate-only`,
//! `--instructions` (instead of timing: count the instructions of one rebuild of each crate
//! under valgrind's cachegrind, which needs valgrind; exact from run to run, so small changes
//! can be compared on a busy machine).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// One query shape; `{k}` in the SQL is replaced by the query's number so that every
/// invocation has distinct SQL.
struct Template {
    sql: &'static str,
    /// Argument expressions (in scope: `client`, `room: &str`).
    args: &'static [&'static str],
    /// The output columns as struct fields (`name: Type, …`): the row type of the runtime
    /// versions (a tuple of the types, or a struct); `None` for statements run with `execute`.
    row: Option<&'static str>,
}

const TEMPLATES: &[Template] = &[
    Template {
        sql: "SELECT id, body, created_at FROM support.messages WHERE room = $1 AND id > {k}",
        args: &["room"],
        row: Some("id: i64, body: String, created_at: Timestamp"),
    },
    Template {
        sql: "SELECT name, title, archived, created_by FROM support.rooms WHERE name <> $1 AND title <> 't{k}'",
        args: &["room"],
        row: Some("name: String, title: String, archived: bool, created_by: Option<String>"),
    },
    Template {
        sql: "SELECT m.id, m.body, r.title FROM support.messages m JOIN support.rooms r ON r.name = m.room WHERE m.id > $1 AND m.role = 'r{k}'",
        args: &["{k}_i64"],
        row: Some("id: i64, body: String, title: String"),
    },
    Template {
        sql: "SELECT room, COUNT(*) AS n FROM support.messages WHERE id > {k} GROUP BY room",
        args: &[],
        row: Some("room: String, n: i64"),
    },
    Template {
        sql: "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, 'user', 'b{k}')",
        args: &["{k}_i64", "room"],
        row: None,
    },
    Template {
        sql: "UPDATE support.rooms SET archived = $1 WHERE name = $2 AND title <> 't{k}'",
        args: &["true", "room"],
        row: None,
    },
    Template {
        sql: "SELECT id, i32, txt, ts, opt_text, dec FROM types.all_types WHERE i64 > $1 AND id <> {k}",
        args: &["{k}_i64"],
        row: Some(
            "id: i64, i32: i32, txt: String, ts: Timestamp, opt_text: Option<String>, dec: Decimal",
        ),
    },
    Template {
        sql: "SELECT r.name, m.body FROM support.rooms r LEFT JOIN support.messages m ON m.room = r.name WHERE r.title = $1 AND r.name <> 'n{k}'",
        args: &["room"],
        row: Some("name: String, body: Option<String>"),
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Checked,
    /// The runtime builder decoding into tuples (one row type per result shape).
    Runtime,
    /// The runtime builder decoding into a `#[derive(Debug, KalamRow)]` struct written for
    /// each query: what a user writes by hand to get the named fields `query!` gives, so the
    /// difference to `checked` is the cost of the compile-time check alone.
    Rows,
}

const VARIANTS: [Variant; 3] = [Variant::Runtime, Variant::Rows, Variant::Checked];

impl Variant {
    fn package(self) -> &'static str {
        match self {
            Variant::Checked => "cc-checked",
            Variant::Runtime => "cc-runtime",
            Variant::Rows => "cc-rows",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Variant::Checked => "checked",
            Variant::Runtime => "runtime",
            Variant::Rows => "rows",
        }
    }
}

/// The `main.rs` of one variant.
fn source(variant: Variant, count: usize) -> String {
    let mut out = String::from(
        "//! Generated by benches/compile-cost; do not edit.\n\
         #![allow(unused_imports)]\n\
         use std::future::Future;\n\
         use std::pin::Pin;\n\
         use kalam_client::types::{Decimal, Timestamp};\n\
         use kalam_client::{KalamClient, Result};\n\n\
         type Job<'a> = Pin<Box<dyn Future<Output = Result<usize>> + 'a>>;\n\n",
    );
    for k in 0..count {
        let t = &TEMPLATES[k % TEMPLATES.len()];
        let sql = t.sql.replace("{k}", &k.to_string());
        let args: Vec<String> = t
            .args
            .iter()
            .map(|a| a.replace("{k}", &k.to_string()))
            .collect();
        let _ = writeln!(
            out,
            "async fn q{k}(client: &KalamClient, room: &str) -> Result<usize> {{"
        );
        if !args.iter().any(|a| a == "room") {
            out.push_str("    let _ = room;\n");
        }
        let body = match variant {
            Variant::Checked => {
                let mut call = format!("kalam_client::query!({sql:?}");
                for a in &args {
                    let _ = write!(call, ", {a}");
                }
                call.push(')');
                match t.row {
                    Some(_) => format!(
                        "    let rows = {call}.fetch_all(client).await?;\n    Ok(rows.len())\n"
                    ),
                    None => format!("    Ok({call}.execute(client).await? as usize)\n"),
                }
            }
            Variant::Runtime | Variant::Rows => {
                let mut call = match (t.row, variant) {
                    (Some(fields), Variant::Rows) => {
                        let _ = writeln!(
                            out,
                            "    #[derive(Debug, kalam_client::KalamRow)]\n    #[allow(dead_code)]\n    struct Row {{ {} }}",
                            fields
                                .split(", ")
                                .map(|f| format!("pub {f}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        format!("kalam_client::query_as::<Row>({sql:?})")
                    }
                    (Some(fields), _) => {
                        let types: Vec<&str> = fields
                            .split(", ")
                            .filter_map(|f| f.split_once(": ").map(|(_, ty)| ty))
                            .collect();
                        let comma = if types.len() == 1 { "," } else { "" };
                        format!("kalam_client::query_as::<({}{comma})>({sql:?})", types.join(", "))
                    }
                    (None, _) => format!("kalam_client::query({sql:?})"),
                };
                for a in &args {
                    let _ = write!(call, ".bind({a})");
                }
                match t.row {
                    Some(_) => {
                        format!("    let rows = {call}.fetch_all(client).await?;\n    Ok(rows.len())\n")
                    }
                    None => format!("    Ok({call}.execute(client).await? as usize)\n"),
                }
            }
        };
        out.push_str(&body);
        out.push_str("}\n\n");
    }
    out.push_str(
        "fn main() {\n    \
         let client = KalamClient::builder().base_url(\"http://127.0.0.1:9\").build().expect(\"client\");\n    \
         let room = String::from(\"main\");\n    \
         let jobs: Vec<Job<'_>> = vec![\n",
    );
    for k in 0..count {
        let _ = writeln!(out, "        Box::pin(q{k}(&client, &room)),");
    }
    out.push_str("    ];\n    std::hint::black_box(jobs);\n}\n");
    out
}

fn manifest(variant: Variant, client: &Path) -> String {
    format!(
        "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nkalam-client = {{ path = {:?}, default-features = false, features = [\"macros\"] }}\n",
        variant.package(),
        client.display().to_string()
    )
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// Writes the workspace (the kalam workspace's Cargo.lock is copied so that both crates
/// build the same dependency versions, offline).
fn generate(out: &Path, repo: &Path, count: usize, optimize_macros: bool) -> std::io::Result<()> {
    let mut workspace = String::from(
        "[workspace]\nresolver = \"3\"\nmembers = [\"checked\", \"runtime\", \"rows\"]\n\n\
         [profile.dev.package.\"*\"]\ndebug = false\n",
    );
    if optimize_macros {
        // What the kalam-macros README recommends: the macro and the SQL parser it runs,
        // optimized even in dev builds (proc macros are built at opt-level 0 by default).
        for package in ["kalam-macros", "kalam-schema", "sqlparser"] {
            for profile in ["dev", "release"] {
                let _ = write!(
                    workspace,
                    "\n[profile.{profile}.package.{package}]\nopt-level = 3\n"
                );
            }
        }
    }
    write_if_changed(&out.join("Cargo.toml"), &workspace)?;
    if !out.join("Cargo.lock").exists() {
        std::fs::copy(repo.join("Cargo.lock"), out.join("Cargo.lock"))?;
    }
    for variant in VARIANTS {
        let dir = out.join(variant.dir());
        write_if_changed(
            &dir.join("Cargo.toml"),
            &manifest(variant, &repo.join("kalam-client")),
        )?;
        write_if_changed(&dir.join("src/main.rs"), &source(variant, count))?;
    }
    Ok(())
}

struct Builder {
    out: PathBuf,
    schemas: PathBuf,
}

impl Builder {
    fn cargo(&self, variant: Variant, profile: &str) -> Command {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(&self.out)
            .args(["build", "--offline", "--quiet", "-p", variant.package()])
            .args(["--profile", cargo_profile(profile)])
            .env("CARGO_TARGET_DIR", self.out.join("target"))
            .env("KALAM_SCHEMA_DIR", &self.schemas)
            .env_remove("RUSTFLAGS");
        cmd
    }

    /// Builds once (untimed), so that dependencies are compiled.
    fn warm(&self, variant: Variant, profile: &str) -> Result<(), String> {
        let status = self
            .cargo(variant, profile)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("{} ({profile}) does not build", variant.package()));
        }
        Ok(())
    }

    /// Before a measured build: touches `main.rs` (so that Cargo rebuilds the crate) and, for
    /// `dev-fresh`, deletes its incremental cache.
    fn prepare(&self, variant: Variant, profile: &str) -> Result<(), String> {
        let main = self.out.join(variant.dir()).join("src/main.rs");
        let text = std::fs::read(&main).map_err(|e| format!("{}: {e}", main.display()))?;
        std::fs::write(&main, text).map_err(|e| format!("{}: {e}", main.display()))?;
        if profile == "dev-fresh" {
            self.forget_incremental(variant)?;
        }
        Ok(())
    }

    /// Deletes the variant's incremental cache, so that the next dev build compiles the crate
    /// from nothing (as a first or CI build does); its dependencies stay built.
    fn forget_incremental(&self, variant: Variant) -> Result<(), String> {
        let dir = self.out.join("target/debug/incremental");
        let prefix = format!("{}-", variant.package().replace('-', "_"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            }
        }
        Ok(())
    }

    /// Touches `main.rs` and rebuilds with rustc running under cachegrind (this program as
    /// Cargo's workspace wrapper, see `wrap_rustc`): the instructions rustc executes, which,
    /// unlike time on a shared machine, do not vary from run to run. Built twice, the second
    /// one counted: the first rebuild after switching the wrapper on is not an incremental one.
    fn instructions(&self, variant: Variant, profile: &str) -> Result<u64, String> {
        let log = self.out.join(format!("cachegrind-{}.log", variant.dir()));
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut counted = 0;
        for _ in 0..2 {
            self.prepare(variant, profile)?;
            let _ = std::fs::remove_file(&log);
            let status = self
                .cargo(variant, profile)
                .env("RUSTC_WORKSPACE_WRAPPER", &exe)
                .env(WRAP_ENV, &log)
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !status.success() {
                return Err(format!("{} ({profile}) does not build", variant.package()));
            }
            let text = std::fs::read_to_string(&log)
                .map_err(|e| format!("no cachegrind log {}: {e}", log.display()))?;
            counted = text
                .lines()
                .find_map(|l| l.split_once("I   refs:").map(|(_, n)| n.replace(',', "")))
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| format!("no instruction count in {}", log.display()))?;
        }
        Ok(counted)
    }

    /// Touches `main.rs` and times the rebuild: wall-clock time and the CPU time (user +
    /// system) of cargo and the compilers it ran.
    fn timed(&self, variant: Variant, profile: &str) -> Result<Sample, String> {
        self.prepare(variant, profile)?;
        let cpu_before = children_cpu();
        let start = Instant::now();
        let status = self
            .cargo(variant, profile)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        let wall = start.elapsed();
        let cpu = children_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        if !status.success() {
            return Err(format!("{} ({profile}) does not build", variant.package()));
        }
        Ok(Sample { wall, cpu })
    }
}

type Measure = fn(&Sample) -> Option<Duration>;

/// The Cargo profile of a measured profile: `dev-fresh` is `dev` with the crate's incremental
/// cache deleted before each timed build.
fn cargo_profile(profile: &str) -> &str {
    match profile {
        "dev-fresh" => "dev",
        other => other,
    }
}

/// One timed build.
struct Sample {
    wall: Duration,
    /// `None` where `/proc/self/stat` is not available.
    cpu: Option<Duration>,
}

/// User + system CPU time of this process's waited-for children (and theirs), from
/// `/proc/self/stat` (Linux). CPU time is what a build costs, whatever else the machine runs.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux configuration cargo runs on.
    Some(Duration::from_millis(ticks * 10))
}

fn min_median(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let secs = |d: Duration| d.as_secs_f64();
    let min = times.first().copied().map_or(0.0, secs);
    let n = times.len();
    let median = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        secs(times[n / 2])
    } else {
        (secs(times[n / 2 - 1]) + secs(times[n / 2])) / 2.0
    };
    (min, median)
}

struct Options {
    runs: usize,
    count: usize,
    profiles: Vec<String>,
    out: PathBuf,
    repo: Option<PathBuf>,
    optimize_macros: bool,
    generate_only: bool,
    instructions: bool,
}

fn options() -> Result<Options, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut o = Options {
        runs: 5,
        count: 200,
        profiles: vec!["dev".into(), "release".into()],
        out: target.join("compile-cost"),
        repo: None,
        optimize_macros: false,
        generate_only: false,
        instructions: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => o.runs = value()?.parse().map_err(|_| "--runs: a number")?,
            "--count" => o.count = value()?.parse().map_err(|_| "--count: a number")?,
            "--profiles" => o.profiles = value()?.split(',').map(str::to_owned).collect(),
            "--out" => o.out = PathBuf::from(value()?),
            "--repo" => o.repo = Some(PathBuf::from(value()?)),
            "--generate-only" => o.generate_only = true,
            "--optimize-macros" => o.optimize_macros = true,
            "--instructions" => o.instructions = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.out.is_relative() {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        o.out = cwd.join(&o.out);
    }
    Ok(o)
}

fn run() -> Result<(), String> {
    let o = options()?;
    let repo = o
        .repo
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .canonicalize()
        .map_err(|e| e.to_string())?;
    generate(&o.out, &repo, o.count, o.optimize_macros)
        .map_err(|e| format!("writing {}: {e}", o.out.display()))?;
    println!("generated {}", o.out.display());
    if o.generate_only {
        return Ok(());
    }
    let b = Builder {
        out: o.out.clone(),
        schemas: repo.join("schemas"),
    };
    let mut report = String::from(
        "| profile | measure | runtime, tuple rows | runtime, row structs | query! | added per invocation: vs tuples | vs row structs |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let per = |c: f64, r: f64| (c - r) / o.count as f64;
    for profile in &o.profiles {
        for v in VARIANTS {
            b.warm(v, profile)?;
        }
        if o.instructions {
            let mut m = [0.0; 3];
            for (i, v) in VARIANTS.into_iter().enumerate() {
                m[i] = b.instructions(v, profile)? as f64 / 1e6;
            }
            let [r, rows, c] = m;
            let _ = writeln!(
                report,
                "| {profile} | instructions (M) | {r:.1} | {rows:.1} | {c:.1} | {:.2} M | {:.2} M |",
                per(c, r),
                per(c, rows)
            );
            continue;
        }
        let mut samples: [Vec<Sample>; 3] = Default::default();
        for run in 0..o.runs {
            // Alternate, so that load from other processes hits every variant alike.
            let mut line = format!("{profile} run {}:", run + 1);
            for (i, v) in VARIANTS.into_iter().enumerate() {
                let s = b.timed(v, profile)?;
                let _ = write!(
                    line,
                    " {} {:.3} s (cpu {:.2} s)",
                    v.dir(),
                    s.wall.as_secs_f64(),
                    s.cpu.unwrap_or_default().as_secs_f64()
                );
                samples[i].push(s);
            }
            println!("{line}");
        }
        let measures: [(&str, Measure); 2] = [("wall", |s| Some(s.wall)), ("cpu", |s| s.cpu)];
        for (measure, get) in measures {
            let mut stats = [(0.0, 0.0); 3];
            let mut complete = true;
            for (i, runs) in samples.iter().enumerate() {
                match runs.iter().map(get).collect::<Option<Vec<_>>>() {
                    Some(t) => stats[i] = min_median(t),
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let [(rmin, rmed), (smin, smed), (cmin, cmed)] = stats;
            let ms = |x: f64| x * 1000.0;
            let _ = writeln!(
                report,
                "| {profile} | {measure} | {rmin:.2} s / {rmed:.2} s | {smin:.2} s / {smed:.2} s | {cmin:.2} s / {cmed:.2} s | {:.2} ms / {:.2} ms | {:.2} ms / {:.2} ms |",
                ms(per(cmin, rmin)),
                ms(per(cmed, rmed)),
                ms(per(cmin, smin)),
                ms(per(cmed, smed))
            );
        }
    }
    println!(
        "\n{} queries per crate, {} runs\n\n{report}",
        o.count, o.runs
    );
    Ok(())
}

/// Set (to the log file) when this program runs as Cargo's `RUSTC_WORKSPACE_WRAPPER`.
const WRAP_ENV: &str = "KALAM_COMPILE_COST_CACHEGRIND";

/// As the workspace wrapper (`this rustc args…`): the benchmark crates' rustc under
/// `valgrind --tool=cachegrind`, anything else (Cargo's probes) directly.
fn wrap_rustc(log: &std::ffi::OsStr) -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(rustc) = args.next() else {
        return ExitCode::FAILURE;
    };
    let args: Vec<_> = args.collect();
    let measured = args
        .windows(2)
        .any(|w| w[0] == "--crate-name" && w[1].to_string_lossy().starts_with("cc_"));
    let mut cmd = if measured {
        let mut c = Command::new("valgrind");
        c.args(["--tool=cachegrind", "--cache-sim=no"])
            .arg("--cachegrind-out-file=/dev/null")
            .arg({
                let mut a = std::ffi::OsString::from("--log-file=");
                a.push(log);
                a
            })
            .arg(&rustc);
        c
    } else {
        Command::new(&rustc)
    };
    match cmd.args(&args).status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!(
                "compile-cost wrapper: cannot run {}: {e}",
                if measured { "valgrind" } else { "rustc" }
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    if let Some(log) = std::env::var_os(WRAP_ENV) {
        return wrap_rustc(&log);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
