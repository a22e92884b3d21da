//! `FILE("name")` placeholders of a multipart upload statement (protocol 6.1).
//!
//! The server finds them in the raw SQL text, case-insensitively, with optional spaces and
//! single or double quotes, and replaces each with the stored file's reference. The emulator
//! finds them with [`file_placeholders`] to do the same, and the client to check, before
//! sending, that every placeholder has its file part and every part its placeholder.

use std::ops::Range;

/// One `FILE("name")` / `FILE('name')` occurrence in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlaceholder {
    /// Byte range of the whole `FILE(…)` call in the SQL text.
    pub range: Range<usize>,
    /// The placeholder name (the file part is `file:<name>`).
    pub name: String,
}

/// Every file placeholder of `sql`, in order: the word `FILE` (any case, not the end of a
/// longer word), `(`, a name in single or double quotes, `)`, with optional spaces between.
/// The text is scanned as the server scans it, so a placeholder inside a string literal or a
/// comment counts too.
///
/// ```
/// use kalam_schema::files::file_placeholders;
/// let sql = "INSERT INTO app.docs (id, a, b) VALUES (1, FILE('scan'), file ( \"photo\" )) -- PROFILE('x')";
/// let names: Vec<String> = file_placeholders(sql).into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["scan", "photo"]);
/// ```
pub fn file_placeholders(sql: &str) -> Vec<FilePlaceholder> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= b.len() {
        let word = b[i..i + 4].eq_ignore_ascii_case(b"FILE");
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !(word && boundary) {
            i += 1;
            continue;
        }
        if let Some(p) = placeholder_at(sql, i) {
            i = p.range.end;
            out.push(p);
        } else {
            i += 4;
        }
    }
    out
}

fn placeholder_at(sql: &str, start: usize) -> Option<FilePlaceholder> {
    let b = sql.as_bytes();
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let mut j = skip_ws(start + 4);
    if b.get(j) != Some(&b'(') {
        return None;
    }
    j = skip_ws(j + 1);
    let quote = *b.get(j).filter(|q| **q == b'"' || **q == b'\'')?;
    let name_start = j + 1;
    let name_len = b[name_start..].iter().position(|c| *c == quote)?;
    let name = sql.get(name_start..name_start + name_len)?.to_owned();
    j = skip_ws(name_start + name_len + 1);
    if b.get(j) != Some(&b')') {
        return None;
    }
    Some(FilePlaceholder {
        range: start..j + 1,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_as_the_server_does() {
        let sql = "UPDATE a.b SET x = FILE ( 'one' ), y = File(\"two\"), z = MYFILE('no'), w = FILE(three)";
        let found = file_placeholders(sql);
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(&sql[found[0].range.clone()], "FILE ( 'one' )");
        assert!(file_placeholders("FILE('unclosed").is_empty());
        assert!(file_placeholders("").is_empty());
        assert_eq!(file_placeholders("file('ü')")[0].name, "ü");
    }
}
