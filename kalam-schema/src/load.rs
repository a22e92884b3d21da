//! Loading a schema directory: every `*.sql` file in sorted order, statements applied in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ddl::{DEFAULT_NAMESPACE, DdlStatement, DdlTarget};
use crate::error::{ErrorKind, SchemaError};
use crate::model::Catalog;
use crate::parse::parse_ddl_located;

/// The result of loading a schema directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSchema {
    /// The catalog: built-ins (`default`, `system.*`) plus everything the files create.
    pub catalog: Catalog,
    /// The files read, in the order they were applied (macros track them for rebuilds).
    pub files: Vec<PathBuf>,
    /// For each namespace (`"ns"`) and table (`"ns.t"`), the indices into `files` of the
    /// files with a statement that creates, alters or drops it.
    sources: BTreeMap<String, Vec<usize>>,
}

impl LoadedSchema {
    /// The schema files a query over table `namespace.table` depends on: those that create,
    /// alter or drop the table or its namespace, in load order. A macro that checked such a
    /// query names these (and only these) files as inputs of the crate, so that editing an
    /// unrelated schema file does not re-expand it.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("kalam-schema-files-for-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("a.sql"), "CREATE NAMESPACE app; CREATE TABLE app.t (id INT PRIMARY KEY);").unwrap();
    /// std::fs::write(dir.join("b.sql"), "CREATE TABLE app.u (id INT PRIMARY KEY);").unwrap();
    /// std::fs::write(dir.join("c.sql"), "ALTER TABLE app.t ADD COLUMN n INT;").unwrap();
    /// // Creates nothing that exists already: not a source of `app` (nor of `app.t`).
    /// std::fs::write(dir.join("d.sql"), "CREATE NAMESPACE IF NOT EXISTS app; CREATE TABLE app.v (id INT PRIMARY KEY);").unwrap();
    /// let loaded = kalam_schema::load_dir(&dir).unwrap();
    /// let names = |ns, t| -> Vec<String> {
    ///     loaded.files_for_table(ns, t).map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    /// };
    /// assert_eq!(names("app", "t"), ["a.sql", "c.sql"]);
    /// assert_eq!(names("app", "u"), ["a.sql", "b.sql"]);
    /// assert_eq!(names("app", "v"), ["a.sql", "d.sql"]);
    /// assert!(names("system", "users").is_empty()); // built in, from no file
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn files_for_table<'s>(
        &'s self,
        namespace: &str,
        table: &str,
    ) -> impl Iterator<Item = &'s Path> + 's {
        let mut found: Vec<usize> = Vec::new();
        for key in [namespace.to_owned(), format!("{namespace}.{table}")] {
            found.extend(self.sources.get(&key).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|k| self.files[k].as_path())
    }
}

/// Loads every `*.sql` file directly inside `dir` (sorted by file name) into a catalog that
/// starts from [`Catalog::with_builtins`]. Each file starts in the `default` namespace; `USE`
/// changes it for the rest of that file. Errors carry the file, line and column.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("kalam-schema-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("app.sql"), "CREATE NAMESPACE app;\nCREATE TABLE app.t (id INT PRIMARY KEY);").unwrap();
/// let loaded = kalam_schema::load_dir(&dir).unwrap();
/// assert!(loaded.catalog.table("app", "t").is_some());
/// assert_eq!(loaded.files.len(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_dir(dir: impl AsRef<Path>) -> Result<LoadedSchema, SchemaError> {
    let dir = dir.as_ref();
    let io_err = |what: &str, path: &Path, e: std::io::Error| {
        SchemaError::new(
            ErrorKind::Io,
            format!("cannot {what} {}: {e}", path.display()),
        )
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_err("read schema directory", dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut texts = Vec::with_capacity(files.len());
    for file in &files {
        texts.push(std::fs::read_to_string(file).map_err(|e| io_err("read", file, e))?);
    }
    // Parsing dominates and files parse independently (each starts in `default`): parse them on
    // a few threads, then apply the statements strictly in file order.
    let parsed = parse_all(&texts);
    let mut catalog = Catalog::with_builtins();
    let mut sources: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, (file, stmts)) in files.iter().zip(parsed).enumerate() {
        for located in stmts.map_err(|e| e.in_file(file))? {
            let loc = located.location;
            let key = source_key(&located.statement, &catalog);
            if let Some(key) = key {
                let list = sources.entry(key).or_default();
                if list.last() != Some(&k) {
                    list.push(k);
                }
            }
            catalog
                .apply(located.statement)
                .map_err(|e| e.or_at(|| loc).in_file(file))?;
        }
    }
    Ok(LoadedSchema {
        catalog,
        files,
        sources,
    })
}

/// The [`LoadedSchema`] `sources` key (`"ns"` or `"ns.t"`) of what `stmt` changes in
/// `catalog`, if it changes something a query reads.
fn source_key(stmt: &DdlStatement, catalog: &Catalog) -> Option<String> {
    match stmt {
        // `IF NOT EXISTS` over what already exists changes nothing: such a file (say, one
        // table per file, each opening with `CREATE NAMESPACE IF NOT EXISTS app`) is not a
        // source of it. Should the file that did create it be deleted, Cargo rebuilds (it was
        // an input) and the next load finds the new creator.
        DdlStatement::CreateNamespace {
            name,
            if_not_exists: true,
        } if catalog.namespaces.contains_key(name) => None,
        DdlStatement::CreateTable {
            table,
            if_not_exists: true,
        } if catalog.table(&table.namespace, &table.name).is_some() => None,
        _ => match stmt.target() {
            DdlTarget::Namespace(ns) => Some(ns.to_owned()),
            DdlTarget::Table { namespace, table } => Some(format!("{namespace}.{table}")),
            DdlTarget::None => None,
        },
    }
}

type ParsedFile = Result<Vec<crate::parse::LocatedDdl>, SchemaError>;

fn parse_all(texts: &[String]) -> Vec<ParsedFile> {
    let parse = |t: &String| parse_ddl_located(t, DEFAULT_NAMESPACE);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let total: usize = texts.iter().map(String::len).sum();
    if threads < 2 || texts.len() < 2 || total < 64 * 1024 {
        return texts.iter().map(parse).collect();
    }
    let chunk = texts.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for (h, part) in handles.into_iter().zip(texts.chunks(chunk)) {
            match h.join() {
                Ok(results) => out.extend(results),
                // A panicking parser thread is a bug; parse that part again here so the
                // error surfaces as a panic in the caller's thread, not a lost result.
                Err(_) => out.extend(part.iter().map(parse)),
            }
        }
        out
    })
}

/// Loads DDL text (one or more statements) into a catalog that starts from
/// [`Catalog::with_builtins`].
///
/// ```
/// let c = kalam_schema::load_str("CREATE NAMESPACE app; CREATE TABLE app.t (id INT PRIMARY KEY)").unwrap();
/// assert!(c.table("app", "t").is_some());
/// ```
pub fn load_str(sql: &str) -> Result<Catalog, SchemaError> {
    let mut catalog = Catalog::with_builtins();
    apply_text(&mut catalog, sql)?;
    Ok(catalog)
}

/// Parses `sql` and applies each statement to `catalog`; errors while applying point at the
/// statement's object name.
pub fn apply_text(catalog: &mut Catalog, sql: &str) -> Result<(), SchemaError> {
    for located in parse_ddl_located(sql, DEFAULT_NAMESPACE)? {
        let loc = located.location;
        catalog
            .apply(located.statement)
            .map_err(|e| e.or_at(|| loc))?;
    }
    Ok(())
}
