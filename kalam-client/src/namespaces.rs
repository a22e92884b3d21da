//! Running statements checked against one namespace in another one
//! ([`KalamClientBuilder::map_namespace`](crate::KalamClientBuilder::map_namespace)).
//!
//! The compile-time checked macros know exactly where their SQL names a namespace (the
//! checker records the identifier of every `ns.table` and `ns.table.column` it resolves), and
//! hand those byte ranges to the client with the text. A client with a namespace map puts the
//! server's name there; without one the text is sent as it is, at no cost.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Schema namespace → server namespace.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamespaceMap {
    pairs: Vec<(String, String)>,
}

impl NamespaceMap {
    /// Adds (or replaces) the server name of `schema`.
    pub(crate) fn insert(&mut self, schema: String, server: String) {
        match self
            .pairs
            .iter_mut()
            .find(|(s, _)| s.eq_ignore_ascii_case(&schema))
        {
            Some(pair) => pair.1 = server,
            None => self.pairs.push((schema, server)),
        }
    }

    /// Checks every name: the server name is written into SQL text, so it must be a plain
    /// identifier.
    pub(crate) fn validate(&self) -> Result<()> {
        for (schema, server) in &self.pairs {
            if schema.is_empty() || !is_plain_identifier(server) {
                return Err(Error::Config(format!(
                    "map_namespace(`{schema}`, `{server}`): both names must be non-empty and \
                     the server's a plain identifier (letters, digits, `_`, not starting with \
                     a digit)"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The server's name of namespace `name` (identifiers compare case-insensitively, as the
    /// server folds unquoted ones), or `name` itself.
    pub(crate) fn server_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.pairs
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
            .map_or(name, |(_, server)| server.as_str())
    }

    /// `ns.rest` (a topic id, a `namespace.table` name) with `ns` renamed.
    #[cfg(any(test, feature = "consumer", feature = "file-uploads"))]
    pub(crate) fn qualified<'a>(&self, name: &'a str) -> Cow<'a, str> {
        match name.split_once('.') {
            Some((ns, rest)) if !self.is_empty() => {
                let server = self.server_name(ns);
                if server == ns {
                    Cow::Borrowed(name)
                } else {
                    Cow::Owned(format!("{server}.{rest}"))
                }
            }
            _ => Cow::Borrowed(name),
        }
    }

    /// `sql` with the namespace identifiers at `refs` (byte ranges, in order) renamed.
    pub(crate) fn rewrite(&self, sql: Cow<'static, str>, refs: &[(u32, u32)]) -> Cow<'static, str> {
        if self.is_empty() || refs.is_empty() {
            return sql;
        }
        let mut out = String::with_capacity(sql.len() + 16 * refs.len());
        self.rewrite_into(&mut out, &sql, refs.iter().map(|&(s, e)| (s, e)));
        Cow::Owned(out)
    }

    /// Appends `text` to `out`, renaming the namespace identifiers at `refs` (in order).
    pub(crate) fn rewrite_into(
        &self,
        out: &mut String,
        text: &str,
        refs: impl Iterator<Item = (u32, u32)>,
    ) {
        let mut at = 0;
        for (start, end) in refs {
            let (start, end) = (start as usize, end as usize);
            let Some(written) = text.get(start..end).filter(|_| start >= at) else {
                continue;
            };
            out.push_str(&text[at..start]);
            let (quote, name) = match written.chars().next() {
                Some(q @ ('"' | '`')) if written.len() >= 2 => {
                    (Some(q), &written[1..written.len() - 1])
                }
                _ => (None, written),
            };
            let server = self.server_name(name);
            match quote {
                Some(q) => {
                    out.push(q);
                    out.push_str(server);
                    out.push(q);
                }
                None => out.push_str(server),
            }
            at = end;
        }
        out.push_str(&text[at..]);
    }
}

fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> NamespaceMap {
        let mut m = NamespaceMap::default();
        m.insert("support".into(), "support_1".into());
        m.insert("Other".into(), "x".into());
        m.insert("other".into(), "other_2".into());
        m
    }

    #[test]
    fn renames_only_the_given_ranges() {
        let sql = "SELECT support.t.id, 'support.t' FROM support.t JOIN \"support\".u AS support ON support.id = 1";
        let refs = [(7, 14), (38, 45), (53, 62)];
        assert_eq!(
            map().rewrite(Cow::Borrowed(sql), &refs),
            "SELECT support_1.t.id, 'support.t' FROM support_1.t JOIN \"support_1\".u AS support ON support.id = 1"
        );
        assert!(matches!(
            NamespaceMap::default().rewrite(Cow::Borrowed(sql), &refs),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            map().rewrite(Cow::Borrowed("SELECT 1"), &[]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn names_fold_case_and_validate() {
        let m = map();
        assert_eq!(m.server_name("SUPPORT"), "support_1");
        assert_eq!(m.server_name("other"), "other_2");
        assert_eq!(m.server_name("app"), "app");
        assert_eq!(m.qualified("support.events"), "support_1.events");
        assert_eq!(m.qualified("app.events"), "app.events");
        assert!(m.validate().is_ok());
        let mut bad = NamespaceMap::default();
        bad.insert("a".into(), "x; DROP".into());
        assert!(bad.validate().is_err());
        let mut empty = NamespaceMap::default();
        empty.insert(String::new(), "x".into());
        assert!(empty.validate().is_err());
    }
}
