//! Statement splitting (protocol 1.3 step 4): quote-, backtick- and comment-aware.

/// Why a batch could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError(pub(crate) String);

/// Splits a request's SQL into statements. Comments are dropped, empty statements skipped;
/// each statement is trimmed and has no trailing `;`.
pub(crate) fn split(sql: &str) -> Result<Vec<String>, SplitError> {
    let trimmed = sql.trim();
    let body = trimmed.strip_suffix(';').unwrap_or(trimmed);
    if !body.contains(';') && !body.contains("--") && !body.contains("/*") {
        let s = body.trim();
        return Ok(if s.is_empty() {
            Vec::new()
        } else {
            vec![s.to_owned()]
        });
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let start = i;
                i += 1;
                loop {
                    if i >= chars.len() {
                        return Err(SplitError("Unterminated quoted string in SQL batch".into()));
                    }
                    if chars[i] == c {
                        if chars.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                cur.extend(&chars[start..=i]);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                cur.push(' ');
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                loop {
                    if i + 1 >= chars.len() {
                        return Err(SplitError("Unterminated block comment in SQL batch".into()));
                    }
                    if chars[i] == '*' && chars[i + 1] == '/' {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
                cur.push(' ');
            }
            ';' => {
                let s = cur.trim();
                if !s.is_empty() {
                    out.push(s.to_owned());
                }
                cur.clear();
                i += 1;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_respects_quotes_and_comments() {
        assert_eq!(split("SELECT 1;").unwrap(), vec!["SELECT 1"]);
        assert_eq!(
            split("SELECT 1; SELECT 'a;b'").unwrap(),
            vec!["SELECT 1", "SELECT 'a;b'"]
        );
        assert!(split("  ;  ; ").unwrap().is_empty());
        assert!(split("-- only a comment").unwrap().is_empty());
        assert_eq!(
            split("SELECT 'abc; SELECT 2").unwrap_err().0,
            "Unterminated quoted string in SQL batch"
        );
        assert_eq!(split("SELECT 'it''s'; SELECT 2").unwrap().len(), 2);
    }
}
