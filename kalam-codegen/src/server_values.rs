//! Cell values of the system tables in the server's own spellings: `default_value`
//! (protocol 8.3) and `options` (8.2).

use kalam_schema::{AccessLevel, DefaultValue, Literal, TableOptions};
use serde_json::Value;

use crate::introspect::int;

/// Parses `system.columns.default_value` in the server's forms (protocol 8.3): function calls
/// (`SNOWFLAKE_ID()`, `NOW()`, `CURRENT_USER()`, …) and the `Debug` form of a JSON literal
/// (`Bool(false)`, `Number(1)`, `String("user")`, `Null`). Returns `Some(None)` for no default
/// (`None`, empty) and `None` when the text is in no known form.
///
/// ```
/// use kalam_codegen::introspect::parse_default;
/// use kalam_schema::{DefaultValue, Literal};
/// assert_eq!(parse_default("SNOWFLAKE_ID()"), Some(Some(DefaultValue::SnowflakeId)));
/// assert_eq!(parse_default("String(\"a \\\"b\\\"\")"),
///            Some(Some(DefaultValue::Literal(Literal::String("a \"b\"".into())))));
/// assert_eq!(parse_default("Number(-1.5)"),
///            Some(Some(DefaultValue::Literal(Literal::Number("-1.5".into())))));
/// assert_eq!(parse_default("RANDOM()"), None);
/// ```
pub fn parse_default(text: &str) -> Option<Option<DefaultValue>> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let function = upper.strip_suffix("()").unwrap_or(&upper);
    let known = match function {
        "" | "NONE" => return Some(None),
        "SNOWFLAKE_ID" => Some(DefaultValue::SnowflakeId),
        "UUID_V7" => Some(DefaultValue::UuidV7),
        "ULID" => Some(DefaultValue::Ulid),
        "NOW" | "CURRENT_TIMESTAMP" => Some(DefaultValue::Now),
        "CURRENT_USER" => Some(DefaultValue::CurrentUser),
        _ => None,
    };
    if known.is_some() {
        return Some(known);
    }
    let literal = if t == "Null" {
        Literal::Null
    } else if let Some(inner) = wrapped(t, "Bool") {
        Literal::Bool(inner.parse().ok()?)
    } else if let Some(inner) = wrapped(t, "Number") {
        inner.parse::<f64>().ok()?;
        Literal::Number(inner.to_owned())
    } else if let Some(inner) = wrapped(t, "String") {
        Literal::String(unescape_debug(inner)?)
    } else {
        return None;
    };
    Some(Some(DefaultValue::Literal(literal)))
}

fn wrapped<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Undoes Rust's `Debug` escaping of a string (`"a\"b\n"` → `a"b` + newline).
fn unescape_debug(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'u' => {
                let rest: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let hex = rest.strip_prefix('{')?;
                out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Reads `system.tables.options` (protocol 8.2). Server defaults are dropped, so a table
/// created without options reads back without options: `storage_id = "local"`,
/// `access_level = "Private"`, `use_user_storage = false`.
///
/// ```
/// use kalam_codegen::introspect::parse_options;
/// use kalam_schema::AccessLevel;
/// let o = parse_options(r#"{"table_type":"SHARED","storage_id":"local","access_level":"Public"}"#).unwrap();
/// assert_eq!(o.access_level, Some(AccessLevel::Public));
/// assert_eq!(o.storage_id, None);
/// let s = parse_options(r#"{"table_type":"STREAM","ttl_seconds":30}"#).unwrap();
/// assert_eq!(s.ttl_seconds, Some(30));
/// ```
pub fn parse_options(json: &str) -> Result<TableOptions, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let Value::Object(map) = value else {
        return Err(format!("expected a JSON object, found {json}"));
    };
    let mut options = TableOptions::default();
    if let Some(storage) = map.get("storage_id").and_then(Value::as_str)
        && storage != "local"
    {
        options.storage_id = Some(storage.to_owned());
    }
    if let Some(level) = map.get("access_level").and_then(Value::as_str) {
        let level =
            AccessLevel::parse(level).ok_or_else(|| format!("unknown access level `{level}`"))?;
        if level != AccessLevel::Private {
            options.access_level = Some(level);
        }
    }
    match map.get("ttl_seconds") {
        None | Some(Value::Null) => {}
        Some(v) => {
            options.ttl_seconds = Some(int(v).ok_or_else(|| format!("bad ttl_seconds {v}"))?)
        }
    }
    if map.get("use_user_storage").and_then(Value::as_bool) == Some(true) {
        options
            .other
            .insert("USE_USER_STORAGE".into(), "true".into());
    }
    Ok(options)
}
