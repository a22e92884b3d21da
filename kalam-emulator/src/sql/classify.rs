//! Statement classification (protocol 1.3 step 5, 7.1): the `EXECUTE AS USER` envelope, the
//! KalamDB-specific commands and the statements that go to DataFusion.

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserOptions};
use sqlparser::tokenizer::{Token, Tokenizer};

/// A statement with its `EXECUTE AS USER` target, if any.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) as_user: Option<String>,
    pub(crate) body: String,
}

/// Strips an `EXECUTE AS USER '<id>' ( … )` envelope (protocol 7.7).
pub(crate) fn strip_execute_as(sql: &str) -> Result<Envelope, String> {
    let words: Vec<&str> = sql.split_whitespace().take(3).collect();
    let is_env = words.len() == 3
        && words[0].eq_ignore_ascii_case("EXECUTE")
        && words[1].eq_ignore_ascii_case("AS")
        && words[2].eq_ignore_ascii_case("USER");
    if !is_env {
        return Ok(Envelope {
            as_user: None,
            body: sql.to_owned(),
        });
    }
    // Skip the three keywords.
    let mut rest = sql.trim_start();
    for _ in 0..3 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    let rest = rest.trim_start();
    let (user, after) = if let Some(r) = rest.strip_prefix('\'') {
        let mut id = String::new();
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    id.push('\'');
                    chars.next();
                    continue;
                }
                end = Some(i + 1);
                break;
            }
            id.push(c);
        }
        let end = end.ok_or_else(|| "EXECUTE AS USER has an unterminated user id".to_owned())?;
        (id, &r[end..])
    } else {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len());
        (rest[..end].to_owned(), &rest[end..])
    };
    if user.is_empty() {
        return Err("EXECUTE AS USER requires a user id".into());
    }
    let after = after.trim();
    let Some(inner) = after.strip_prefix('(') else {
        return Err("EXECUTE AS USER must wrap SQL in parentheses".into());
    };
    let inner = inner.trim_end();
    let inner = inner.strip_suffix(';').unwrap_or(inner).trim_end();
    let Some(body) = inner.strip_suffix(')') else {
        return Err("EXECUTE AS USER missing closing ')'".into());
    };
    let body = body.trim();
    if body.is_empty() {
        return Err("EXECUTE AS USER requires a statement".into());
    }
    Ok(Envelope {
        as_user: Some(user),
        body: body.to_owned(),
    })
}

/// What a statement is.
#[derive(Debug)]
pub(crate) enum Command {
    /// Goes to DataFusion and returns rows.
    Query(Box<Statement>),
    /// INSERT / UPDATE / DELETE.
    Dml(Box<Statement>),
    /// DDL handled through `kalam_schema` (namespaces, tables, topics, USE).
    Ddl(DdlKind),
    /// `CREATE USER`
    CreateUser {
        id: String,
        password: Option<String>,
        role: String,
        email: Option<String>,
    },
    /// `ALTER USER`
    AlterUser {
        id: String,
        password: Option<String>,
        role: Option<String>,
        email: Option<String>,
    },
    /// `DROP USER`
    DropUser { id: String, if_exists: bool },
    /// `BEGIN` / `START TRANSACTION`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
    /// `SHOW NAMESPACES`
    ShowNamespaces,
    /// `SHOW TABLES [IN ns]`
    ShowTables { namespace: Option<String> },
    /// `DESCRIBE TABLE [ns.]t`
    Describe { table: String },
    /// `STORAGE FLUSH TABLE [ns.]t`
    FlushTable { table: String },
    /// `STORAGE FLUSH ALL [IN [NAMESPACE] ns]`
    FlushAll { namespace: Option<String> },
    /// `SUBSCRIBE TO [ns.]t …`
    SubscribeTo { table: String },
    /// `ALTER NAMESPACE …`
    AlterNamespace { name: String },
    /// A server statement the emulator does not implement.
    Unsupported(String),
    /// `CONSUME FROM …` / `ACK …` (protocol 5.1)
    Topic(crate::topics::sql::TopicSql),
}

/// The DDL families parsed by `kalam_schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DdlKind {
    Namespace,
    Use,
    Table,
    Topic,
}

fn dialect() -> PostgreSqlDialect {
    PostgreSqlDialect {}
}

/// Rewrites `CURRENT_USER()`, `CURRENT_USER_ID()`, bare `CURRENT_USER` to
/// `KDB_CURRENT_USER()` and `CURRENT_ROLE[()]` to `KDB_CURRENT_ROLE()` before parsing
/// (protocol 7.1), token-aware so string literals are left alone.
pub(crate) fn rewrite_current_user(sql: &str) -> String {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("CURRENT_USER") && !upper.contains("CURRENT_ROLE") {
        return sql.to_owned();
    }
    let d = dialect();
    let Ok(toks) = Tokenizer::new(&d, sql).tokenize() else {
        return sql.to_owned();
    };
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    while i < toks.len() {
        let rep = match &toks[i] {
            Token::Word(w) if w.quote_style.is_none() => {
                match w.value.to_ascii_uppercase().as_str() {
                    "CURRENT_USER" | "CURRENT_USER_ID" => Some("KDB_CURRENT_USER()"),
                    "CURRENT_ROLE" => Some("KDB_CURRENT_ROLE()"),
                    _ => None,
                }
            }
            _ => None,
        };
        match rep {
            Some(r) => {
                out.push_str(r);
                // Drop an empty argument list that follows.
                let mut j = i + 1;
                while matches!(toks.get(j), Some(Token::Whitespace(_))) {
                    j += 1;
                }
                if matches!(toks.get(j), Some(Token::LParen)) {
                    let mut k = j + 1;
                    while matches!(toks.get(k), Some(Token::Whitespace(_))) {
                        k += 1;
                    }
                    if matches!(toks.get(k), Some(Token::RParen)) {
                        i = k;
                    }
                }
            }
            None => out.push_str(&toks[i].to_string()),
        }
        i += 1;
    }
    out
}

