//! The catalog model: namespaces, tables, columns, topics.
//!
//! These types are plain data. They are built by the DDL parser (`parse` feature), by
//! `kalam-codegen` from a live server's `system.columns`, and by hand in tests.

use std::collections::BTreeMap;
use std::fmt;

use crate::types::SqlType;

/// The kind of a KalamDB table (protocol 7.3).
///
/// ```
/// use kalam_schema::TableKind;
/// assert_eq!(TableKind::User.as_str(), "user");
/// assert_eq!(TableKind::parse("SHARED"), Some(TableKind::Shared));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    /// Every signed-in user has a private partition of the table.
    User,
    /// One global table; access is governed by its access level.
    Shared,
    /// Append-only, per-user, rows expire after `TTL_SECONDS`.
    Stream,
    /// A built-in `system.*` table.
    System,
}

impl TableKind {
    /// The lower-case name used in `system.tables.table_type` and in server messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::User => "user",
            TableKind::Shared => "shared",
            TableKind::Stream => "stream",
            TableKind::System => "system",
        }
    }

    /// Parses `user`/`shared`/`stream`/`system`, case-insensitively.
    pub fn parse(s: &str) -> Option<TableKind> {
        match s.to_ascii_lowercase().as_str() {
            "user" => Some(TableKind::User),
            "shared" => Some(TableKind::Shared),
            "stream" => Some(TableKind::Stream),
            "system" => Some(TableKind::System),
            _ => None,
        }
    }
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access level of a SHARED table (protocol 9). The server's default is `Private`.
///
/// ```
/// use kalam_schema::AccessLevel;
/// assert_eq!(AccessLevel::parse("public"), Some(AccessLevel::Public));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AccessLevel {
    /// Everyone may read; `user` callers may not write.
    Public,
    /// Service, dba and system roles only (the default).
    #[default]
    Private,
    /// Like private.
    Restricted,
    /// DBA and system roles only.
    Dba,
}

impl AccessLevel {
    /// The upper-case spelling used in DDL (`ACCESS_LEVEL = 'PUBLIC'`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Public => "PUBLIC",
            AccessLevel::Private => "PRIVATE",
            AccessLevel::Restricted => "RESTRICTED",
            AccessLevel::Dba => "DBA",
        }
    }

    /// Parses an access level, case-insensitively.
    pub fn parse(s: &str) -> Option<AccessLevel> {
        match s.to_ascii_uppercase().as_str() {
            "PUBLIC" => Some(AccessLevel::Public),
            "PRIVATE" => Some(AccessLevel::Private),
            "RESTRICTED" => Some(AccessLevel::Restricted),
            "DBA" => Some(AccessLevel::Dba),
            _ => None,
        }
    }
}

/// A literal used as a column default.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL`
    Null,
    /// `TRUE` / `FALSE`
    Bool(bool),
    /// A numeric literal, kept as written (`42`, `-1.5`) so no precision is lost.
    Number(String),
    /// A string literal, unescaped.
    String(String),
}

/// A column default (protocol 7.3).
///
/// ```
/// use kalam_schema::DefaultValue;
/// assert_eq!(DefaultValue::SnowflakeId.to_sql(), "SNOWFLAKE_ID()");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// `SNOWFLAKE_ID()` (also `AUTO_INCREMENT`, `SERIAL`, identity columns).
    SnowflakeId,
    /// `UUID_V7()`
    UuidV7,
    /// `ULID()`
    Ulid,
    /// `NOW()` / `CURRENT_TIMESTAMP`
    Now,
    /// `CURRENT_USER()` / `CURRENT_USER`
    CurrentUser,
    /// A literal value.
    Literal(Literal),
}

impl DefaultValue {
    /// The DDL text of this default, as `kalam-codegen` writes it.
    pub fn to_sql(&self) -> String {
        match self {
            DefaultValue::SnowflakeId => "SNOWFLAKE_ID()".into(),
            DefaultValue::UuidV7 => "UUID_V7()".into(),
            DefaultValue::Ulid => "ULID()".into(),
            DefaultValue::Now => "NOW()".into(),
            DefaultValue::CurrentUser => "CURRENT_USER()".into(),
            DefaultValue::Literal(Literal::Null) => "NULL".into(),
            DefaultValue::Literal(Literal::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
            DefaultValue::Literal(Literal::Number(n)) => n.clone(),
            DefaultValue::Literal(Literal::String(s)) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Lower-case column name.
    pub name: String,
    /// KalamDB type.
    pub ty: SqlType,
    /// Whether the column may hold NULL. Primary-key columns are never nullable.
    pub nullable: bool,
    /// The default, if any.
    pub default: Option<DefaultValue>,
    /// Whether this column is the table's primary key.
    pub primary_key: bool,
    /// 1-based position, as in `system.columns.ordinal`.
    pub ordinal: u32,
    /// True for the system columns `_seq` and `_deleted`.
    pub system: bool,
    /// Column comment, if any.
    pub comment: Option<String>,
}

impl Column {
    /// A user column with no default, not part of the key.
    ///
    /// ```
    /// use kalam_schema::{Column, SqlType};
    /// let c = Column::new("title", SqlType::Text, false);
    /// assert!(!c.nullable && !c.primary_key);
    /// ```
    pub fn new(name: impl Into<String>, ty: SqlType, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            nullable,
            default: None,
            primary_key: false,
            ordinal: 0,
            system: false,
            comment: None,
        }
    }

    /// Flags as the server reports them in result schemas: `pk`, `nn`, `uq` (protocol 1.7).
    pub fn flags(&self) -> &'static [&'static str] {
        if self.primary_key {
            &["pk", "nn", "uq"]
        } else if !self.nullable {
            &["nn"]
        } else {
            &[]
        }
    }
}

/// Table options from `WITH (...)` (protocol 7.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableOptions {
    /// `TTL_SECONDS` (STREAM tables only).
    pub ttl_seconds: Option<u64>,
    /// `ACCESS_LEVEL` (SHARED tables only).
    pub access_level: Option<AccessLevel>,
    /// `STORAGE_ID`
    pub storage_id: Option<String>,
    /// Any other accepted option, upper-case key → raw value text.
    pub other: BTreeMap<String, String>,
}

