//! `pull`: a server's catalog → `schemas/<namespace>.sql`.

use std::path::Path;

use kalam_schema::Catalog;

use crate::emit_sql::{self, SQL_MARKER};
use crate::error::Result;
use crate::filter::TableFilter;
use crate::introspect::{self, SqlSource};
use crate::vfs::FileSet;

/// What [`pull`] produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The server's catalog (selected tables, topics carried over from existing files).
    pub catalog: Catalog,
    /// One `<namespace>.sql` per namespace, not yet written.
    pub files: FileSet,
    /// Things the user should know (an existing schema directory that did not load, …).
    pub warnings: Vec<String>,
}

/// Reads the catalog from `source` and renders `out/<namespace>.sql` files in memory.
///
/// Topics cannot be read from `system.tables`/`system.columns` (protocol 8), so topics already
/// declared in `out` are carried over for the namespaces pulled, minus routes whose source
/// table no longer exists. Without namespace or table globs, generated `.sql` files of
/// namespaces that no longer exist are deleted when the files are written.
pub async fn pull<S: SqlSource>(
    source: &mut S,
    filter: &TableFilter,
    out: &Path,
) -> Result<Pulled> {
    let mut catalog = crate::user_catalog(introspect::pull_catalog(source, filter).await?);
    let mut warnings = Vec::new();
    if has_sql_files(out) {
        match kalam_schema::load_dir(out) {
            Ok(existing) => carry_topics(&existing.catalog, &mut catalog),
            Err(e) => warnings.push(format!(
                "topics not carried over: the existing schema files do not load: {e}"
            )),
        }
    }
    let mut files = FileSet::new(out);
    if filter.namespaces.is_empty() && filter.tables.is_empty() && filter.exclude.is_empty() {
        files = files.pruning("sql", SQL_MARKER);
    }
    for (name, text) in emit_sql::catalog_sql(&catalog) {
        files.insert(name, text);
    }
    Ok(Pulled {
        catalog,
        files,
        warnings,
    })
}

fn has_sql_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
}

/// Copies the topics of `from` into the namespaces of `to`, keeping only routes whose source
/// table exists in `to`.
pub(crate) fn carry_topics(from: &Catalog, to: &mut Catalog) {
    let tables: Vec<(String, String)> = to
        .tables()
        .map(|t| (t.namespace.clone(), t.name.clone()))
        .collect();
    for (name, ns) in to.namespaces.iter_mut() {
        let Some(old) = from.namespaces.get(name) else {
            continue;
        };
        for topic in old.topics.values() {
            let mut topic = topic.clone();
            topic.sources.retain(|s| {
                tables
                    .iter()
                    .any(|(n, t)| *n == s.namespace && *t == s.table)
            });
            ns.topics.insert(topic.name.clone(), topic);
        }
    }
}
