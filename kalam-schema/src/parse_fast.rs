//! A fast path for the common `CREATE TABLE` shape (what `kalam-codegen` writes and what most
//! hand-written schema files use), straight from our own tokens. Loading a large schema
//! directory is dominated by sqlparser otherwise.
//!
//! It is deliberately strict: anything it does not fully understand returns `None`, and the
//! statement goes through sqlparser, which produces the same result or the proper error. Both
//! paths end in `Seg::finish_table`, and a unit test checks they agree on every fixture.

use super::{AUTO_INCREMENT_FN, OptionSpec, Parsed, Seg, TableSpec};
use crate::error::SchemaError;
use crate::lex::{Tok, TokKind};
use crate::model::{Column, DefaultValue, Literal, TableKind};
use crate::types::SqlType;

/// A cursor over the statement's tokens.
struct Cur<'t, 'a> {
    toks: &'t [Tok<'a>],
    i: usize,
}

impl<'t, 'a> Cur<'t, 'a> {
    fn peek(&self) -> Option<&'t Tok<'a>> {
        self.toks.get(self.i)
    }

    fn kw(&mut self, k: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_kw(k));
        self.i += usize::from(hit);
        hit
    }

    fn punct(&mut self, c: char) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_punct(c));
        self.i += usize::from(hit);
        hit
    }

    /// A bare (unquoted) word, as written.
    fn word(&mut self) -> Option<&'t Tok<'a>> {
        let t = self.peek().filter(|t| matches!(t.kind, TokKind::Word(_)))?;
        self.i += 1;
        Some(t)
    }

    fn number(&mut self) -> Option<&'a str> {
        match self.peek()?.kind {
            TokKind::Number(n) => {
                self.i += 1;
                Some(n)
            }
            _ => None,
        }
    }
}

fn word_text<'a>(t: &Tok<'a>) -> &'a str {
    match t.kind {
        TokKind::Word(w) => w,
        _ => "",
    }
}

