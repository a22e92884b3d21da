//! [`Generator`]: schema files → Rust files, from `build.rs` or the CLI.

use std::path::{Path, PathBuf};

use kalam_schema::{Catalog, TableKind};

use crate::config::Config;
use crate::emit_rust::GENERATED_MARKER;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::render;
use crate::vfs::{FileCheck, FileSet, FileStatus};

/// The file [`Generator::out_dir`] writes; include it with
/// `include!(concat!(env!("OUT_DIR"), "/kalam.rs"))`.
pub const INCLUDE_FILE: &str = "kalam.rs";

/// The config file looked for in the current directory when none is given.
pub const CONFIG_FILE: &str = "kalam-codegen.toml";

#[derive(Debug, Clone)]
enum Output {
    /// One file of inline modules.
    File(PathBuf),
    /// `mod.rs` plus one file per namespace.
    Modules(PathBuf),
}

#[derive(Debug, Clone)]
enum ConfigSource {
    /// `kalam-codegen.toml` in the current directory, if it exists.
    Discover,
    File(PathBuf),
    Value(Config),
}

/// Generates Rust types from a schema directory. Made for `build.rs`:
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     kalam_codegen::Generator::new()
///         .schemas("schemas")
///         .out_dir(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?)
///         .run()?;
///     Ok(())
/// }
/// // src/lib.rs: include!(concat!(env!("OUT_DIR"), "/kalam.rs"));
/// ```
///
/// `run` prints `cargo:rerun-if-changed` for the schema directory, every schema file and the
/// config file, so Cargo regenerates exactly when one of them changes.
#[derive(Debug, Clone)]
#[must_use]
pub struct Generator {
    schemas: Option<PathBuf>,
    config: ConfigSource,
    output: Option<Output>,
    rerun_lines: bool,
}

impl Default for Generator {
    fn default() -> Generator {
        Generator::new()
    }
}

/// What [`Generator::generate`] produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The output files, in memory.
    pub files: FileSet,
    /// The schema and config files that were read.
    pub inputs: Vec<PathBuf>,
}

impl Generator {
    /// A generator with no schema directory and no output yet.
    pub fn new() -> Generator {
        Generator {
            schemas: None,
            config: ConfigSource::Discover,
            output: None,
            rerun_lines: true,
        }
    }

    /// The schema directory (`*.sql` files, applied in file-name order).
    pub fn schemas(mut self, dir: impl Into<PathBuf>) -> Generator {
        self.schemas = Some(dir.into());
        self
    }

