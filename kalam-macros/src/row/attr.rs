//! `#[kalam(...)]` attributes → the derive's model (serde's attr → ast step).

use syn::{Attribute, LitStr, Path};

use crate::ctxt::Ctxt;

/// Container attributes.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) krate: Option<Path>,
    pub(crate) table: Option<LitStr>,
}

/// Field attributes.
#[derive(Default)]
pub(crate) struct Field {
    pub(crate) rename: Option<LitStr>,
    pub(crate) default: bool,
    pub(crate) skip: bool,
    pub(crate) json: bool,
    pub(crate) flatten: bool,
}

/// `rename_all` rules; Rust fields are snake_case, so each rule rewrites a snake_case name.
#[derive(Clone, Copy)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Snake,
    ScreamingSnake,
    Camel,
    Pascal,
    Kebab,
    ScreamingKebab,
}

const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("camelCase", RenameRule::Camel),
    ("PascalCase", RenameRule::Pascal),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

impl RenameRule {
    pub(crate) fn apply(self, field: &str) -> String {
        let field = field.strip_prefix("r#").unwrap_or(field);
        let words = field.split('_').filter(|w| !w.is_empty());
        let capitalize = |w: &str| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        match self {
            RenameRule::Lower => field.to_lowercase(),
            RenameRule::Upper => field.to_uppercase(),
            RenameRule::Snake => field.to_owned(),
            RenameRule::ScreamingSnake => field.to_uppercase(),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.replace('_', "-").to_uppercase(),
            RenameRule::Pascal => words.map(capitalize).collect(),
            RenameRule::Camel => {
                let pascal: String = words.map(capitalize).collect();
                let mut c = pascal.chars();
                c.next()
                    .map(|f| f.to_lowercase().chain(c).collect())
                    .unwrap_or_default()
            }
        }
    }
}

fn kalam_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("kalam"))
}

fn set_once<T>(cx: &mut Ctxt, slot: &mut Option<T>, value: T, path: &syn::Path, name: &str) {
    if slot.is_some() {
        cx.error(path, format!("duplicate #[kalam({name})] attribute"));
    }
    *slot = Some(value);
}

/// Parses the container's `#[kalam(...)]`.
pub(crate) fn container(cx: &mut Ctxt, attrs: &[Attribute]) -> Container {
    let mut out = Container::default();
    for attr in kalam_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let s: LitStr = meta.value()?.parse()?;
                match RULES.iter().find(|(n, _)| *n == s.value()) {
                    Some((_, rule)) => {
                        set_once(cx, &mut out.rename_all, *rule, &meta.path, "rename_all")
                    }
                    None => cx.error(
                        &s,
                        format!(
                            "unknown rename_all rule `{}`; expected one of: {}",
                            s.value(),
                            RULES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    ),
                }
            } else if meta.path.is_ident("crate") {
                let s: LitStr = meta.value()?.parse()?;
                match s.parse::<Path>() {
                    Ok(p) => set_once(cx, &mut out.krate, p, &meta.path, "crate"),
                    Err(_) => cx.error(&s, format!("`{}` is not a path", s.value())),
                }
            } else if meta.path.is_ident("table") {
                let s: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut out.table, s, &meta.path, "table");
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Err(meta.error(format!(
                    "unknown container attribute `{name}`; expected rename_all, crate or table"
                )));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
    }
    out
}

/// Parses a field's `#[kalam(...)]`.
pub(crate) fn field(cx: &mut Ctxt, field: &syn::Field) -> Field {
    let mut out = Field::default();
    for attr in kalam_attrs(&field.attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let flag = |cx: &mut Ctxt, slot: &mut bool, name: &str| {
                if *slot {
                    cx.error(&meta.path, format!("duplicate #[kalam({name})] attribute"));
                }
                *slot = true;
            };
            if meta.path.is_ident("rename") {
                let s: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut out.rename, s, &meta.path, "rename");
            } else if meta.path.is_ident("default") {
                flag(cx, &mut out.default, "default");
            } else if meta.path.is_ident("skip") {
                flag(cx, &mut out.skip, "skip");
            } else if meta.path.is_ident("json") {
                flag(cx, &mut out.json, "json");
            } else if meta.path.is_ident("flatten") {
                flag(cx, &mut out.flatten, "flatten");
            } else {
                let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                return Err(meta.error(format!(
                    "unknown field attribute `{name}`; expected rename, default, skip, json or flatten"
                )));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
    }
    if out.skip && (out.rename.is_some() || out.json || out.flatten || out.default) {
        cx.error(
            field,
            "#[kalam(skip)] cannot be combined with other field attributes",
        );
    }
    if out.flatten && (out.rename.is_some() || out.json || out.default) {
        cx.error(
            field,
            "#[kalam(flatten)] cannot be combined with rename, json or default",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules() {
        let f = "created_at";
        let got: Vec<String> = RULES.iter().map(|(_, r)| r.apply(f)).collect();
        assert_eq!(
            got,
            [
                "created_at",
                "CREATED_AT",
                "created_at",
                "CREATED_AT",
                "createdAt",
                "CreatedAt",
                "created-at",
                "CREATED-AT"
            ]
        );
        assert_eq!(RenameRule::Camel.apply("r#type"), "type");
    }
}
