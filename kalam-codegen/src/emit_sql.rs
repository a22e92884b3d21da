//! Catalog → KalamDB DDL, one deterministic file per namespace.
//!
//! Tables are sorted by name, columns by ordinal, system columns (`_seq`, `_deleted`) are left
//! out (the server adds them), topics follow the tables. The text is what `kalam-schema` parses
//! back to the same catalog.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kalam_schema::{Catalog, Column, Namespace, Table, TableKind, TableOptions, Topic};

use crate::VERSION;

/// The start of the first line of every `.sql` file `pull` writes.
pub(crate) const SQL_MARKER: &str = "-- Written by kalam-codegen";

/// The first line of every `.sql` file `pull` writes.
pub(crate) fn sql_header() -> String {
    format!(
        "-- Written by kalam-codegen {VERSION} (`kalam-codegen pull`). Pulling again replaces this file."
    )
}

/// The namespace that always exists and cannot be created (protocol 0.4).
const DEFAULT_NAMESPACE: &str = "default";

/// One `<namespace>.sql` text per namespace, keyed by file name.
///
/// ```
/// use kalam_schema::{Catalog, Column, Namespace, SqlType, Table, TableKind, TableOptions};
/// let mut ns = Namespace { name: "app".into(), ..Default::default() };
/// let mut id = Column::new("id", SqlType::BigInt, false);
/// id.primary_key = true;
/// id.ordinal = 1;
/// ns.tables.insert("todos".into(), Table {
///     namespace: "app".into(), name: "todos".into(), kind: TableKind::User,
///     columns: vec![id], options: TableOptions::default(), comment: None,
/// });
/// let mut catalog = Catalog::default();
/// catalog.namespaces.insert("app".into(), ns);
/// let files = kalam_codegen::emit_sql::catalog_sql(&catalog);
/// assert!(files["app.sql"].contains("CREATE TABLE IF NOT EXISTS app.todos (\n    id BIGINT PRIMARY KEY\n) WITH (TYPE = 'USER');"));
/// ```
pub fn catalog_sql(catalog: &Catalog) -> BTreeMap<String, String> {
    catalog
        .namespaces
        .values()
        .filter(|ns| ns.name != "system")
        .filter(|ns| ns.name != DEFAULT_NAMESPACE || !ns.tables.is_empty() || !ns.topics.is_empty())
        .map(|ns| (format!("{}.sql", ns.name), namespace_sql(ns)))
        .collect()
}

/// The DDL text of one namespace, with the generated-by header.
pub fn namespace_sql(ns: &Namespace) -> String {
    let mut out = sql_header();
    out.push_str("\n\n");
    if ns.name == DEFAULT_NAMESPACE {
        out.push_str("-- The `default` namespace always exists and cannot be created.\n");
    } else {
        let _ = writeln!(out, "CREATE NAMESPACE IF NOT EXISTS {};", ident(&ns.name));
    }
    for table in ns.tables.values().filter(|t| t.kind != TableKind::System) {
        out.push('\n');
        table_sql(&mut out, table);
    }
    for topic in ns.topics.values() {
        out.push('\n');
        topic_sql(&mut out, topic);
    }
    out
}

fn table_sql(out: &mut String, table: &Table) {
    comment(out, table.comment.as_deref());
    let _ = writeln!(
        out,
        "CREATE TABLE IF NOT EXISTS {}.{} (",
        ident(&table.namespace),
        ident(&table.name)
    );
    let mut columns: Vec<&Column> = table.user_columns().collect();
    columns.sort_by_key(|c| c.ordinal);
    for (i, column) in columns.iter().enumerate() {
        out.push_str("    ");
        column_sql(out, column);
        out.push_str(if i + 1 < columns.len() { ",\n" } else { "\n" });
    }
    let _ = writeln!(out, ") WITH ({});", options_sql(table.kind, &table.options));
}

fn column_sql(out: &mut String, column: &Column) {
    out.push_str(&column_definition(column));
    if let Some(comment) = &column.comment {
        let _ = write!(out, " COMMENT {}", string(comment));
    }
}

/// `name TYPE [PRIMARY KEY | NOT NULL] [DEFAULT expr]`, as written in `CREATE TABLE`.
pub(crate) fn column_definition(column: &Column) -> String {
    let mut out = format!("{} {}", ident(&column.name), column.ty.sql_name());
    if column.primary_key {
        out.push_str(" PRIMARY KEY");
    } else if !column.nullable {
        out.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        let _ = write!(out, " DEFAULT {}", default.to_sql());
    }
    out
}

fn options_sql(kind: TableKind, options: &TableOptions) -> String {
    let mut parts = vec![format!("TYPE = '{}'", kind.as_str().to_ascii_uppercase())];
    if let Some(storage) = &options.storage_id {
        parts.push(format!("STORAGE_ID = {}", string(storage)));
    }
    if let Some(level) = options.access_level {
        parts.push(format!("ACCESS_LEVEL = '{}'", level.as_str()));
    }
    if let Some(ttl) = options.ttl_seconds {
        parts.push(format!("TTL_SECONDS = {ttl}"));
    }
    for (key, value) in &options.other {
        parts.push(format!("{key} = {}", option_value(value)));
    }
    parts.join(", ")
}

fn topic_sql(out: &mut String, topic: &Topic) {
    let name = format!("{}.{}", ident(&topic.namespace), ident(&topic.name));
    let _ = writeln!(out, "CREATE TOPIC {name} PARTITIONS {};", topic.partitions);
    for source in &topic.sources {
        let _ = write!(
            out,
            "ALTER TOPIC {name} ADD SOURCE {}.{} ON {}",
            ident(&source.namespace),
            ident(&source.table),
            source.op.as_str().to_ascii_uppercase()
        );
        if let Some(filter) = &source.filter {
            let _ = write!(out, " WHERE {filter}");
        }
        let payload = match source.payload {
            kalam_schema::PayloadMode::Key => "key",
            kalam_schema::PayloadMode::Full => "full",
            kalam_schema::PayloadMode::Diff => "diff",
        };
        let _ = writeln!(out, " WITH (payload = '{payload}');");
    }
}

/// `-- text` lines (one per line of the comment). KalamDB has no syntax for table comments;
/// `load_schemas` reads these lines back.
fn comment(out: &mut String, text: Option<&str>) {
    for line in text.into_iter().flat_map(str::lines) {
        let line = line.trim_end();
        if line.is_empty() {
            out.push_str("--\n");
        } else {
            let _ = writeln!(out, "-- {line}");
        }
    }
}

/// Names are written bare (the server lower-cases unquoted names, protocol 7.1); anything that
/// is not a plain lower-case name is double-quoted.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Other options keep their value text without quotes; numbers and booleans are written bare,
/// everything else as a string literal.
fn option_value(value: &str) -> String {
    let bare = value.parse::<f64>().is_ok()
        || value.eq_ignore_ascii_case("true")
        || value.eq_ignore_ascii_case("false");
    if bare {
        value.to_owned()
    } else {
        string(value)
    }
}

fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
