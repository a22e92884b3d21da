//! Classified drift between the checked-in schema and a server (or any two catalogs).

use std::collections::BTreeSet;

use kalam_schema::{AccessLevel, Catalog, Column, Table, TableKind};
use serde::Serialize;

/// One difference. "Added" and "removed" are seen from the schema files: an added table exists
/// on the server but not in `schemas/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drift {
    /// A table exists on the server only.
    TableAdded {
        /// `namespace.table`
        table: String,
    },
    /// A table exists in the schema files only.
    TableRemoved {
        /// `namespace.table`
        table: String,
    },
    /// A column exists on the server only.
    ColumnAdded {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// Its SQL type.
        data_type: String,
    },
    /// A column exists in the schema files only.
    ColumnRemoved {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
    },
    /// A column's type differs.
    TypeChanged {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// Type in the schema files.
        expected: String,
        /// Type on the server.
        actual: String,
    },
    /// A column's nullability differs.
    NullabilityChanged {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// Nullable in the schema files.
        expected: bool,
        /// Nullable on the server.
        actual: bool,
    },
    /// The primary-key column differs.
    PrimaryKeyChanged {
        /// `namespace.table`
        table: String,
        /// Key column in the schema files.
        expected: Option<String>,
        /// Key column on the server.
        actual: Option<String>,
    },
    /// The table kind (USER/SHARED/STREAM) differs.
    TableKindChanged {
        /// `namespace.table`
        table: String,
        /// Kind in the schema files.
        expected: String,
        /// Kind on the server.
        actual: String,
    },
    /// A column default differs (it decides which fields the insert struct has).
    DefaultChanged {
        /// `namespace.table`
        table: String,
        /// Column name.
        column: String,
        /// Default in the schema files.
        expected: Option<String>,
        /// Default on the server.
        actual: Option<String>,
    },
    /// A table option (`ACCESS_LEVEL`, `TTL_SECONDS`, `STORAGE_ID`) differs.
    OptionChanged {
        /// `namespace.table`
        table: String,
        /// Option name.
        option: String,
        /// Value in the schema files.
        expected: Option<String>,
        /// Value on the server.
        actual: Option<String>,
    },
}

impl Drift {
    /// The class name used in reports: `table_added`, `type_changed`, …
    pub fn class(&self) -> &'static str {
        match self {
            Drift::TableAdded { .. } => "table_added",
            Drift::TableRemoved { .. } => "table_removed",
            Drift::ColumnAdded { .. } => "column_added",
            Drift::ColumnRemoved { .. } => "column_removed",
            Drift::TypeChanged { .. } => "type_changed",
            Drift::NullabilityChanged { .. } => "nullability_changed",
            Drift::PrimaryKeyChanged { .. } => "primary_key_changed",
            Drift::TableKindChanged { .. } => "table_kind_changed",
            Drift::DefaultChanged { .. } => "default_changed",
            Drift::OptionChanged { .. } => "option_changed",
        }
    }

    /// One human-readable line.
    pub fn describe(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        let null = |b: bool| if b { "NULL" } else { "NOT NULL" };
        match self {
            Drift::TableAdded { table } => {
                format!("{table}: on the server, not in the schema files")
            }
            Drift::TableRemoved { table } => {
                format!("{table}: in the schema files, not on the server")
            }
            Drift::ColumnAdded {
                table,
                column,
                data_type,
            } => {
                format!("{table}.{column} {data_type}: on the server, not in the schema files")
            }
            Drift::ColumnRemoved { table, column } => {
                format!("{table}.{column}: in the schema files, not on the server")
            }
            Drift::TypeChanged {
                table,
                column,
                expected,
                actual,
            } => {
                format!("{table}.{column}: {expected} in the schema files, {actual} on the server")
            }
            Drift::NullabilityChanged {
                table,
                column,
                expected,
                actual,
            } => format!(
                "{table}.{column}: {} in the schema files, {} on the server",
                null(*expected),
                null(*actual)
            ),
            Drift::PrimaryKeyChanged {
                table,
                expected,
                actual,
            } => format!(
                "{table}: key {} in the schema files, {} on the server",
                opt(expected),
                opt(actual)
            ),
            Drift::TableKindChanged {
                table,
                expected,
                actual,
            } => {
                format!("{table}: {expected} in the schema files, {actual} on the server")
            }
            Drift::DefaultChanged {
                table,
                column,
                expected,
                actual,
            } => format!(
                "{table}.{column}: default {} in the schema files, {} on the server",
                opt(expected),
                opt(actual)
            ),
            Drift::OptionChanged {
                table,
                option,
                expected,
                actual,
            } => format!(
                "{table}: {option} {} in the schema files, {} on the server",
                opt(expected),
                opt(actual)
            ),
        }
    }
}

/// Every difference between two catalogs, in a stable order (by table, then column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// The differences.
    pub changes: Vec<Drift>,
}

impl DriftReport {
    /// True when nothing differs.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }

