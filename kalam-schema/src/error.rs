//! [`SchemaError`]: what went wrong, where, and what was probably meant.
//!
//! Every error carries a [`Location`] when one is known: the file, line and column for schema
//! files, or the 1-based line/column and byte offset inside the query text, so a macro can draw
//! a caret. [`SchemaError::render`] prints the offending line with that caret.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a [`SchemaError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The SQL text could not be parsed.
    Syntax,
    /// A schema directory or file could not be read.
    Io,
    /// A namespace does not exist.
    UnknownNamespace,
    /// A table does not exist.
    UnknownTable,
    /// A column does not exist in the tables in scope.
    UnknownColumn,
    /// A function is not known to the checker.
    UnknownFunction,
    /// A topic does not exist.
    UnknownTopic,
    /// An unqualified column name matches columns of several tables.
    AmbiguousColumn,
    /// An object already exists (`CREATE` without `IF NOT EXISTS`).
    AlreadyExists,
    /// A DDL statement breaks one of the server's rules (reserved name, primary key, options…).
    InvalidDefinition,
    /// A column type the server does not accept.
    UnsupportedType,
    /// Operand types do not fit together (e.g. `text + 1`).
    TypeMismatch,
    /// A construct the checker cannot type or the server does not support; the message names it.
    Unsupported,
    /// A `$n` parameter whose type cannot be inferred, or which is used with conflicting types.
    Parameter,
    /// A live-query shape the server rejects (protocol 3.6 step 4).
    LiveQueryShape,
    /// A live-query WHERE form the server accepts but whose changes it silently never delivers
    /// (protocol 3.7): `IN`, `BETWEEN`, `IS NULL`, function calls, arithmetic.
    LiveQueryFilter,
    /// A value that cannot be rendered as a safe SQL literal of the requested type.
    Literal,
}

/// Where an error happened.
///
/// `line` and `column` are 1-based (column counts characters); `offset` is the byte offset of
/// the same position in the text, and `len` the byte length of the offending token (at least 1
/// when the position is inside the text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The schema file, for errors in schema files; `None` for query text.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte offset of the position in the text.
    pub offset: usize,
    /// Byte length of the offending token (0 when unknown).
    pub len: usize,
}

impl Location {
    /// The location of byte `offset` in `text` (clamped to the text and to a char boundary),
    /// covering `len` bytes.
    ///
    /// ```
    /// use kalam_schema::Location;
    /// let loc = Location::at_offset("SELECT x\nFROM t", 14, 1);
    /// assert_eq!((loc.line, loc.column), (2, 6));
    /// ```
    pub fn at_offset(text: &str, offset: usize, len: usize) -> Location {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: None,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset,
            len: len.min(text.len() - offset),
        }
    }

    /// The byte offset of a 1-based `line`/`column` (characters) in `text`, clamped to the text.
    pub fn offset_of(text: &str, line: u32, column: u32) -> usize {
        let mut offset = 0;
        for _ in 1..line.max(1) {
            match text[offset..].find('\n') {
                Some(i) => offset += i + 1,
                None => return text.len(),
            }
        }
        let rest = &text[offset..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let within = rest[..line_end]
            .char_indices()
            .nth(column.max(1) as usize - 1)
            .map_or(line_end, |(i, _)| i);
        offset + within
    }
}

/// Line starts of a text, for turning many byte offsets into locations without rescanning.
#[cfg(feature = "parse")]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

#[cfg(feature = "parse")]
impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// Same as [`Location::at_offset`], in O(log lines + line length).
    pub(crate) fn location(&self, text: &str, offset: usize, len: usize) -> Location {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let line_start = self.starts[line - 1];
        let column = text[line_start..offset].chars().count() + 1;
        Location {
            file: None,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset,
            len: len.min(text.len() - offset),
        }
    }
}

/// An error from parsing DDL, loading a schema, checking a query or validating a live query.
///
/// ```
/// use kalam_schema::{ErrorKind, Location, SchemaError};
/// let sql = "SELECT titel FROM app.todos";
/// let err = SchemaError::new(ErrorKind::UnknownColumn, "unknown column `titel` in app.todos")
///     .at(Location::at_offset(sql, 7, 5))
///     .with_suggestion("title");
/// assert!(err.render(sql).contains("      ^^^^^"));
/// assert!(err.to_string().contains("did you mean `title`?"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// What kind of problem this is.
    pub kind: ErrorKind,
    /// Lower-case message naming the thing at fault.
    pub message: String,
    /// Where it happened, when known.
    pub location: Option<Location>,
    /// The nearest existing name (for unknown tables and columns) or a suggested rewrite.
    pub suggestion: Option<String>,
}