impl Seg<'_> {
    /// Parses `CREATE [USER|SHARED|STREAM] TABLE …` from tokens, or `None` to let sqlparser
    /// handle the statement.
    pub(super) fn fast_create_table(
        &self,
        toks: &[Tok<'_>],
        prefix: Option<TableKind>,
        current: &str,
    ) -> Option<Result<Parsed, SchemaError>> {
        let mut c = Cur {
            toks,
            i: if prefix.is_some() { 3 } else { 2 },
        };
        let if_not_exists = c.kw("IF") && c.kw("NOT") && c.kw("EXISTS");
        if c.i > 2 + usize::from(prefix.is_some()) && !if_not_exists {
            return None;
        }
        let first = c.word()?;
        let (namespace, name, name_tok) = if c.punct('.') {
            let second = c.word()?;
            (word_text(first), word_text(second), second)
        } else {
            (current, word_text(first), first)
        };
        if !c.punct('(') {
            return None;
        }
        let mut columns: Vec<Column> = Vec::new();
        let mut col_locs = Vec::new();
        loop {
            if c.peek()?.is_kw("PRIMARY") {
                // Table constraint `PRIMARY KEY (col)`, one column only.
                c.i += 1;
                if !(c.kw("KEY") && c.punct('(')) {
                    return None;
                }
                let col = word_text(c.word()?).to_ascii_lowercase();
                if !c.punct(')') || columns.iter().any(|x| x.primary_key) {
                    return None;
                }
                let target = columns.iter_mut().find(|x| x.name == col)?;
                target.primary_key = true;
                target.nullable = false;
            } else {
                let name_tok = c.word()?;
                let mut col = self.fast_column(&mut c, word_text(name_tok))?;
                col.ordinal = u32::try_from(columns.len() + 1).unwrap_or(u32::MAX);
                columns.push(col);
                col_locs.push(self.tok_loc(name_tok));
            }
            if c.punct(',') {
                continue;
            }
            if c.punct(')') {
                break;
            }
            return None;
        }
        if c.kw("USING") {
            c.word()?;
        }
        let mut options = Vec::new();
        if c.kw("WITH") {
            if !c.punct('(') {
                return None;
            }
            loop {
                let key = c.word()?;
                if !c.punct('=') {
                    return None;
                }
                let v = c.peek()?;
                let (text, shown) = match &v.kind {
                    TokKind::Str(s) => (s.to_string(), self.text[v.start..v.end].to_owned()),
                    TokKind::Number(n) => ((*n).to_owned(), (*n).to_owned()),
                    // sqlparser prints booleans in lower case; match it.
                    TokKind::Word(w)
                        if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") =>
                    {
                        let lower = w.to_ascii_lowercase();
                        (lower.clone(), lower)
                    }
                    TokKind::Word(w) => ((*w).to_owned(), (*w).to_owned()),
                    _ => return None,
                };
                c.i += 1;
                options.push(OptionSpec {
                    key: word_text(key).to_owned(),
                    loc: self.tok_loc(key),
                    text,
                    shown,
                });
                if c.punct(',') {
                    continue;
                }
                if c.punct(')') {
                    break;
                }
                return None;
            }
        }
        if c.peek().is_some() {
            return None;
        }
        Some(self.finish_table(TableSpec {
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
            name_loc: self.tok_loc(name_tok),
            if_not_exists,
            prefix,
            columns,
            col_locs,
            options,
            comment: None,
        }))
    }

    /// `name TYPE [options]`, stopping before `,` or `)`.
    fn fast_column(&self, c: &mut Cur<'_, '_>, name: &str) -> Option<Column> {
        let base = word_text(c.word()?);
        let mut ty_text = base.to_owned();
        if base.eq_ignore_ascii_case("DOUBLE") && c.kw("PRECISION") {
            ty_text.push_str(" PRECISION");
        } else if base.eq_ignore_ascii_case("CHARACTER") && c.kw("VARYING") {
            ty_text.push_str(" VARYING");
        }
        if c.punct('(') {
            ty_text.push('(');
            ty_text.push_str(c.number()?);
            if c.punct(',') {
                ty_text.push(',');
                ty_text.push_str(c.number()?);
            }
            if !c.punct(')') {
                return None;
            }
            ty_text.push(')');
        }
        let ty = SqlType::from_sql_name(&ty_text)?;
        let mut col = Column::new(name.to_ascii_lowercase(), ty, true);
        if base.to_ascii_uppercase().contains("SERIAL") {
            col.default = Some(DefaultValue::SnowflakeId);
        }
        loop {
            let t = c.peek()?;
            if t.is_punct(',') || t.is_punct(')') {
                break;
            }
            if c.kw("NOT") {
                if !c.kw("NULL") {
                    return None;
                }
                col.nullable = false;
            } else if c.kw("NULL") {
                col.nullable = true;
            } else if c.kw("PRIMARY") {
                if !c.kw("KEY") {
                    return None;
                }
                col.primary_key = true;
            } else if c.kw("UNIQUE") {
            } else if c.kw("AUTO_INCREMENT") || (c.kw("AUTO") && c.kw("INCREMENT")) {
                col.default = Some(DefaultValue::SnowflakeId);
            } else if c.kw("DEFAULT") {
                col.default = Some(fast_default(c)?);
            } else {
                return None;
            }
        }
        if col.primary_key {
            col.nullable = false;
        }
        Some(col)
    }
}

/// A default the fast path understands: KalamDB's functions, literals, `-number`.
fn fast_default(c: &mut Cur<'_, '_>) -> Option<DefaultValue> {
    let t = c.peek()?;
    c.i += 1;
    Some(match &t.kind {
        TokKind::Number(n) => DefaultValue::Literal(Literal::Number((*n).to_owned())),
        TokKind::Str(s) => DefaultValue::Literal(Literal::String(s.to_string())),
        TokKind::Punct('-') => {
            let n = c.number()?;
            DefaultValue::Literal(Literal::Number(format!("-{n}")))
        }
        TokKind::Word(w) => {
            let upper = w.to_ascii_uppercase();
            let call = c.peek().is_some_and(|t| t.is_punct('('));
            if call {
                c.i += 1;
                if !c.punct(')') {
                    return None;
                }
            }
            match (upper.as_str(), call) {
                ("SNOWFLAKE_ID", true) => DefaultValue::SnowflakeId,
                (AUTO_INCREMENT_FN, true) => DefaultValue::SnowflakeId,
                ("UUID_V7", true) => DefaultValue::UuidV7,
                ("ULID", true) => DefaultValue::Ulid,
                ("NOW", true) | ("CURRENT_TIMESTAMP", _) => DefaultValue::Now,
                ("CURRENT_USER" | "CURRENT_USER_ID", _) => DefaultValue::CurrentUser,
                ("TRUE", false) => DefaultValue::Literal(Literal::Bool(true)),
                ("FALSE", false) => DefaultValue::Literal(Literal::Bool(false)),
                ("NULL", false) => DefaultValue::Literal(Literal::Null),
                _ => return None,
            }
        }
        _ => return None,
    })
}
