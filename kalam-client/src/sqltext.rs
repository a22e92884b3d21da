//! What the client reads in SQL text without parsing it: the `$n` placeholders of a statement
//! (so that a parameter list that does not fit is reported before anything is sent), and the
//! secrets a statement may carry (so that logs, `Debug` output and errors never show them).
//!
//! The scans follow the server's lexer (PostgreSQL dialect, protocol 7.1) only as far as they
//! need to: string literals (`'…'` with `''`, `E'…'` with backslash escapes), quoted
//! identifiers, dollar-quoted strings (`$tag$…$tag$`), line and (nested) block comments are
//! skipped, and `$` inside an identifier (`a$1`) is part of it. When the text is not one
//! complete statement (an unterminated literal or comment, or a batch), the placeholder count
//! gives up and the server reports what is wrong, with its own error code.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// The highest `$n` of `sql` (0 when it has none), or `None` when `sql` is not one complete
/// statement.
pub(crate) fn highest_placeholder(sql: &str) -> Option<u64> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut highest = 0u64;
    // Whether a statement ended with `;` (anything but blanks and comments after it is a batch).
    let mut ended = false;
    while i < b.len() {
        let c = b[i];
        let starts_token = !c.is_ascii_whitespace() && !starts_comment(b, i);
        if ended && starts_token {
            return None;
        }
        match c {
            b'\'' => i = skip_quoted(b, i + 1, b'\'', escapes_backslash(b, i))?,
            b'"' => i = skip_quoted(b, i + 1, b'"', false)?,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i)?,
            b'$' if i > 0 && is_ident_byte(b[i - 1]) => i += 1,
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                let n = sql[i + 1..i + 1 + digits]
                    .parse::<u64>()
                    .unwrap_or(u64::MAX);
                highest = highest.max(n);
                i += 1 + digits;
            }
            b'$' => i = skip_dollar_quoted(sql, i).unwrap_or(i + 1),
            b';' => {
                ended = true;
                i += 1;
            }
            _ if is_ident_byte(c) => {
                i += b[i..]
                    .iter()
                    .take_while(|&&c| is_ident_byte(c) || c == b'$')
                    .count();
            }
            _ => i += 1,
        }
    }
    Some(highest)
}

/// Checks that `bound` parameters fit the placeholders of `sql`. Skipped (`Ok`) when the
/// placeholders cannot be counted (see the module docs).
pub(crate) fn check_count(sql: &str, bound: usize) -> Result<()> {
    let Some(highest) = highest_placeholder(sql) else {
        return Ok(());
    };
    let bound_n = u64::try_from(bound).unwrap_or(u64::MAX);
    if bound_n == highest {
        return Ok(());
    }
    let values = if bound == 1 {
        "parameter"
    } else {
        "parameters"
    };
    let message = if highest == 0 {
        format!("{bound} {values} bound but the statement has no `$n` placeholder")
    } else {
        format!("{bound} {values} bound but the statement's placeholders go up to ${highest}")
    };
    // The first parameter that is missing, or the first one too many.
    let index = usize::try_from(bound_n.min(highest) + 1).unwrap_or(usize::MAX);
    Err(Error::Param { index, message })
}

/// Keywords whose string literal argument is a secret (`CREATE USER … PASSWORD '…'`,
/// `ALTER USER … SET PASSWORD '…'`, storage `CREDENTIALS '…'`).
const SECRET_KEYWORDS: [&str; 2] = ["password", "credentials"];

