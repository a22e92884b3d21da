//! Schema names → idiomatic Rust names, with keyword escaping and collision handling.

use std::collections::BTreeSet;

/// Strict, reserved and weak keywords that cannot (or should not) be used as plain identifiers
/// in edition 2024. Raw identifiers would work for most, but not for `self`, `Self`, `super` and
/// `crate`, and `r#` names leak into every use site; a trailing `_` is uniform.
const KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// True if `s` is a Rust keyword in edition 2024.
pub(crate) fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// Appends `_` to keywords.
fn escape(s: String) -> String {
    if is_keyword(&s) { s + "_" } else { s }
}

/// Splits a schema name into lower-case words at `_`, non-alphanumerics and case changes.
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Prefixes a name that would start with a digit (or is empty).
fn guard_start(s: String, prefix: &str) -> String {
    match s.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("{prefix}{s}"),
        None => prefix.to_owned(),
        _ => s,
    }
}

/// `snake_case` for fields and modules.
///
/// ```text
/// created_at → created_at,  type → type_,  userId → user_id
/// ```
pub(crate) fn snake(name: &str) -> String {
    escape(guard_start(words(name).join("_"), "n"))
}

/// `UpperCamelCase` for types and variants.
pub(crate) fn camel(name: &str) -> String {
    let s: String = words(name)
        .iter()
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    escape(guard_start(s, "T"))
}

/// `SCREAMING_SNAKE_CASE` for constants.
pub(crate) fn screaming(name: &str) -> String {
    guard_start(words(name).join("_").to_ascii_uppercase(), "C")
}

/// English plural → singular for the last word of a table name, conservatively: only regular
/// plurals change, and anything ambiguous (`status`, `news`, `series`) is kept.
pub(crate) fn singular(name: &str) -> String {
    let (head, last) = match name.rfind('_') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => ("", name),
    };
    const KEEP: &[&str] = &[
        "series", "species", "news", "data", "status", "address", "analysis", "canvas", "bus",
        "alias", "gas", "plus", "bonus", "campus", "virus", "corpus", "axis", "basis", "chaos",
        "lens", "atlas", "bias", "ids",
    ];
    let lower = last.to_ascii_lowercase();
    if last.len() < 3 || KEEP.contains(&lower.as_str()) {
        return name.to_owned();
    }
    let stem = if let Some(s) = lower.strip_suffix("ies") {
        // categories → category, but keep short words such as `ties` and `pies`.
        if s.len() >= 3 {
            Some(format!("{}y", &last[..s.len()]))
        } else {
            None
        }
    } else if lower.ends_with("sses")
        || lower.ends_with("xes")
        || lower.ends_with("ches")
        || lower.ends_with("shes")
        || lower.ends_with("zzes")
    {
        Some(last[..last.len() - 2].to_owned())
    } else if lower.ends_with("ss") || lower.ends_with("us") || lower.ends_with("is") {
        None
    } else {
        lower
            .strip_suffix('s')
            .map(|_| last[..last.len() - 1].to_owned())
    };
    match stem {
        Some(stem) => format!("{head}{stem}"),
        None => name.to_owned(),
    }
}

/// True if `s` is usable as a Rust identifier as written (not a keyword).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "_"
        && !is_keyword(s)
}

/// Hands out unique names within one Rust namespace (a module's types, a struct's fields).
#[derive(Debug, Default)]
pub(crate) struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// Marks `name` as used (for fixed names such as `TABLE`).
    pub(crate) fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }

    /// Returns `wanted`, or, if taken, the first free of `alt` (when given) and `wanted2`,
    /// `wanted3`, … (with `_2` for snake and screaming case).
    pub(crate) fn claim(&mut self, wanted: &str, alt: Option<&str>) -> String {
        let mut candidates: Vec<String> = vec![wanted.to_owned()];
        if let Some(alt) = alt {
            candidates.push(alt.to_owned());
        }
        let sep = if wanted.contains('_') || wanted.chars().all(|c| !c.is_ascii_uppercase()) {
            "_"
        } else {
            ""
        };
        let base = wanted.trim_end_matches('_');
        let found = candidates
            .into_iter()
            .chain((2u32..).map(|n| format!("{base}{sep}{n}")))
            .find(|c| !self.taken.contains(c))
            .unwrap_or_default();
        self.taken.insert(found.clone());
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake("created_at"), "created_at");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("userId"), "user_id");
        assert_eq!(camel("typing_events"), "TypingEvents");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(camel("i16"), "I16");
        assert_eq!(screaming("created_at"), "CREATED_AT");
        assert_eq!(snake("1st"), "n1st");
    }

    #[test]
    fn singulars() {
        for (p, s) in [
            ("messages", "message"),
            ("typing_events", "typing_event"),
            ("categories", "category"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("status", "status"),
            ("all_types", "all_type"),
            ("news", "news"),
            ("ties", "ties"),
            ("us", "us"),
        ] {
            assert_eq!(singular(p), s, "{p}");
        }
    }

    #[test]
    fn collisions() {
        let mut n = Names::default();
        assert_eq!(n.claim("Message", None), "Message");
        assert_eq!(n.claim("Message", Some("MessageTopic")), "MessageTopic");
        assert_eq!(n.claim("Message", None), "Message2");
        let mut f = Names::default();
        assert_eq!(f.claim("type_", None), "type_");
        assert_eq!(f.claim("type_", None), "type_2");
    }
}
