//! The `kalam-codegen` command line: `pull`, `generate`, `check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kalam_codegen::{
    Credentials, DriftReport, Error, FileCheck, FileStatus, Generator, HttpSource, SourceError,
    TableFilter,
};
use serde_json::json;

/// Pull KalamDB schemas into schemas/, generate Rust types, check drift in CI.
#[derive(Debug, Parser)]
#[command(name = "kalam-codegen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a server's namespaces, tables and columns into schemas/<namespace>.sql.
    Pull {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// The schema directory to write.
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
    /// Generate Rust types from the schema files.
    Generate {
        /// The schema directory.
        #[arg(long, default_value = "schemas")]
        schemas: PathBuf,
        /// A directory (mod.rs plus one file per namespace) or a single `.rs` file.
        #[arg(long)]
        out: PathBuf,
        /// The config file (default: kalam-codegen.toml when it exists).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Compare the schema files with a server (--url) and/or the generated code with the schema
    /// files (--out). Exit code 0 when clean, 1 on drift, 2 on errors.
    Check {
        /// The schema directory.
        #[arg(long, default_value = "schemas")]
        schemas: PathBuf,
        /// Generated code to verify: a directory or a single `.rs` file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The config file (default: kalam-codegen.toml when it exists).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        server: OptionalServerArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct AuthArgs {
    /// User to log in as (a dba or system user: system tables need it).
    #[arg(long, env = "KALAMDB_USER")]
    user: Option<String>,
    /// Password for --user.
    #[arg(long, env = "KALAMDB_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// An access token instead of --user/--password.
    #[arg(
        long,
        env = "KALAMDB_TOKEN",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Server URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "KALAMDB_SERVER_URL")]
    url: String,
    #[command(flatten)]
    auth: AuthArgs,
}

#[derive(Debug, Args)]
struct OptionalServerArgs {
    /// Server URL to compare the schema files with. Only this flag makes `check` go online:
    /// unlike `pull`, it does not read KALAMDB_SERVER_URL (pass `--url "$KALAMDB_SERVER_URL"`).
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    auth: AuthArgs,
}

#[derive(Debug, Args)]
struct FilterArgs {
    /// Only namespaces matching this glob (repeatable).
    #[arg(long = "namespace", value_name = "GLOB")]
    namespaces: Vec<String>,
    /// Only tables matching this glob, `table` or `namespace.table` (repeatable).
    #[arg(long = "table", value_name = "GLOB")]
    tables: Vec<String>,
    /// Leave out tables matching this glob (repeatable).
    #[arg(long = "exclude", value_name = "GLOB")]
    exclude: Vec<String>,
}