/// `text` with the string literal after each secret keyword replaced by `'<redacted>'`.
/// Borrowed (no work beyond one search) when no such keyword appears. Also applied to server
/// messages that quote a statement.
pub(crate) fn redact_secrets(text: &str) -> Cow<'_, str> {
    if !SECRET_KEYWORDS
        .iter()
        .any(|k| contains_ignore_case(text, k))
    {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    // After a secret keyword, until something other than blanks, `=` or `(` comes.
    let mut armed = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                let end = skip_quoted(b, i + 1, b'\'', escapes_backslash(b, i)).unwrap_or(b.len());
                if armed {
                    out.push_str(&text[copied..i]);
                    out.push_str("'<redacted>'");
                    copied = end;
                    armed = false;
                }
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i).unwrap_or(b.len());
            }
            _ if is_ident_byte(c) => {
                let len = b[i..].iter().take_while(|&&c| is_ident_byte(c)).count();
                let word = &text[i..i + len];
                // The `E` of an `E'…'` literal keeps the keyword's literal armed.
                let e_prefix = word.eq_ignore_ascii_case("e") && b.get(i + len) == Some(&b'\'');
                if !e_prefix {
                    armed = SECRET_KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k));
                }
                i += len;
            }
            _ if c.is_ascii_whitespace() || c == b'=' || c == b'(' => i += 1,
            _ => {
                armed = false;
                i += 1;
            }
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// ASCII case-insensitive substring test (`needle` is lower case).
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn starts_comment(b: &[u8], i: usize) -> bool {
    matches!(b.get(i..i + 2), Some(b"--" | b"/*"))
}

/// `E'…'` / `e'…'` strings take backslash escapes; the quote is at `quote`.
fn escapes_backslash(b: &[u8], quote: usize) -> bool {
    quote > 0 && matches!(b[quote - 1], b'E' | b'e') && (quote == 1 || !is_ident_byte(b[quote - 2]))
}

