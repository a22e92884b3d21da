//! Hand-written parsers for KalamDB's own statements, which sqlparser does not know:
//! `CREATE/DROP NAMESPACE`, `CREATE/DROP TOPIC` and `ALTER TOPIC … ADD SOURCE` (protocol 5.1, 7.2).

use super::{Parsed, Seg};
use crate::ddl::{DdlStatement, validate_name};
use crate::error::ErrorKind;
use crate::error::SchemaError;
use crate::lex::{Tok, TokKind};
use crate::model::{PayloadMode, TopicOp, TopicSource};

impl Seg<'_> {
    pub(super) fn create_namespace(&self, toks: &[Tok]) -> Result<Parsed, SchemaError> {
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let ine = kw(2, "IF") && kw(3, "NOT") && kw(4, "EXISTS");
        let at = if ine { 5 } else { 2 };
        let (name, t) = self.ident_at(toks, at, "a namespace name")?;
        self.expect_end(toks, at + 1)?;
        let loc = self.tok_loc(t);
        validate_name(&name, "namespace").map_err(|e| e.at(loc.clone()))?;
        Ok((
            DdlStatement::CreateNamespace {
                name,
                if_not_exists: ine,
            },
            loc,
        ))
    }

    pub(super) fn drop_namespace(&self, toks: &[Tok]) -> Result<Parsed, SchemaError> {
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let ie = kw(2, "IF") && kw(3, "EXISTS");
        let at = if ie { 4 } else { 2 };
        let (name, t) = self.ident_at(toks, at, "a namespace name")?;
        let cascade = kw(at + 1, "CASCADE");
        self.expect_end(toks, at + 1 + usize::from(cascade))?;
        Ok((
            DdlStatement::DropNamespace {
                name,
                if_exists: ie,
                cascade,
            },
            self.tok_loc(t),
        ))
    }

    pub(super) fn create_topic(&self, toks: &[Tok], current: &str) -> Result<Parsed, SchemaError> {
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let ine = kw(2, "IF") && kw(3, "NOT") && kw(4, "EXISTS");
        let at = if ine { 5 } else { 2 };
        if !toks.get(at + 1).is_some_and(|t| t.is_punct('.')) {
            return Err(self.err_at(
                ErrorKind::Syntax,
                "topic name must be namespace-qualified (CREATE TOPIC ns.name)",
                toks.get(at),
            ));
        }
        let (namespace, name, t, mut i) = self.qualified_at(toks, at, current, "a topic name")?;
        let mut partitions = 1;
        if kw(i, "PARTITIONS") {
            partitions = match toks.get(i + 1).map(|t| &t.kind) {
                Some(TokKind::Number(n)) => n.parse::<u32>().ok().filter(|p| *p > 0),
                _ => None,
            }
            .ok_or_else(|| {
                self.err_at(
                    ErrorKind::Syntax,
                    "PARTITIONS needs a positive integer",
                    toks.get(i + 1),
                )
            })?;
            i += 2;
        }
        self.expect_end(toks, i)?;
        Ok((
            DdlStatement::CreateTopic {
                namespace,
                name,
                partitions,
                if_not_exists: ine,
            },
            self.tok_loc(t),
        ))
    }

    pub(super) fn drop_topic(&self, toks: &[Tok], current: &str) -> Result<Parsed, SchemaError> {
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let ie = kw(2, "IF") && kw(3, "EXISTS");
        let at = if ie { 4 } else { 2 };
        let (namespace, name, t, i) = self.qualified_at(toks, at, current, "a topic name")?;
        self.expect_end(toks, i)?;
        Ok((
            DdlStatement::DropTopic {
                namespace,
                name,
                if_exists: ie,
            },
            self.tok_loc(t),
        ))
    }

    pub(super) fn alter_topic(&self, toks: &[Tok], current: &str) -> Result<Parsed, SchemaError> {
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let (namespace, topic, t, mut i) = self.qualified_at(toks, 2, current, "a topic name")?;
        if !(kw(i, "ADD") && kw(i + 1, "SOURCE")) {
            return Err(self.err_at(
                ErrorKind::Unsupported,
                "only ALTER TOPIC … ADD SOURCE is supported",
                toks.get(i),
            ));
        }
        let (src_ns, src_table, _, next) =
            self.qualified_at(toks, i + 2, current, "a source table")?;
        i = next;
        if !kw(i, "ON") {
            return Err(self.err_at(
                ErrorKind::Syntax,
                "expected ON INSERT|UPDATE|DELETE",
                toks.get(i),
            ));
        }
        let op = match toks.get(i + 1) {
            Some(t) if t.is_kw("INSERT") => TopicOp::Insert,
            Some(t) if t.is_kw("UPDATE") => TopicOp::Update,
            Some(t) if t.is_kw("DELETE") => TopicOp::Delete,
            other => {
                return Err(self.err_at(
                    ErrorKind::Syntax,
                    "expected INSERT, UPDATE or DELETE",
                    other,
                ));
            }
        };
        i += 2;
        // `WITH (` at paren depth 0 ends the filter.
        let with_at = (i..toks.len())
            .find(|&j| toks[j].is_kw("WITH") && toks.get(j + 1).is_some_and(|t| t.is_punct('(')));
        let mut filter = None;
        if kw(i, "WHERE") {
            let end = with_at.unwrap_or(toks.len());
            let last = toks.get(end.saturating_sub(1)).filter(|_| end > i + 1);
            let Some(last) = last else {
                return Err(self.err_at(ErrorKind::Syntax, "WHERE needs a condition", toks.get(i)));
            };
            filter = Some(self.text[toks[i + 1].start..last.end].to_owned());
            i = end;
        }
        let mut payload = PayloadMode::default();
        if let Some(w) = with_at.filter(|&w| w == i) {
            let key = toks.get(w + 2).filter(|t| t.is_kw("PAYLOAD"));
            let value = toks.get(w + 4).and_then(|t| match &t.kind {
                TokKind::Str(s) => Some(s.to_ascii_lowercase()),
                TokKind::Word(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            });
            payload = match (
                key,
                toks.get(w + 3).is_some_and(|t| t.is_punct('=')),
                value.as_deref(),
            ) {
                (Some(_), true, Some("key")) => PayloadMode::Key,
                (Some(_), true, Some("full")) => PayloadMode::Full,
                (Some(_), true, Some("diff")) => PayloadMode::Diff,
                _ => {
                    return Err(self.err_at(
                        ErrorKind::Syntax,
                        "expected WITH (payload = 'key'|'full'|'diff')",
                        toks.get(w + 2),
                    ));
                }
            };
            if !toks.get(w + 5).is_some_and(|t| t.is_punct(')')) {
                return Err(self.err_at(ErrorKind::Syntax, "expected `)`", toks.get(w + 5)));
            }
            i = w + 6;
        }
        self.expect_end(toks, i)?;
        Ok((
            DdlStatement::AlterTopicAddSource {
                namespace,
                topic,
                source: TopicSource {
                    namespace: src_ns,
                    table: src_table,
                    op,
                    filter,
                    payload,
                },
            },
            self.tok_loc(t),
        ))
    }
}
