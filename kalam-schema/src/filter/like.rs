//! `LIKE` pattern matching, for both modes.

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A character that must match itself.
    Char(char),
    /// `_`: any one character.
    One,
    /// `%`: any run of characters.
    Any,
    /// A trailing escape character as the server's live filter reads it: matches nothing.
    Never,
}

fn tokens(pattern: &str, escape: char, server: bool) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            c if c == escape => match chars.next() {
                Some(next) => Token::Char(next),
                // SQL (DataFusion) reads a trailing escape as itself.
                None if server => Token::Never,
                None => Token::Char(c),
            },
            c => Token::Char(c),
        });
    }
    out
}

/// SQL `LIKE`: `%` matches any run, `_` one character, the escape character (`\`) makes the
/// next character literal. `server`: a trailing escape character matches nothing, as in the
/// server's live filter (SQL reads it as a literal backslash).
pub(crate) fn like_match(s: &str, pattern: &str, server: bool) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p = tokens(pattern, '\\', server);
    // Greedy matching with backtracking to the last `%`.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match p.get(j) {
            Some(Token::Char(c)) => *c == s[i],
            Some(Token::One) => true,
            _ => false,
        };
        if step {
            i += 1;
            j += 1;
        } else if p.get(j) == Some(&Token::Any) {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j.min(p.len())..].iter().all(|t| *t == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::like_match;

    #[test]
    fn patterns() {
        for server in [false, true] {
            assert!(like_match("xy", "x%", server));
            assert!(like_match("abc", "a_c", server));
            assert!(like_match("a%c", "a\\%c", server));
            assert!(!like_match("abc", "a\\%c", server));
            assert!(like_match("a\\b", "a\\\\b", server));
            assert!(like_match("aXb", "a\\Xb", server));
            assert!(like_match("", "%", server));
            assert!(!like_match("ab", "a", server));
            assert!(!like_match("a", "ab", server));
            assert!(like_match("banana", "%an%na", server));
            assert!(!like_match("banana", "%an%nx", server));
            assert!(like_match("ü_ß", "_\\_%", server));
        }
        // A trailing backslash: SQL reads it as itself, the server's filter matches nothing.
        assert!(like_match("a\\", "a\\", false));
        assert!(!like_match("a\\", "a\\", true));
    }
}