impl SchemaError {
    /// A new error without location or suggestion.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> SchemaError {
        SchemaError {
            kind,
            message: message.into(),
            location: None,
            suggestion: None,
        }
    }

    /// Sets the location.
    #[must_use]
    pub fn at(mut self, location: Location) -> SchemaError {
        self.location = Some(location);
        self
    }

    /// Sets the location if none is set yet.
    #[must_use]
    pub fn or_at(mut self, location: impl FnOnce() -> Location) -> SchemaError {
        if self.location.is_none() {
            self.location = Some(location());
        }
        self
    }

    /// Sets the suggested name (rendered as "did you mean `name`?").
    #[must_use]
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> SchemaError {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// Sets the file of the location (creating a location at 1:1 if there is none).
    #[must_use]
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> SchemaError {
        let loc = self.location.get_or_insert_with(|| Location {
            line: 1,
            column: 1,
            ..Location::default()
        });
        loc.file = Some(file.into());
        self
    }

    /// The message plus the suggestion, without the location.
    pub fn message_with_help(&self) -> String {
        match &self.suggestion {
            Some(s) => format!("{}; {}", self.message, help_text(s)),
            None => self.message.clone(),
        }
    }

    /// Prints the offending line of `sql` with a caret under the mistake, followed by the
    /// message and the suggestion (rustc style). Without a location only the message is printed.
    pub fn render(&self, sql: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        if let Some(loc) = &self.location {
            let origin = match &loc.file {
                Some(f) => format!("{}:{}:{}", f.display(), loc.line, loc.column),
                None => format!("sql:{}:{}", loc.line, loc.column),
            };
            let line_text = sql
                .lines()
                .nth(loc.line.saturating_sub(1) as usize)
                .unwrap_or("");
            let number = loc.line.to_string();
            let pad = " ".repeat(number.len());
            let start = loc.column.saturating_sub(1) as usize;
            // Caret width: the token's characters, limited to the rest of the line.
            let offset = loc.offset.min(sql.len());
            let token = sql
                .get(offset..offset + loc.len.min(sql.len() - offset))
                .unwrap_or("");
            let token = token.split('\n').next().unwrap_or("");
            let width = token.chars().count().max(1);
            let indent: String = line_text
                .chars()
                .take(start)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!(
                "{pad}--> {origin}\n{pad} |\n{number} | {line_text}\n"
            ));
            out.push_str(&format!("{pad} | {indent}{}\n", "^".repeat(width)));
        }
        if let Some(s) = &self.suggestion {
            out.push_str(&format!("  = help: {}\n", help_text(s)));
        }
        out
    }
}

fn help_text(suggestion: &str) -> String {
    if suggestion.contains(' ') {
        suggestion.to_owned()
    } else {
        format!("did you mean `{suggestion}`?")
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(loc) = &self.location {
            match &loc.file {
                Some(file) => write!(f, " ({}:{}:{})", file.display(), loc.line, loc.column)?,
                None => write!(f, " (sql {}:{})", loc.line, loc.column)?,
            }
        }
        if let Some(s) = &self.suggestion {
            write!(f, "; {}", help_text(s))?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaError {}

/// The candidate closest to `name` by edit distance, if it is close enough to be a plausible
/// typo (distance ≤ max(1, len/3)).
///
/// ```
/// use kalam_schema::error::nearest;
/// assert_eq!(nearest("craeted_at", ["id", "created_at"]), Some("created_at".to_owned()));
/// assert_eq!(nearest("zzz", ["id", "created_at"]), None);
/// ```
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&name, &c.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn offsets_round_trip() {
        let text = "ab\ncdé\nf";
        for off in [0, 1, 3, 5, 7, 8, 9] {
            let loc = Location::at_offset(text, off, 0);
            assert_eq!(Location::offset_of(text, loc.line, loc.column), loc.offset);
        }
    }
}