/// Skips a literal opened just before `i`, where a doubled `close` is an escaped one. Returns
/// the index after the closing quote.
fn skip_quoted(b: &[u8], mut i: usize, close: u8, backslash: bool) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == close => {
                if b.get(i + 1) == Some(&close) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Skips a block comment starting at `i` (PostgreSQL nests them).
fn skip_block_comment(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b.get(i..i + 2) {
            Some(b"/*") => {
                depth += 1;
                i += 2;
            }
            Some(b"*/") => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Skips a dollar-quoted string `$tag$…$tag$` starting at `i`; `None` when `$` does not open
/// one here (then it is a lone character).
fn skip_dollar_quoted(sql: &str, i: usize) -> Option<usize> {
    let rest = &sql[i + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || c == b'_')
        .count();
    if rest.as_bytes().get(tag_len) != Some(&b'$') {
        return None;
    }
    let delimiter = &sql[i..i + tag_len + 2];
    let body = i + delimiter.len();
    // An unterminated dollar-quoted string runs to the end of the text.
    Some(
        sql[body..]
            .find(delimiter)
            .map_or(sql.len(), |p| body + p + delimiter.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_placeholders_outside_literals_and_comments() {
        for (sql, expected) in [
            ("SELECT 1", Some(0)),
            ("SELECT $1, $2", Some(2)),
            ("SELECT $3", Some(3)),
            ("SELECT $10 + $2", Some(10)),
            ("SELECT '$1', \"$2\", $1 -- $3\n", Some(1)),
            ("SELECT /* $4 /* $5 */ $6 */ $2", Some(2)),
            ("SELECT E'it\\'s $3', $1", Some(1)),
            ("SELECT 'it''s $3', $1", Some(1)),
            ("SELECT $$ $7 $$, $tag$ $8 $tag$, $1", Some(1)),
            ("SELECT a$1 FROM t", Some(0)),
            ("SELECT $1;", Some(1)),
            ("SELECT $1; -- done", Some(1)),
            ("SELECT $1; SELECT $2", None),
            ("SELECT 'open", None),
            ("SELECT /* open", None),
            ("SELECT \"open", None),
            ("", Some(0)),
        ] {
            assert_eq!(highest_placeholder(sql), expected, "{sql}");
        }
    }

    #[test]
    fn mismatches_name_the_first_missing_or_extra_parameter() {
        assert!(check_count("SELECT $1, $2", 2).is_ok());
        assert!(check_count("SELECT 1; SELECT 2", 1).is_ok());
        let Err(Error::Param { index, message }) = check_count("SELECT $1, $2", 1) else {
            panic!("too few");
        };
        assert_eq!(index, 2);
        assert_eq!(
            message,
            "1 parameter bound but the statement's placeholders go up to $2"
        );
        let Err(Error::Param { index, message }) = check_count("SELECT 1", 2) else {
            panic!("too many");
        };
        assert_eq!(index, 1);
        assert_eq!(
            message,
            "2 parameters bound but the statement has no `$n` placeholder"
        );
    }

    #[test]
    fn secrets_are_redacted_wherever_a_statement_is_shown() {
        for (sql, expected) in [
            ("SELECT 1", "SELECT 1"),
            (
                "CREATE USER 'bob' WITH PASSWORD 'S3cret!' ROLE user",
                "CREATE USER 'bob' WITH PASSWORD '<redacted>' ROLE user",
            ),
            (
                "alter user 'bob' set password = 'it''s' ",
                "alter user 'bob' set password = '<redacted>' ",
            ),
            (
                "CREATE USER 'a' WITH PASSWORD 'x'; CREATE USER 'b' WITH PASSWORD E'y\\'z'",
                "CREATE USER 'a' WITH PASSWORD '<redacted>'; CREATE USER 'b' WITH PASSWORD E'<redacted>'",
            ),
            (
                "ALTER USER 'a' SET PASSWORD 'unterminated",
                "ALTER USER 'a' SET PASSWORD '<redacted>'",
            ),
            ("SELECT 'password', 'kept'", "SELECT 'password', 'kept'"),
            (
                "SELECT password, 'kept' FROM t",
                "SELECT password, 'kept' FROM t",
            ),
            ("-- PASSWORD\nSELECT 'kept'", "-- PASSWORD\nSELECT 'kept'"),
        ] {
            assert_eq!(redact_secrets(sql), expected, "{sql}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_config(256)
        }

        /// A piece of SQL and the placeholder it adds (0 for none).
        fn piece() -> impl Strategy<Value = (String, u64)> {
            prop_oneof![
                (1..40u64).prop_map(|n| (format!(" ${n} "), n)),
                "[a-z_ ,()=+]{0,6}".prop_map(|s| (s, 0)),
                // Literals, identifiers and comments whose `$n` are not placeholders.
                "[a-z$0-9';]{0,8}".prop_map(|s| (format!(" '{}' ", s.replace('\'', "''")), 0)),
                "[a-z$0-9\";]{0,8}".prop_map(|s| (format!(" \"{}\" ", s.replace('"', "\"\"")), 0)),
                "[a-z$0-9;]{0,8}".prop_map(|s| (format!(" -- {s}\n"), 0)),
                "[a-z$0-9;]{0,8}".prop_map(|s| (format!(" /* {s} */ "), 0)),
                // (No `$` inside: `$q$` there would end the string.)
                "[a-z0-9;]{0,8}".prop_map(|s| (format!(" $q${s}$q$ "), 0)),
                "[a-z]{1,4}[0-9]{0,2}".prop_map(|s| (format!(" col${s} "), 0)),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn placeholders_are_counted_outside_literals_and_comments(
                pieces in prop::collection::vec(piece(), 0..12),
            ) {
                let sql: String = pieces.iter().map(|(p, _)| p.as_str()).collect();
                let highest = pieces.iter().map(|(_, n)| *n).max().unwrap_or(0);
                prop_assert_eq!(highest_placeholder(&format!("SELECT {sql}")), Some(highest));
            }

            #[test]
            fn arbitrary_text_never_panics(text in any::<String>()) {
                let _ = highest_placeholder(&text);
                let _ = check_count(&text, 3);
                let redacted = redact_secrets(&text);
                prop_assert!(redacted.len() <= text.len() + 16 * text.len() / 8 + 16);
            }

            /// A password set by SQL never survives redaction, whatever it holds.
            #[test]
            fn passwords_never_survive_redaction(
                secret in "[^']{6,24}",
                keyword in prop_oneof![Just("PASSWORD"), Just("password"), Just("Password")],
                statement in 0..3usize,
            ) {
                let literal = format!("'{}'", secret.replace('\'', "''"));
                let sql = match statement {
                    0 => format!("CREATE USER 'bob' WITH {keyword} {literal} ROLE user"),
                    1 => format!("ALTER USER 'bob' SET {keyword} {literal}"),
                    _ => format!("ALTER USER 'bob' SET {keyword} = {literal}; SELECT 1"),
                };
                let redacted = redact_secrets(&sql);
                prop_assert!(!redacted.contains(&secret), "{}", redacted);
                prop_assert!(redacted.contains("'<redacted>'"));
            }
        }
    }
}
