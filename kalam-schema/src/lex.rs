//! A small lexer for what sqlparser does not see: splitting a batch into statements,
//! classifying statements by their leading keywords, the hand-written parsers for KalamDB's own
//! statements, and position-preserving rewrites (the server's pre-processing, done by blanking
//! text so every byte keeps its offset).

use std::borrow::Cow;

use crate::error::{ErrorKind, Location, SchemaError};

/// One token with its byte range in the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tok<'a> {
    pub(crate) kind: TokKind<'a>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokKind<'a> {
    /// A bare word (identifier or keyword), as written.
    Word(&'a str),
    /// A double-quoted identifier, unescaped.
    QuotedIdent(Cow<'a, str>),
    /// A single-quoted string, unescaped.
    Str(Cow<'a, str>),
    /// A number, as written.
    Number(&'a str),
    /// Any other character.
    Punct(char),
}

impl Tok<'_> {
    /// True if this is the bare word `kw` (case-insensitive).
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.kind, TokKind::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    pub(crate) fn is_punct(&self, c: char) -> bool {
        self.kind == TokKind::Punct(c)
    }

    /// The identifier this token spells (bare words as written, quoted ones unescaped).
    pub(crate) fn ident(&self) -> Option<&str> {
        match &self.kind {
            TokKind::Word(w) => Some(w),
            TokKind::QuotedIdent(w) => Some(w),
            _ => None,
        }
    }
}

/// Tokenizes `text`, skipping whitespace and comments. Unterminated strings, quoted identifiers
/// and block comments are errors located at their opening character.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Tok<'_>>, SchemaError> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => return Err(unterminated(text, start, "block comment")),
            },
            b'\'' | b'"' | b'`' => {
                let (value, end) = quoted(text, i, c).ok_or_else(|| {
                    unterminated(
                        text,
                        start,
                        if c == b'\'' {
                            "string literal"
                        } else {
                            "quoted identifier"
                        },
                    )
                })?;
                let kind = if c == b'\'' {
                    TokKind::Str(value)
                } else {
                    TokKind::QuotedIdent(value)
                };
                toks.push(Tok { kind, start, end });
                i = end;
            }
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                toks.push(Tok {
                    kind: TokKind::Number(&text[start..i]),
                    start,
                    end: i,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                toks.push(Tok {
                    kind: TokKind::Word(&text[start..i]),
                    start,
                    end: i,
                });
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                i += ch.len_utf8();
                toks.push(Tok {
                    kind: TokKind::Punct(ch),
                    start,
                    end: i,
                });
            }
        }
    }
    Ok(toks)
}

fn unterminated(text: &str, start: usize, what: &str) -> SchemaError {
    SchemaError::new(ErrorKind::Syntax, format!("unterminated {what}"))
        .at(Location::at_offset(text, start, 1))
}

/// Reads a quoted token starting at `start` (the quote). Doubling the quote escapes it.
/// Returns the unescaped value and the end offset.
fn quoted(text: &str, start: usize, q: u8) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let mut value: Option<String> = None;
    let mut run = i;
    while i < bytes.len() {
        if bytes[i] == q {
            if bytes.get(i + 1) == Some(&q) {
                let v = value.get_or_insert_with(String::new);
                v.push_str(&text[run..i]);
                v.push(q as char);
                i += 2;
                run = i;
                continue;
            }
            let value = match value {
                None => Cow::Borrowed(&text[run..i]),
                Some(mut v) => {
                    v.push_str(&text[run..i]);
                    Cow::Owned(v)
                }
            };
            return Some((value, i + 1));
        }
        i += 1;
    }
    None
}

/// Splits a batch into statements at top-level `;` (quote- and comment-aware), returning the
/// byte ranges of the non-empty statements (without the `;`).
pub(crate) fn split_statements(text: &str) -> Result<Vec<(usize, usize)>, SchemaError> {
    let toks = tokenize(text)?;
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    let mut last_end = 0;
    for t in &toks {
        if t.is_punct(';') {
            if let Some(s) = first.take() {
                out.push((s, last_end));
            }
        } else {
            first.get_or_insert(t.start);
            last_end = t.end;
        }
    }
    if let Some(s) = first {
        out.push((s, last_end));
    }
    Ok(out)
}

/// Replaces `text[start..end]` with spaces (keeping newlines and every byte offset).
pub(crate) fn blank(text: &mut String, start: usize, end: usize) {
    let replaced: String = text.as_bytes()[start..end]
        .iter()
        .map(|&b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(start..end, &replaced);
}

/// ASCII case-insensitive substring test (`needle` is lower case).
///
/// A plain loop that compares whole windows only where the first byte matches: the query
/// macros call this for every query, and proc macros run unoptimized in debug builds, where
/// a `windows().any(..)` chain costs several times more.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    let mut i = 0;
    while i + n.len() <= h.len() {
        if h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n) {
            return true;
        }
        i += 1;
    }
    false
}