    /// Reads settings from this `kalam-codegen.toml` (it must exist). Without this call,
    /// `kalam-codegen.toml` in the current directory is used when present.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Generator {
        self.config = ConfigSource::File(path.into());
        self
    }

    /// Uses these settings instead of a config file.
    pub fn config(mut self, config: Config) -> Generator {
        self.config = ConfigSource::Value(config);
        self
    }

    /// Writes one file, `dir/kalam.rs` ([`INCLUDE_FILE`]), for `include!` from `OUT_DIR`.
    pub fn out_dir(self, dir: impl Into<PathBuf>) -> Generator {
        self.out_file(dir.into().join(INCLUDE_FILE))
    }

    /// Writes one file with a module per namespace.
    pub fn out_file(mut self, path: impl Into<PathBuf>) -> Generator {
        self.output = Some(Output::File(path.into()));
        self
    }

    /// Writes `dir/mod.rs` and one `dir/<namespace>.rs` per namespace (checked-in code,
    /// `src/generated/`). Generated files of namespaces that no longer exist are deleted.
    pub fn out_modules(mut self, dir: impl Into<PathBuf>) -> Generator {
        self.output = Some(Output::Modules(dir.into()));
        self
    }

    /// Whether [`run`](Generator::run) prints `cargo:rerun-if-changed` lines (default true).
    pub fn cargo_rerun_lines(mut self, on: bool) -> Generator {
        self.rerun_lines = on;
        self
    }

    fn load_config(&self) -> Result<(Config, Option<PathBuf>)> {
        match &self.config {
            ConfigSource::Value(c) => Ok((c.clone(), None)),
            ConfigSource::File(p) => Ok((Config::load(p)?, Some(p.clone()))),
            ConfigSource::Discover => {
                let p = PathBuf::from(CONFIG_FILE);
                if p.is_file() {
                    Ok((Config::load(&p)?, Some(p)))
                } else {
                    Ok((Config::default(), None))
                }
            }
        }
    }

    /// Loads the schema and config and renders every output file in memory.
    pub fn generate(&self) -> Result<Generated> {
        let dir = self
            .schemas
            .as_ref()
            .ok_or(Error::Missing("schema directory (.schemas)"))?;
        let output = self.output.as_ref().ok_or(Error::Missing(
            "output (.out_dir, .out_file or .out_modules)",
        ))?;
        let (config, config_path) = self.load_config()?;
        let loaded = crate::load_schemas(dir)?;
        let mut catalog = user_catalog(loaded.catalog);
        config.validate_against(&catalog)?;
        config.filter().apply(&mut catalog);
        let files = render(&catalog, &config, output)?;
        let mut inputs = vec![dir.clone()];
        inputs.extend(loaded.files);
        inputs.extend(config_path);
        Ok(Generated { files, inputs })
    }

    /// Generates and writes the files that changed; prints `cargo:rerun-if-changed` lines
    /// unless turned off. Returns the paths written or deleted.
    pub fn run(&self) -> Result<Vec<PathBuf>> {
        let generated = self.generate()?;
        if self.rerun_lines {
            for input in &generated.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
        generated.files.write()
    }

    /// Compares the generated files with the disk without writing anything.
    pub fn check(&self) -> Result<Vec<FileCheck>> {
        self.generate()?.files.check()
    }

    /// True when [`check`](Generator::check) finds every file up to date.
    pub fn is_up_to_date(&self) -> Result<bool> {
        Ok(self
            .check()?
            .iter()
            .all(|c| c.status == FileStatus::UpToDate))
    }
}

/// The catalog without the built-ins a loaded schema starts from: the `system` namespace,
/// system tables, and an empty `default` namespace.
pub fn user_catalog(mut catalog: Catalog) -> Catalog {
    catalog.namespaces.remove("system");
    for ns in catalog.namespaces.values_mut() {
        ns.tables.retain(|_, t| t.kind != TableKind::System);
    }
    if catalog
        .namespaces
        .get("default")
        .is_some_and(|ns| ns.tables.is_empty() && ns.topics.is_empty())
    {
        catalog.namespaces.remove("default");
    }
    catalog
}

fn render(catalog: &Catalog, config: &Config, output: &Output) -> Result<FileSet> {
    let plan = Plan::new(catalog, config)?;
    Ok(match output {
        Output::File(path) => {
            let (root, name) = split_file(path);
            let mut files = FileSet::new(root);
            files.insert(name, render::single_file(&plan.namespaces)?);
            files
        }
        Output::Modules(dir) => {
            let mut files = FileSet::new(dir).pruning("rs", GENERATED_MARKER);
            for (name, text) in render::directory(&plan.namespaces)? {
                files.insert(name, text);
            }
            files
        }
    })
}

/// Renders Rust for a catalog in memory as one file (benchmarks, tests, tools).
///
/// ```
/// let catalog = kalam_schema::load_str(
///     "CREATE NAMESPACE app; CREATE TABLE app.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL) WITH (TYPE = 'USER')",
/// ).unwrap();
/// let code = kalam_codegen::generate_rust(&kalam_codegen::user_catalog(catalog), &Default::default()).unwrap();
/// assert!(code.contains("pub struct Todo {"));
/// assert!(code.contains("pub title: ::std::string::String,"));
/// ```
pub fn generate_rust(catalog: &Catalog, config: &Config) -> Result<String> {
    config.validate_against(catalog)?;
    let mut catalog = catalog.clone();
    config.filter().apply(&mut catalog);
    let plan = Plan::new(&catalog, config)?;
    Ok(render::single_file(&plan.namespaces)?)
}

fn split_file(path: &Path) -> (PathBuf, PathBuf) {
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INCLUDE_FILE));
    (root, name)
}
