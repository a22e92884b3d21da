//! `kalam-codegen.toml`: what users customize in the generated code.
//!
//! ```toml
//! # Tables to generate (globs over `namespace.table`, or over `table` alone).
//! include = ["support.*"]
//! exclude = ["support.typing_events"]
//! # Extra derives on every row and insert struct.
//! derives = ["::serde::Serialize"]
//! # Singularize table names for struct names (`messages` → `Message`); default true.
//! singularize = true
//!
//! # Rust type per SQL type. `DECIMAL` and `EMBEDDING` without arguments match every size.
//! [types]
//! TIMESTAMP = "::chrono::NaiveDateTime"
//!
//! # Per table: struct names and extra derives.
//! [tables."support.messages"]
//! rename = "ChatMessage"
//! insert-rename = "NewChatMessage"
//! derives = ["::std::hash::Hash"]
//!
//! # Per column: Rust type and field name.
//! [columns."support.messages.body"]
//! type = "crate::Body"
//! rename = "text"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use kalam_schema::{Catalog, SqlType};
use serde::Deserialize;

use crate::error::{ConfigError, Error, Result};
use crate::filter::TableFilter;
use crate::naming;

/// The parsed `kalam-codegen.toml`. Every field is optional; [`Config::default`] generates
/// every table with the built-in type table.
///
/// ```
/// use kalam_codegen::Config;
/// let config = Config::from_toml(r#"
/// derives = ["::serde::Serialize"]
/// [types]
/// TIMESTAMP = "::chrono::NaiveDateTime"
/// [columns."support.messages.body"]
/// rename = "text"
/// "#).unwrap();
/// assert_eq!(config.derives, ["::serde::Serialize"]);
/// assert_eq!(config.columns["support.messages.body"].rename.as_deref(), Some("text"));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// Globs of tables to generate (`support.*`, `messages`); empty means all.
    pub include: Vec<String>,
    /// Globs of tables to leave out.
    pub exclude: Vec<String>,
    /// Extra derives for every row and insert struct (paths, e.g. `::serde::Serialize`).
    pub derives: Vec<String>,
    /// Singularize table names for struct names (`messages` → `Message`).
    pub singularize: bool,
    /// Rust type per SQL type name (`TIMESTAMP`, `DECIMAL(10, 2)`, `DECIMAL`).
    pub types: BTreeMap<String, String>,
    /// Per-table settings keyed by `namespace.table`.
    pub tables: BTreeMap<String, TableConfig>,
    /// Per-column settings keyed by `namespace.table.column`.
    pub columns: BTreeMap<String, ColumnConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            include: Vec::new(),
            exclude: Vec::new(),
            derives: Vec::new(),
            singularize: true,
            types: BTreeMap::new(),
            tables: BTreeMap::new(),
            columns: BTreeMap::new(),
        }
    }
}

/// Settings for one table.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TableConfig {
    /// The row struct's name instead of the derived one.
    pub rename: Option<String>,
    /// The insert struct's name instead of `New<Row>`.
    pub insert_rename: Option<String>,
    /// Extra derives for this table's structs.
    pub derives: Vec<String>,
}

