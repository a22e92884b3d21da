//! Which namespaces and tables an operation looks at (`--namespace`, `--table`, `include`,
//! `exclude`), with `*`/`?` globs.

use kalam_schema::Catalog;

/// Selects tables by glob. A table pattern containing a `.` is matched against
/// `namespace.table`, otherwise against the table name alone. Empty lists select everything.
///
/// ```
/// use kalam_codegen::TableFilter;
/// let f = TableFilter {
///     namespaces: vec!["sup*".into()],
///     tables: vec![],
///     exclude: vec!["*_events".into()],
/// };
/// assert!(f.matches("support", "messages"));
/// assert!(!f.matches("support", "typing_events"));
/// assert!(!f.matches("app", "messages"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableFilter {
    /// Namespace globs; empty means every namespace.
    pub namespaces: Vec<String>,
    /// Table globs; empty means every table.
    pub tables: Vec<String>,
    /// Table globs to leave out.
    pub exclude: Vec<String>,
}

impl TableFilter {
    /// True if the namespace passes the namespace globs.
    pub fn matches_namespace(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|p| glob(p, namespace))
    }

    /// True if the table is selected.
    pub fn matches(&self, namespace: &str, table: &str) -> bool {
        let hit = |p: &String| {
            if p.contains('.') {
                glob(p, &format!("{namespace}.{table}"))
            } else {
                glob(p, table)
            }
        };
        self.matches_namespace(namespace)
            && (self.tables.is_empty() || self.tables.iter().any(hit))
            && !self.exclude.iter().any(hit)
    }

    /// Drops the namespaces and tables that are not selected.
    pub fn apply(&self, catalog: &mut Catalog) {
        catalog
            .namespaces
            .retain(|name, _| self.matches_namespace(name));
        for (name, ns) in catalog.namespaces.iter_mut() {
            ns.tables.retain(|t, _| self.matches(name, t));
        }
    }
}

/// `*` matches any run of characters, `?` one character; everything else is literal (the
/// pattern is matched as the equivalent SQL LIKE pattern).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut like = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '*' => like.push('%'),
            '?' => like.push('_'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c),
        }
    }
    kalam_schema::filter::like(text, &like)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*.mess*", "support.messages"));
        assert!(!glob("support", "support2"));
        assert!(glob("a_%\\", "a_%\\"));
        assert!(!glob("a_c", "abc"));
    }
}