    /// The report as text: one line per change, or a single "no drift" line.
    pub fn to_text(&self) -> String {
        if self.changes.is_empty() {
            return "no drift: the schema files match the server\n".to_owned();
        }
        let mut out = format!(
            "drift: {} change{} between the schema files and the server\n",
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" }
        );
        for change in &self.changes {
            out.push_str(&format!("  {:<20} {}\n", change.class(), change.describe()));
        }
        out
    }
}

/// Compares the schema files' catalog (`expected`) with a server's (`actual`). System tables,
/// system columns and topics are not compared (topics are not introspectable, protocol 8).
///
/// ```
/// use kalam_codegen::diff::{diff, Drift};
/// use kalam_schema::Catalog;
/// assert!(diff(&Catalog::default(), &Catalog::default()).is_clean());
/// ```
pub fn diff(expected: &Catalog, actual: &Catalog) -> DriftReport {
    let user_tables = |c: &Catalog| -> BTreeSet<String> {
        c.tables()
            .filter(|t| t.kind != TableKind::System)
            .map(Table::qualified_name)
            .collect()
    };
    let names: BTreeSet<String> = user_tables(expected)
        .union(&user_tables(actual))
        .cloned()
        .collect();
    let mut changes = Vec::new();
    for name in names {
        let Some((ns, t)) = name.split_once('.') else {
            continue;
        };
        match (expected.table(ns, t), actual.table(ns, t)) {
            (Some(_), None) => changes.push(Drift::TableRemoved { table: name }),
            (None, Some(_)) => changes.push(Drift::TableAdded { table: name }),
            (Some(e), Some(a)) => diff_table(&name, e, a, &mut changes),
            (None, None) => {}
        }
    }
    DriftReport { changes }
}

fn diff_table(name: &str, expected: &Table, actual: &Table, out: &mut Vec<Drift>) {
    let table = || name.to_owned();
    if expected.kind != actual.kind {
        out.push(Drift::TableKindChanged {
            table: table(),
            expected: expected.kind.as_str().to_ascii_uppercase(),
            actual: actual.kind.as_str().to_ascii_uppercase(),
        });
    }
    let pk = |t: &Table| t.primary_key().map(|c| c.name.clone());
    if pk(expected) != pk(actual) {
        out.push(Drift::PrimaryKeyChanged {
            table: table(),
            expected: pk(expected),
            actual: pk(actual),
        });
    }
    diff_options(name, expected, actual, out);
    for e in expected.user_columns() {
        match actual.user_columns().find(|a| a.name == e.name) {
            None => out.push(Drift::ColumnRemoved {
                table: table(),
                column: e.name.clone(),
            }),
            Some(a) => diff_column(name, e, a, out),
        }
    }
    for a in actual.user_columns() {
        if !expected.user_columns().any(|e| e.name == a.name) {
            out.push(Drift::ColumnAdded {
                table: table(),
                column: a.name.clone(),
                data_type: a.ty.sql_name(),
            });
        }
    }
}

fn diff_column(table: &str, e: &Column, a: &Column, out: &mut Vec<Drift>) {
    let column = || e.name.clone();
    if e.ty != a.ty {
        out.push(Drift::TypeChanged {
            table: table.to_owned(),
            column: column(),
            expected: e.ty.sql_name(),
            actual: a.ty.sql_name(),
        });
    }
    // The key column is NOT NULL on the server whatever the file says.
    let nullable = |c: &Column| c.nullable && !c.primary_key;
    if nullable(e) != nullable(a) {
        out.push(Drift::NullabilityChanged {
            table: table.to_owned(),
            column: column(),
            expected: nullable(e),
            actual: nullable(a),
        });
    }
    let default = |c: &Column| c.default.as_ref().map(|d| d.to_sql());
    if default(e) != default(a) {
        out.push(Drift::DefaultChanged {
            table: table.to_owned(),
            column: column(),
            expected: default(e),
            actual: default(a),
        });
    }
}

/// Compares effective option values: an option left out means the server's default.
fn diff_options(name: &str, e: &Table, a: &Table, out: &mut Vec<Drift>) {
    let access = |t: &Table| {
        (t.kind == TableKind::Shared).then(|| {
            t.options
                .access_level
                .unwrap_or(AccessLevel::Private)
                .as_str()
                .to_owned()
        })
    };
    let storage = |t: &Table| {
        (t.kind != TableKind::Stream).then(|| {
            t.options
                .storage_id
                .clone()
                .unwrap_or_else(|| "local".into())
        })
    };
    let ttl = |t: &Table| t.options.ttl_seconds.map(|s| s.to_string());
    for (option, f) in [
        ("ACCESS_LEVEL", &access as &dyn Fn(&Table) -> Option<String>),
        ("STORAGE_ID", &storage),
        ("TTL_SECONDS", &ttl),
    ] {
        if f(e) != f(a) {
            out.push(Drift::OptionChanged {
                table: name.to_owned(),
                option: option.to_owned(),
                expected: f(e),
                actual: f(a),
            });
        }
    }
}