/// Settings for one column.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ColumnConfig {
    /// Rust type of the field (wrapped in `Option` when the column is nullable).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Field name instead of the column name.
    pub rename: Option<String>,
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config> {
        Config::parse_at(text, Path::new("kalam-codegen.toml"))
    }

    /// Reads and parses a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Config::parse_at(&text, path)
    }

    fn parse_at(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        config.validate_syntax()?;
        Ok(config)
    }

    /// The include/exclude globs as a filter.
    pub(crate) fn filter(&self) -> TableFilter {
        TableFilter {
            namespaces: Vec::new(),
            tables: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }

    /// Checks everything that does not need the schema: type names, Rust types, identifiers.
    fn validate_syntax(&self) -> Result<(), ConfigError> {
        for key in self.types.keys() {
            if TypeKey::parse(key).is_none() {
                return Err(ConfigError::UnknownType(key.clone()));
            }
        }
        for (key, value) in &self.types {
            check_type(key, value)?;
        }
        for d in self
            .derives
            .iter()
            .chain(self.tables.values().flat_map(|t| &t.derives))
        {
            if syn::parse_str::<syn::Path>(d).is_err() {
                return Err(ConfigError::InvalidDerive(d.clone()));
            }
        }
        for (key, t) in &self.tables {
            for name in [&t.rename, &t.insert_rename].into_iter().flatten() {
                if !naming::is_ident(name) {
                    return Err(ConfigError::InvalidName {
                        key: key.clone(),
                        value: name.clone(),
                    });
                }
            }
        }
        for (key, c) in &self.columns {
            if key.split('.').count() != 3 {
                return Err(ConfigError::BadColumnKey(key.clone()));
            }
            if let Some(ty) = &c.ty {
                check_type(key, ty)?;
            }
            if let Some(name) = &c.rename
                && !naming::is_ident(name)
            {
                return Err(ConfigError::InvalidName {
                    key: key.clone(),
                    value: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks that every table and column the config names exists in `catalog`.
    pub(crate) fn validate_against(&self, catalog: &Catalog) -> Result<(), ConfigError> {
        for key in self.tables.keys() {
            if split_table(key)
                .and_then(|(ns, t)| catalog.table(ns, t))
                .is_none()
            {
                return Err(ConfigError::UnknownTable(key.clone()));
            }
        }
        for key in self.columns.keys() {
            let found = key.rsplit_once('.').and_then(|(table, column)| {
                let (ns, t) = split_table(table)?;
                catalog
                    .table(ns, t)?
                    .user_columns()
                    .find(|c| c.name == column)
            });
            if found.is_none() {
                return Err(ConfigError::UnknownColumn(key.clone()));
            }
        }
        Ok(())
    }

    /// The Rust type override for a column, if any: the per-column one, else the exact type,
    /// else the type family (`DECIMAL`, `EMBEDDING`).
    pub(crate) fn type_override(&self, qualified_column: &str, ty: SqlType) -> Option<&str> {
        if let Some(t) = self
            .columns
            .get(qualified_column)
            .and_then(|c| c.ty.as_deref())
        {
            return Some(t);
        }
        let mut family = None;
        for (key, value) in &self.types {
            match TypeKey::parse(key) {
                Some(TypeKey::Exact(t)) if t == ty => return Some(value),
                Some(TypeKey::Family(name)) if name == family_name(ty) => family = Some(value),
                _ => {}
            }
        }
        family.map(String::as_str)
    }
}

fn check_type(key: &str, value: &str) -> Result<(), ConfigError> {
    match syn::parse_str::<syn::Type>(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(ConfigError::InvalidRustType {
            key: key.to_owned(),
            value: value.to_owned(),
        }),
    }
}

fn split_table(key: &str) -> Option<(&str, &str)> {
    key.split_once('.').filter(|(_, t)| !t.contains('.'))
}

fn family_name(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Decimal { .. } => "DECIMAL",
        SqlType::Embedding(_) => "EMBEDDING",
        _ => "",
    }
}

/// A `[types]` key: one type, or every size of a parameterized type.
enum TypeKey {
    Exact(SqlType),
    Family(&'static str),
}

impl TypeKey {
    fn parse(key: &str) -> Option<TypeKey> {
        match key.trim().to_ascii_uppercase().as_str() {
            // `DECIMAL` alone is DECIMAL(38, 10) to the server, but as a config key it means
            // "every decimal", which is what an override wants.
            "DECIMAL" => Some(TypeKey::Family("DECIMAL")),
            "EMBEDDING" => Some(TypeKey::Family("EMBEDDING")),
            _ => SqlType::from_sql_name(key).map(TypeKey::Exact),
        }
    }
}