/// Parses one statement with the server's parser settings.
pub(crate) fn parse_one(sql: &str) -> Result<Statement, String> {
    let rewritten = rewrite_current_user(sql);
    let sql = rewritten.as_str();
    let d = dialect();
    let mut stmts = Parser::new(&d)
        .with_options(ParserOptions::new().with_trailing_commas(true))
        .with_recursion_limit(512)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| e.to_string())?;
    match stmts.len() {
        1 => Ok(stmts.remove(0)),
        0 => Err("sql parser error: Expected: an SQL statement, found: EOF".into()),
        _ => Err("sql parser error: Expected end of statement".into()),
    }
}

/// Significant tokens (no whitespace or comments).
pub(crate) fn tokens(sql: &str) -> Result<Vec<Token>, String> {
    let d = dialect();
    Tokenizer::new(&d, sql)
        .tokenize()
        .map(|ts| {
            ts.into_iter()
                .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// The text of a word or quoted-string token.
pub(crate) fn token_text(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) => Some(w.value.clone()),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
        Token::Number(n, _) => Some(n.clone()),
        _ => None,
    }
}

fn upper_words(sql: &str, n: usize) -> Vec<String> {
    sql.split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Classifies one statement (already stripped of `EXECUTE AS`).
pub(crate) fn classify(sql: &str) -> Result<Command, String> {
    let w = upper_words(sql, 4);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let cmd = match w.as_slice() {
        ["BEGIN", ..] | ["START", "TRANSACTION", ..] => Command::Begin,
        ["COMMIT", ..] | ["END", ..] => Command::Commit,
        ["ROLLBACK", ..] | ["ABORT", ..] => Command::Rollback,
        ["CREATE", "NAMESPACE", ..] | ["DROP", "NAMESPACE", ..] => Command::Ddl(DdlKind::Namespace),
        ["ALTER", "NAMESPACE", name, ..] => Command::AlterNamespace {
            name: name.to_ascii_lowercase(),
        },
        ["USE", ..] | ["SET", "NAMESPACE", ..] => Command::Ddl(DdlKind::Use),
        ["CREATE", "TABLE", ..]
        | ["CREATE", "USER" | "SHARED" | "STREAM", "TABLE", ..]
        | ["ALTER", "TABLE", ..]
        | ["ALTER", "USER" | "SHARED" | "STREAM", "TABLE", ..]
        | ["DROP", "TABLE", ..]
        | ["DROP", "USER" | "SHARED" | "STREAM", "TABLE", ..] => Command::Ddl(DdlKind::Table),
        ["CREATE", "TOPIC", ..] | ["ALTER", "TOPIC", ..] | ["DROP", "TOPIC", ..] => {
            Command::Ddl(DdlKind::Topic)
        }
        ["CREATE", "USER", ..] | ["ALTER", "USER", ..] | ["DROP", "USER", ..] => user_command(sql)?,
        ["SHOW", "NAMESPACES", ..] => Command::ShowNamespaces,
        ["SHOW", "TABLES", ..] => {
            let t = tokens(sql)?;
            let ns =
                t.iter().skip(2).filter_map(token_text).find(|s| {
                    !s.eq_ignore_ascii_case("IN") && !s.eq_ignore_ascii_case("NAMESPACE")
                });
            Command::ShowTables { namespace: ns }
        }
        ["DESCRIBE" | "DESC", ..] => {
            let t = tokens(sql)?;
            let words: Vec<String> = t.iter().skip(1).filter_map(token_text).collect();
            // `DESCRIBE TABLE x` and `DESCRIBE x`
            let at = if words
                .first()
                .is_some_and(|w| w.eq_ignore_ascii_case("TABLE"))
            {
                2
            } else {
                1
            };
            let name = qualified_after(&t, at).ok_or("DESCRIBE requires a table name")?;
            let _ = words;
            Command::Describe { table: name }
        }
        ["STORAGE", "FLUSH", "TABLE", ..] => {
            let t = tokens(sql)?;
            Command::FlushTable {
                table: qualified_after(&t, 3).ok_or("STORAGE FLUSH TABLE requires a table")?,
            }
        }
        ["STORAGE", "FLUSH", "ALL", ..] => {
            let t = tokens(sql)?;
            let ns =
                t.iter().skip(3).filter_map(token_text).find(|s| {
                    !s.eq_ignore_ascii_case("IN") && !s.eq_ignore_ascii_case("NAMESPACE")
                });
            Command::FlushAll { namespace: ns }
        }
        ["CONSUME", ..] | ["ACK", ..] => Command::Topic(crate::topics::sql::parse(sql)?),
        ["SUBSCRIBE", "TO", ..] => {
            let t = tokens(sql)?;
            let table = qualified_after(&t, 2).ok_or("SUBSCRIBE TO requires a table")?;
            Command::SubscribeTo { table }
        }
        [first, ..]
            if matches!(
                *first,
                "STORAGE"
                    | "CLEAR"
                    | "KILL"
                    | "CLUSTER"
                    | "BACKUP"
                    | "RESTORE"
                    | "EXPORT"
                    | "COMPACT"
            ) || (matches!(*first, "CREATE" | "ALTER" | "DROP" | "SHOW")
                && matches!(
                    w.get(1),
                    Some(&"STORAGE")
                        | Some(&"STORAGES")
                        | Some(&"VIEW")
                        | Some(&"MANIFEST")
                        | Some(&"STATS")
                )) =>
        {
            Command::Unsupported(format!("Unsupported statement: {}", w.join(" ")))
        }
        _ => {
            let stmt = parse_one(sql)?;
            match stmt {
                Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                    Command::Dml(Box::new(stmt))
                }
                Statement::Query(_)
                | Statement::Explain { .. }
                | Statement::ExplainTable { .. } => Command::Query(Box::new(stmt)),
                Statement::ShowTables { .. } | Statement::ShowColumns { .. } => {
                    Command::Query(Box::new(stmt))
                }
                other => Command::Unsupported(format!(
                    "Unsupported statement: {}",
                    other
                        .to_string()
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
            }
        }
    };
    Ok(cmd)
}

/// A possibly qualified name (`ns.t` or `t`) starting at significant token `i`.
pub(crate) fn qualified_after(t: &[Token], i: usize) -> Option<String> {
    let first = token_text(t.get(i)?)?;
    if matches!(t.get(i + 1), Some(Token::Period)) {
        let second = token_text(t.get(i + 2)?)?;
        return Some(format!(
            "{}.{}",
            first.to_ascii_lowercase(),
            second.to_ascii_lowercase()
        ));
    }
    Some(first.to_ascii_lowercase())
}

fn user_command(sql: &str) -> Result<Command, String> {
    let t = tokens(sql)?;
    let kw = |i: usize| match t.get(i) {
        Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => String::new(),
    };
    let verb = kw(0);
    let mut i = 2;
    let mut if_exists = false;
    if verb == "DROP" && kw(2) == "IF" && kw(3) == "EXISTS" {
        if_exists = true;
        i = 4;
    }
    let id = t
        .get(i)
        .and_then(token_text)
        .ok_or_else(|| format!("{verb} USER requires a user id"))?;
    i += 1;
    let mut password = None;
    let mut role = None;
    let mut email = None;
    while i < t.len() {
        let k = kw(i);
        match k.as_str() {
            "WITH" | "SET" | "INTERNAL" | "OAUTH" => i += 1,
            "PASSWORD" => {
                password = t.get(i + 1).and_then(token_text);
                i += 2;
            }
            "ROLE" => {
                role = t.get(i + 1).and_then(token_text);
                i += 2;
            }
            "EMAIL" => {
                email = t.get(i + 1).and_then(token_text);
                i += 2;
            }
            _ => i += 1,
        }
    }
    Ok(match verb.as_str() {
        "CREATE" => Command::CreateUser {
            id,
            password,
            role: role.unwrap_or_else(|| "user".into()),
            email,
        },
        "ALTER" => Command::AlterUser {
            id,
            password,
            role,
            email,
        },
        _ => Command::DropUser { id, if_exists },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_as_forms() {
        let e = strip_execute_as("EXECUTE AS USER 'al''ice' (SELECT 1);").unwrap();
        assert_eq!(e.as_user.as_deref(), Some("al'ice"));
        assert_eq!(e.body, "SELECT 1");
        let e = strip_execute_as("execute as user bob (SELECT (1))").unwrap();
        assert_eq!(e.as_user.as_deref(), Some("bob"));
        assert_eq!(e.body, "SELECT (1)");
        assert_eq!(
            strip_execute_as("EXECUTE AS USER 'a' SELECT 1").unwrap_err(),
            "EXECUTE AS USER must wrap SQL in parentheses"
        );
        assert_eq!(
            strip_execute_as("EXECUTE AS USER 'a' (SELECT 1").unwrap_err(),
            "EXECUTE AS USER missing closing ')'"
        );
    }

    #[test]
    fn classifies_user_statements() {
        match classify("CREATE USER 'bob' WITH PASSWORD 'pw12345678' ROLE service").unwrap() {
            Command::CreateUser {
                id, password, role, ..
            } => {
                assert_eq!(id, "bob");
                assert_eq!(password.as_deref(), Some("pw12345678"));
                assert_eq!(role, "service");
            }
            other => panic!("{other:?}"),
        }
    }
}