impl FilterArgs {
    fn filter(&self) -> TableFilter {
        TableFilter {
            namespaces: self.namespaces.clone(),
            tables: self.tables.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

impl AuthArgs {
    fn credentials(&self) -> Result<Credentials, SourceError> {
        match (&self.token, &self.user, &self.password) {
            (Some(token), _, _) => Ok(Credentials::Token(token.clone())),
            (None, Some(user), Some(password)) => Ok(Credentials::Password {
                user: user.clone(),
                password: password.clone(),
            }),
            _ => Err(SourceError::NoCredentials),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_errors = matches!(
        &cli.command,
        Command::Check {
            format: Format::Json,
            ..
        }
    );
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            if json_errors {
                println!("{}", json!({ "status": "error", "error": error_chain(&e) }));
            } else {
                eprint!("{}", render_error(&e));
            }
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            action: "start",
            path: PathBuf::from("tokio runtime"),
            source: e,
        })
}

async fn connect(url: &str, auth: &AuthArgs) -> Result<HttpSource, Error> {
    Ok(HttpSource::connect(url, auth.credentials()?).await?)
}

fn generator(schemas: PathBuf, out: PathBuf, config: Option<PathBuf>) -> Generator {
    let g = Generator::new().schemas(schemas).cargo_rerun_lines(false);
    let g = match config {
        Some(path) => g.config_file(path),
        None => g,
    };
    if out.extension().is_some_and(|e| e == "rs") {
        g.out_file(out)
    } else {
        g.out_modules(out)
    }
}

fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Pull {
            server,
            filter,
            out,
        } => {
            let pulled = runtime()?.block_on(async {
                let mut source = connect(&server.url, &server.auth).await?;
                kalam_codegen::pull(&mut source, &filter.filter(), &out).await
            })?;
            for w in &pulled.warnings {
                eprintln!("warning: {w}");
            }
            report_written(&pulled.files.write()?, pulled.files.files().len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            schemas,
            out,
            config,
        } => {
            let g = generator(schemas, out, config);
            let generated = g.generate()?;
            report_written(&generated.files.write()?, generated.files.files().len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            schemas,
            out,
            config,
            server,
            filter,
            format,
        } => check(schemas, out, config, server, filter, format),
    }
}

fn report_written(changed: &[PathBuf], total: usize) {
    if changed.is_empty() {
        println!("{total} file(s) up to date");
    }
    for path in changed {
        println!("wrote {}", path.display());
    }
}

fn check(
    schemas: PathBuf,
    out: Option<PathBuf>,
    config: Option<PathBuf>,
    server: OptionalServerArgs,
    filter: FilterArgs,
    format: Format,
) -> Result<ExitCode, Error> {
    if out.is_none() && server.url.is_none() {
        return Err(Error::Missing(
            "what to check: --url (server drift) and/or --out (generated code)",
        ));
    }
    let files: Option<Vec<FileCheck>> = match out {
        Some(out) => Some(generator(schemas.clone(), out, config).check()?),
        None => None,
    };
    let drift: Option<DriftReport> = match &server.url {
        Some(url) => Some(runtime()?.block_on(async {
            let filter = filter.filter();
            let mut source = connect(url, &server.auth).await?;
            let actual = kalam_codegen::introspect::pull_catalog(&mut source, &filter).await?;
            let mut expected =
                kalam_codegen::user_catalog(kalam_codegen::load_schemas(&schemas)?.catalog);
            filter.apply(&mut expected);
            Ok::<_, Error>(kalam_codegen::diff(&expected, &actual))
        })?),
        None => None,
    };
    let stale: Vec<&FileCheck> = files
        .iter()
        .flatten()
        .filter(|f| f.status != FileStatus::UpToDate)
        .collect();
    let drifted = drift.as_ref().is_some_and(|d| !d.is_clean());
    let dirty = drifted || !stale.is_empty();
    match format {
        Format::Json => {
            let mut doc = json!({ "status": if dirty { "drift" } else { "clean" } });
            if let Some(d) = &drift {
                doc["changes"] = json!(d.changes);
            }
            if let Some(f) = &files {
                doc["files"] = json!(f);
            }
            println!("{doc}");
        }
        Format::Text => {
            if let Some(d) = &drift {
                print!("{}", d.to_text());
            }
            if files.is_some() {
                if stale.is_empty() {
                    println!("generated code is up to date with the schema files");
                } else {
                    println!("generated code is out of date; run `kalam-codegen generate`:");
                    for f in &stale {
                        let what = match f.status {
                            FileStatus::Missing => "missing",
                            FileStatus::Stale => "stale",
                            FileStatus::Orphaned => "orphaned",
                            FileStatus::UpToDate => "up to date",
                        };
                        println!("  {what:<9} {}", f.path.display());
                    }
                }
            }
        }
    }
    Ok(if dirty {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The error and its `source()` chain, one cause per line.
fn error_chain(e: &Error) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push_str(&format!(": {c}"));
        cur = c.source();
    }
    out
}

fn render_error(e: &Error) -> String {
    if let Error::Schema(diag) = e {
        return diag.render();
    }
    let mut out = format!("error: {e}\n");
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push_str(&format!("  caused by: {c}\n"));
        cur = c.source();
    }
    out
}
