//! sqlx-style overrides written as quoted aliases: `AS "col!"` (not null), `AS "col?"`
//! (nullable), `AS "col: Type"` (Rust type). The SQL sent to the server keeps only `"col"`.

/// One override found in the SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Override {
    NotNull,
    Nullable,
    Type(String),
}

/// Rewrites every overriding quoted identifier to the bare name, padded with spaces so that
/// error positions in the rewritten text match the original. Returns the rewritten SQL and
/// the overrides by column name.
pub(crate) fn strip(sql: &str) -> (String, Vec<(String, Override)>) {
    // Overrides live in double-quoted aliases: without a `"` there is nothing to strip (the
    // common case, and the scan below is slow in an unoptimized proc macro).
    if !sql.as_bytes().contains(&b'"') {
        return (sql.to_owned(), Vec::new());
    }
    let mut out = String::with_capacity(sql.len());
    let mut found = Vec::new();
    let mut rest = sql;
    while let Some(i) = rest.find(['\'', '"', '-']) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let quote = from.as_bytes()[0];
        if quote == b'-' {
            // A `--` comment runs to the end of the line; a lone `-` is an operator.
            let end = if from.starts_with("--") {
                from.find('\n').unwrap_or(from.len())
            } else {
                1
            };
            out.push_str(&from[..end]);
            rest = &from[end..];
            continue;
        }
        let q = quote as char;
        // The closing quote; a doubled quote is an escaped one.
        let mut end = None;
        let mut j = 1;
        while let Some(k) = from[j..].find(q) {
            let at = j + k;
            if from[at + 1..].starts_with(q) {
                j = at + 2;
                continue;
            }
            end = Some(at);
            break;
        }
        let Some(end) = end else {
            out.push_str(from);
            return (out, found);
        };
        let token = &from[..=end];
        rest = &from[end + 1..];
        if q == '"' {
            let inner = &token[1..token.len() - 1];
            if let Some((name, ov)) = parse(inner) {
                out.push('"');
                out.push_str(name);
                out.push('"');
                out.push_str(&" ".repeat(token.len() - name.len() - 2));
                found.push((name.to_owned(), ov));
                continue;
            }
        }
        out.push_str(token);
    }
    out.push_str(rest);
    (out, found)
}

fn parse(inner: &str) -> Option<(&str, Override)> {
    if let Some(name) = inner.strip_suffix('!') {
        return Some((name.trim_end(), Override::NotNull));
    }
    if let Some(name) = inner.strip_suffix('?') {
        return Some((name.trim_end(), Override::Nullable));
    }
    let (name, ty) = inner.split_once(':')?;
    // `a::b` is not an override; only `name: Type`.
    if ty.starts_with(':') {
        return None;
    }
    Some((name.trim_end(), Override::Type(ty.trim().to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_pads() {
        let sql =
            r#"SELECT id AS "id!", n AS "n?", j AS "j: Json<X>", 'a"b!"' AS s, "plain" FROM t"#;
        let (out, found) = strip(sql);
        assert_eq!(out.len(), sql.len());
        assert!(out.contains(r#"id AS "id" ,"#), "{out}");
        assert!(out.contains(r#"'a"b!"'"#), "{out}");
        assert!(out.contains(r#""plain""#), "{out}");
        assert_eq!(
            found,
            vec![
                ("id".to_owned(), Override::NotNull),
                ("n".to_owned(), Override::Nullable),
                ("j".to_owned(), Override::Type("Json<X>".to_owned())),
            ]
        );
    }

    #[test]
    fn unterminated_and_comments() {
        assert_eq!(strip("SELECT 'x").0, "SELECT 'x");
        assert_eq!(strip("SELECT 1 -- \"a!\"\n").1, vec![]);
        assert_eq!(strip("SELECT 2-1").0, "SELECT 2-1");
    }
}