/// An `EXECUTE AS USER 'id' ( ... )` envelope (protocol 7.7).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// The target user id.
    pub(crate) user: String,
}

/// Strips an `EXECUTE AS USER` envelope by blanking it, so the body keeps its positions.
/// Returns the envelope (if any) and the text to parse.
pub(crate) fn strip_execute_as(text: &str) -> Result<(Option<Envelope>, String), SchemaError> {
    if !contains_ignore_case(text, "execute") {
        return Ok((None, text.to_owned()));
    }
    let toks = tokenize(text)?;
    let is = |i: usize, kw: &str| toks.get(i).is_some_and(|t| t.is_kw(kw));
    if !(is(0, "EXECUTE") && is(1, "AS") && is(2, "USER")) {
        return Ok((None, text.to_owned()));
    }
    let err = |msg: &str, at: usize, len: usize| {
        SchemaError::new(ErrorKind::Syntax, msg).at(Location::at_offset(text, at, len))
    };
    let user_tok = toks
        .get(3)
        .ok_or_else(|| err("EXECUTE AS USER needs a user id", toks[2].end, 0))?;
    let user = match &user_tok.kind {
        TokKind::Str(s) | TokKind::QuotedIdent(s) => s.to_string(),
        TokKind::Word(s) | TokKind::Number(s) => (*s).to_owned(),
        TokKind::Punct(_) => {
            return Err(err(
                "EXECUTE AS USER needs a user id",
                user_tok.start,
                user_tok.end - user_tok.start,
            ));
        }
    };
    let open = match toks.get(4) {
        Some(t) if t.is_punct('(') => t,
        other => {
            let at = other.map_or(user_tok.end, |t| t.start);
            return Err(err("EXECUTE AS USER must wrap SQL in parentheses", at, 1));
        }
    };
    // The matching close parenthesis; only a trailing `;` may follow it.
    let mut depth = 0i32;
    let mut close = None;
    for (i, t) in toks.iter().enumerate().skip(4) {
        if t.is_punct('(') {
            depth += 1;
        } else if t.is_punct(')') {
            depth -= 1;
            if depth == 0 {
                close = Some(i);
                break;
            }
        }
    }
    let close = close.ok_or_else(|| err("EXECUTE AS USER missing closing ')'", open.start, 1))?;
    if let Some(extra) = toks[close + 1..].iter().find(|t| !t.is_punct(';')) {
        return Err(err(
            "unexpected text after EXECUTE AS USER (...)",
            extra.start,
            extra.end - extra.start,
        ));
    }
    let mut body = text.to_owned();
    blank(&mut body, 0, open.end);
    blank(&mut body, toks[close].start, text.len());
    Ok((Some(Envelope { user }), body))
}

/// Blanks `CURRENT_USER()` / `CURRENT_USER_ID()` parentheses outside strings, turning them
/// into the bare `CURRENT_USER` form sqlparser accepts (the server rewrites them likewise).
pub(crate) fn bare_current_user(text: &mut String) -> Result<(), SchemaError> {
    if !contains_ignore_case(text, "current_user") {
        return Ok(());
    }
    let toks = tokenize(text)?;
    let mut ranges = Vec::new();
    for w in toks.windows(3) {
        if (w[0].is_kw("CURRENT_USER") || w[0].is_kw("CURRENT_USER_ID"))
            && w[1].is_punct('(')
            && w[2].is_punct(')')
        {
            ranges.push((w[1].start, w[2].end));
        }
    }
    for (s, e) in ranges {
        blank(text, s, e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles_in_any_case() {
        assert!(contains_ignore_case("EXECUTE AS USER", "execute"));
        assert!(contains_ignore_case(
            "select Current_User()",
            "current_user"
        ));
        assert!(contains_ignore_case("xexecute", "execute"));
        assert!(!contains_ignore_case("execut", "execute"));
        assert!(!contains_ignore_case("", "execute"));
        assert!(contains_ignore_case("anything", ""));
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        let text = "a 'x;y' -- c;\n; b /* ; */ c;;";
        let parts: Vec<&str> = split_statements(text)
            .unwrap()
            .iter()
            .map(|(s, e)| &text[*s..*e])
            .collect();
        assert_eq!(parts, ["a 'x;y'", "b /* ; */ c"]);
    }

    #[test]
    fn strips_envelope_keeping_offsets() {
        let text = "EXECUTE AS USER 'al''ice' (SELECT 1);";
        let (env, body) = strip_execute_as(text).unwrap();
        assert_eq!(env.unwrap().user, "al'ice");
        assert_eq!(body.len(), text.len());
        assert_eq!(body.find("SELECT"), text.find("SELECT"));
        assert_eq!(body.trim(), "SELECT 1");
    }

    #[test]
    fn envelope_errors() {
        assert!(strip_execute_as("EXECUTE AS USER 'a' SELECT 1").is_err());
        assert!(strip_execute_as("EXECUTE AS USER 'a' (SELECT 1").is_err());
        assert!(strip_execute_as("EXECUTE AS USER").is_err());
    }
}