/// A table: user columns by ordinal, followed by the system columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Namespace name.
    pub namespace: String,
    /// Table name (lower case).
    pub name: String,
    /// USER, SHARED, STREAM or SYSTEM.
    pub kind: TableKind,
    /// Columns in ordinal order; system columns (`_seq`, `_deleted`) come last.
    pub columns: Vec<Column>,
    /// `WITH (...)` options.
    pub options: TableOptions,
    /// Table comment, if any.
    pub comment: Option<String>,
}

impl Table {
    /// A built-in `system.*` table from `(name, type, nullable)` triples; ordinals follow the
    /// slice order and `primary_key` names the key column, if any.
    ///
    /// ```
    /// use kalam_schema::{SqlType, Table, TableKind};
    /// let t = Table::system("users", Some("user_id"), &[("user_id", SqlType::Text, false)]);
    /// assert_eq!(t.kind, TableKind::System);
    /// assert!(t.primary_key().is_some());
    /// ```
    pub fn system(
        name: &str,
        primary_key: Option<&str>,
        columns: &[(&str, SqlType, bool)],
    ) -> Table {
        let columns = columns
            .iter()
            .enumerate()
            .map(|(i, (n, ty, nullable))| {
                let mut c = Column::new(*n, *ty, *nullable);
                c.primary_key = primary_key == Some(*n);
                c.ordinal = u32::try_from(i + 1).unwrap_or(u32::MAX);
                c
            })
            .collect();
        Table {
            namespace: "system".into(),
            name: name.into(),
            kind: TableKind::System,
            columns,
            options: TableOptions::default(),
            comment: None,
        }
    }

    /// Looks a column up by name (exact, then case-insensitive).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            self.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
    }

    /// The primary-key column, if the table has one.
    pub fn primary_key(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.primary_key)
    }

    /// The user-declared columns (everything but `_seq` and `_deleted`).
    pub fn user_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.system)
    }

    /// `namespace.table`
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// Which table operation a topic source listens to (protocol 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicOp {
    /// `ON INSERT`
    Insert,
    /// `ON UPDATE`
    Update,
    /// `ON DELETE`
    Delete,
}

impl TopicOp {
    /// `Insert`, `Update`, `Delete`: the spelling used on the wire (`op`).
    pub fn as_str(self) -> &'static str {
        match self {
            TopicOp::Insert => "Insert",
            TopicOp::Update => "Update",
            TopicOp::Delete => "Delete",
        }
    }
}

/// Payload mode of a topic source (`WITH (payload = ...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadMode {
    /// `key`
    Key,
    /// `full` (the default)
    #[default]
    Full,
    /// `diff`
    Diff,
}

/// One `ALTER TOPIC ... ADD SOURCE` route.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSource {
    /// Source table namespace.
    pub namespace: String,
    /// Source table name.
    pub table: String,
    /// The operation that publishes.
    pub op: TopicOp,
    /// Optional `WHERE` filter, as SQL text.
    pub filter: Option<String>,
    /// Payload mode.
    pub payload: PayloadMode,
}

/// A topic (protocol 5).
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    /// Namespace name.
    pub namespace: String,
    /// Topic name.
    pub name: String,
    /// Number of partitions (default 1).
    pub partitions: u32,
    /// Routes, in the order they were added.
    pub sources: Vec<TopicSource>,
}

/// A namespace and its tables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Namespace {
    /// Namespace name.
    pub name: String,
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Topics by name.
    pub topics: BTreeMap<String, Topic>,
}

/// The whole catalog: every namespace with its tables and topics.
///
/// ```
/// use kalam_schema::Catalog;
/// let catalog = Catalog::default();
/// assert!(catalog.table("app", "todos").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
}

impl Catalog {
    /// Looks a table up by namespace and name.
    pub fn table(&self, namespace: &str, name: &str) -> Option<&Table> {
        self.namespaces.get(namespace)?.tables.get(name)
    }

    /// Looks a topic up by namespace and name.
    pub fn topic(&self, namespace: &str, name: &str) -> Option<&Topic> {
        self.namespaces.get(namespace)?.topics.get(name)
    }

    /// Every table, sorted by namespace then name.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.namespaces.values().flat_map(|ns| ns.tables.values())
    }
}
