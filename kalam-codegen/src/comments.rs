//! Doc comments from schema files: the `--` lines right above a `CREATE TABLE` become the
//! table's comment, and the `--` lines right above a column definition (or a `--` comment at
//! the end of its line) the column's comment. KalamDB has no DDL syntax for table comments, so
//! this is how hand-written schema files document their tables; `pull` writes table comments
//! back the same way.

use std::path::Path;

use kalam_schema::{Catalog, DdlStatement, LoadedSchema};

use crate::emit_sql::SQL_MARKER;
use crate::error::{Error, Result};

/// Loads a schema directory with `kalam_schema::load_dir`, then adds the `--` doc comments of
/// tables and columns that have no `COMMENT`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("kalam-codegen-doc-load-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("app.sql"), "CREATE NAMESPACE app;\n\
///     -- Things to do.\n\
///     CREATE TABLE app.todos (\n\
///         -- Server-assigned id.\n\
///         id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),\n\
///         title TEXT NOT NULL -- What to do.\n\
///     ) WITH (TYPE = 'USER');\n").unwrap();
/// let loaded = kalam_codegen::load_schemas(&dir).unwrap();
/// let todos = loaded.catalog.table("app", "todos").unwrap();
/// assert_eq!(todos.comment.as_deref(), Some("Things to do."));
/// assert_eq!(todos.column("id").unwrap().comment.as_deref(), Some("Server-assigned id."));
/// assert_eq!(todos.column("title").unwrap().comment.as_deref(), Some("What to do."));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_schemas(dir: impl AsRef<Path>) -> Result<LoadedSchema> {
    let mut loaded = kalam_schema::load_dir(dir)?;
    for file in &loaded.files {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io("read", file, e))?;
        attach(&mut loaded.catalog, &text);
    }
    Ok(loaded)
}

/// Adds the doc comments found in one file's text to the catalog.
pub(crate) fn attach(catalog: &mut Catalog, text: &str) {
    // The file loaded already; a parse failure here cannot happen, and would only cost docs.
    let Ok(statements) = kalam_schema::parse_ddl_located(text, "default") else {
        return;
    };
    for located in statements {
        let DdlStatement::CreateTable { table: parsed, .. } = located.statement else {
            continue;
        };
        let Some(table) = catalog
            .namespaces
            .get_mut(&parsed.namespace)
            .and_then(|ns| ns.tables.get_mut(&parsed.name))
        else {
            continue;
        };
        let start = code_start(text, located.span.start);
        let end = located.span.end.min(text.len()).max(start);
        if table.comment.is_none() {
            table.comment = comment_above(text, start);
        }
        // Column lines: after the first `(` of the statement.
        let Some(open) = text[start..end].find('(') else {
            continue;
        };
        let body_start = start + open + 1;
        let body = &text[body_start..end];
        for column in table
            .columns
            .iter_mut()
            .filter(|c| !c.system && c.comment.is_none())
        {
            let Some(line_offset) = column_line(body, &column.name) else {
                continue;
            };
            let at = body_start + line_offset;
            column.comment = comment_above(text, at).or_else(|| trailing_comment(text, at));
        }
    }
}

/// Skips whitespace and comments from `from`; returns the offset of the first code byte.
fn code_start(text: &str, from: usize) -> usize {
    let mut i = from.min(text.len());
    loop {
        let rest = &text[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            i += trimmed.find('\n').map_or(trimmed.len(), |n| n + 1);
        } else if trimmed.starts_with("/*") {
            i += trimmed.find("*/").map_or(trimmed.len(), |n| n + 2);
        } else {
            return i;
        }
    }
}

/// The block of `--` lines directly above the line containing `at` (no blank line between).
fn comment_above(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    // Only when `at` starts its line: `a INT, b INT` on one line has no per-column comments.
    if !text[line_start..at].trim().is_empty() {
        return None;
    }
    let mut lines: Vec<&str> = Vec::new();
    for line in text[..line_start].lines().rev() {
        let t = line.trim();
        match t.strip_prefix("--") {
            Some(_) if t.starts_with(SQL_MARKER) => break,
            Some(c) => lines.push(c.strip_prefix(' ').unwrap_or(c).trim_end()),
            None => break,
        }
    }
    lines.reverse();
    let joined = lines.join("\n");
    let trimmed = joined.trim_matches('\n');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A `-- comment` at the end of the line starting at `at`.
fn trailing_comment(text: &str, at: usize) -> Option<String> {
    let line = text[at..].lines().next()?;
    let mut in_string = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_string = !in_string,
            b'-' if !in_string && bytes.get(i + 1) == Some(&b'-') => {
                let c = line[i + 2..].trim();
                return (!c.is_empty()).then(|| c.to_owned());
            }
            _ => {}
        }
    }
    None
}

/// The offset in `body` of the first code line that starts with `name` (case-insensitive)
/// followed by whitespace, at the start of a line.
fn column_line(body: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let bare = trimmed.trim_start_matches('"');
        let head = bare.get(..name.len());
        let tail = bare.get(name.len()..).unwrap_or("");
        if head.is_some_and(|h| h.eq_ignore_ascii_case(name))
            && tail.starts_with(|c: char| c.is_whitespace() || c == '"')
        {
            return Some(offset + indent);
        }
        offset += line.len();
    }
    None
}
