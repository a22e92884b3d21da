//! Finding the schema directory, loading it once per compilation, and turning
//! `SchemaError`s into `syn::Error`s spanned on the macro's SQL literal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use kalam_schema::{Catalog, LoadedSchema, SchemaError, TableRef};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// A loaded schema directory: the catalog, the files it was read from and which file
/// defines which table.
pub(crate) struct Schema {
    loaded: LoadedSchema,
}

impl Schema {
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.loaded.catalog
    }

    /// The files an expansion over `tables` (namespace, name) depends on: those that create,
    /// alter or drop one of them or its namespace. An expansion names only these as inputs,
    /// so that its cost does not grow with the size of the whole schema directory and editing
    /// an unrelated file re-expands nothing. A statement over no table (`SELECT 1`) depends on
    /// no file; a failed check produces no build output, so nothing needs tracking there.
    fn files_for<'a>(&self, tables: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<&str> {
        let mut files: Vec<&Path> = Vec::new();
        for (ns, name) in tables {
            files.extend(self.loaded.files_for_table(ns, name));
        }
        files.sort_unstable();
        files.dedup();
        files.into_iter().filter_map(|f| f.to_str()).collect()
    }

    /// [`Schema::files_for`] the tables a statement uses.
    fn files_of(&self, tables: &[TableRef]) -> Vec<&str> {
        self.files_for(
            tables
                .iter()
                .map(|t| (t.namespace.as_str(), t.name.as_str())),
        )
    }

    /// The schema files of `table`, as one `include_bytes!` each in one unnamed constant:
    /// rustc records them as inputs of the crate, so editing a file makes Cargo rebuild it and
    /// the macros expand again (stable Rust has no other way to declare a proc macro's input
    /// files). One item per expansion rather than one per file keeps this cheap.
    pub(crate) fn includes(&self, namespace: &str, table: &str) -> TokenStream {
        let files = self.files_for([(namespace, table)]);
        if files.is_empty() {
            return TokenStream::new();
        }
        quote! { const _: &[&[u8]] = &[#(::core::include_bytes!(#files)),*]; }
    }

    /// The same files as doc attributes (`#[doc = include_str!(…)]`), for the `Record` a query
    /// macro writes: rustc reads and records them without type-checking or evaluating
    /// anything (cheaper than a constant).
    ///
    /// Every expansion includes the files it depends on, whatever other expansions do.
    /// Including them only in a crate's first expansion was measured as slightly cheaper, but
    /// it made an expansion depend on the order macros are expanded in, and expansions must be
    /// deterministic (rust-analyzer re-expands single macros in a long-lived process).
    pub(crate) fn include_attrs(&self, tables: &[TableRef]) -> TokenStream {
        let files = self.files_of(tables);
        quote! { #(#[doc = ::core::include_str!(#files)])* }
    }

    /// [`Schema::include_attrs`] as a statement, for an expansion without a record: the
    /// attributes on an empty `let` (which needs the doc-comment lint allowed).
    pub(crate) fn include_statement(&self, tables: &[TableRef]) -> TokenStream {
        let files = self.files_of(tables);
        if files.is_empty() {
            return TokenStream::new();
        }
        quote! {
            #[allow(unused_doc_comments)]
            #(#[doc = ::core::include_str!(#files)])*
            let _: () = ();
        }
    }
}

type Stamp = Vec<(PathBuf, Option<SystemTime>)>;
type Cache = Mutex<HashMap<PathBuf, (Stamp, Result<Arc<Schema>, String>)>>;

/// Parsed catalogs by directory, reused while the files' modification times are unchanged.
static CACHE: OnceLock<Cache> = OnceLock::new();

/// Where the schema lives: `KALAM_SCHEMA_DIR`, else `[package.metadata.kalam] schemas` (or
/// `schema-dir`) in the calling crate's Cargo.toml, else the nearest `schemas/` walking up
/// from `CARGO_MANIFEST_DIR`.
pub(crate) fn schema_dir() -> Result<PathBuf, String> {
    #[cfg(test)]
    if let Some(dir) = test_dir::get() {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os("KALAM_SCHEMA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or("CARGO_MANIFEST_DIR is not set; set KALAM_SCHEMA_DIR to the schema directory")?;
    if let Ok(text) = std::fs::read_to_string(manifest_dir.join("Cargo.toml"))
        && let Some(dir) = metadata_schema_dir(&text)
    {
        return Ok(manifest_dir.join(dir));
    }
    manifest_dir
        .ancestors()
        .map(|d| d.join("schemas"))
        .find(|d| d.is_dir())
        .ok_or_else(|| {
            format!(
                "no schema directory: set KALAM_SCHEMA_DIR, add `[package.metadata.kalam] \
                 schemas = \"…\"` to Cargo.toml, or create `schemas/` in {} or a parent \
                 (`kalam-codegen pull` writes it)",
                manifest_dir.display()
            )
        })
}

/// `schemas = "…"` (or `schema-dir = "…"`) under `[package.metadata.kalam]`: a small line
/// parser, enough for the one key we read.
fn metadata_schema_dir(manifest: &str) -> Option<String> {
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line.trim_end_matches(|c| c != ']') == "[package.metadata.kalam]";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if matches!(key.trim(), "schemas" | "schema-dir" | "schema_dir") {
            let value = value.trim();
            let value = value.split_once('#').map_or(value, |(v, _)| v).trim();
            return value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

fn stamp(dir: &Path) -> Stamp {
    let mut files: Stamp = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
            (p, modified)
        })
        .collect();
    files.sort();
    files
}

/// Loads the schema directory (cached per directory while no file changed). Errors are
/// spanned on `span`.
pub(crate) fn load(span: Span) -> syn::Result<Arc<Schema>> {
    let dir = schema_dir().map_err(|m| syn::Error::new(span, m))?;
    let stamp = stamp(&dir);
    let cache = CACHE.get_or_init(Cache::default);
    let mut map = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((cached_stamp, result)) = map.get(&dir)
        && *cached_stamp == stamp
    {
        return result.clone().map_err(|m| syn::Error::new(span, m));
    }
    let result = match kalam_schema::load_dir(&dir) {
        Ok(loaded) => Ok(Arc::new(Schema { loaded })),
        Err(e) => Err(schema_file_error(&dir, &e)),
    };
    map.insert(dir, (stamp, result.clone()));
    result.map_err(|m| syn::Error::new(span, m))
}

/// A schema-file error: file and line, with the offending line drawn.
fn schema_file_error(dir: &Path, e: &SchemaError) -> String {
    let file = e.location.as_ref().and_then(|l| l.file.clone());
    match file.and_then(|f| std::fs::read_to_string(&f).ok()) {
        Some(text) => format!(
            "invalid schema file (schema directory {}):\n{}",
            dir.display(),
            e.render(&text).trim_start_matches("error: ").trim_end()
        ),
        None => format!("cannot load the schema directory {}: {e}", dir.display()),
    }
}

/// A query error: the SQL with a caret under the mistake, the reason and the suggestion.
pub(crate) fn sql_error(span: Span, sql: &str, e: &SchemaError) -> syn::Error {
    let position = e
        .location
        .as_ref()
        .map(|l| format!(" (sql {}:{})", l.line, l.column))
        .unwrap_or_default();
    let rendered = e.render(sql);
    let detail = rendered
        .split_once('\n')
        .map(|(_, rest)| rest.trim_end())
        .unwrap_or("");
    syn::Error::new(
        span,
        format!("{}{position}\n{detail}", e.message).trim_end(),
    )
}

/// Unit tests pick the schema directory per thread (setting `KALAM_SCHEMA_DIR` would need
/// `unsafe` and would leak into other tests).
#[cfg(test)]
pub(crate) mod test_dir {
    use std::cell::RefCell;
    use std::path::PathBuf;

    thread_local!(static DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) });

    pub(crate) fn set(dir: PathBuf) {
        DIR.with(|d| *d.borrow_mut() = Some(dir));
    }

    pub(crate) fn get() -> Option<PathBuf> {
        DIR.with(|d| d.borrow().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_metadata_key() {
        let toml =
            "[package]\nname = \"x\"\n\n[package.metadata.kalam]\nschemas = \"db/schemas\" # c\n";
        assert_eq!(metadata_schema_dir(toml).as_deref(), Some("db/schemas"));
        let other = "[package.metadata.other]\nschemas = \"no\"\n";
        assert_eq!(metadata_schema_dir(other), None);
        let dashed = "[package.metadata.kalam]\nschema-dir = \"s\"\n";
        assert_eq!(metadata_schema_dir(dashed).as_deref(), Some("s"));
    }

    #[test]
    fn sql_errors_draw_a_caret() {
        let c = kalam_schema::load_str(
            "CREATE NAMESPACE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, title TEXT)",
        )
        .unwrap();
        let sql = "SELECT titel FROM app.t";
        let e = kalam_schema::describe(&c, sql, None).unwrap_err();
        let msg = sql_error(Span::call_site(), sql, &e).to_string();
        assert!(msg.contains("(sql 1:8)"), "{msg}");
        assert!(msg.contains("       ^^^^^"), "{msg}");
        assert!(msg.contains("did you mean `title`?"), "{msg}");
    }
}
