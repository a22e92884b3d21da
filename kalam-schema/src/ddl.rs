//! DDL statements as data, the server's rules for them, and [`Catalog::apply`].
//!
//! The parser (`parse` feature) produces [`DdlStatement`]s; the emulator applies them at run time
//! and the schema loader applies every statement of a schema directory in order. The rules
//! (protocol 0.4 and 7) live in one place: [`validate_table`] and [`Catalog::apply`].

use crate::error::{ErrorKind, SchemaError, nearest};
use crate::model::{
    AccessLevel, Catalog, Column, DefaultValue, Literal, Namespace, Table, TableKind, Topic,
    TopicSource,
};
use crate::types::SqlType;

/// The namespace that exists from the start and that unqualified names resolve to.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Namespace names that cannot be created (protocol 0.4).
pub const RESERVED_NAMESPACES: &[&str] = &[
    "system",
    "sys",
    "root",
    "kalamdb",
    "kalam",
    "main",
    "default",
    "sql",
    "admin",
    "internal",
    "information_schema",
    "pg_catalog",
    "datafusion",
];

/// Column names that cannot be declared (protocol 0.4).
pub const RESERVED_COLUMNS: &[&str] = &[
    "_seq",
    "_deleted",
    "_id",
    "_row_id",
    "_rowid",
    "_key",
    "_updated",
    "_created",
    "_timestamp",
    "_version",
    "_hash",
];

/// SQL keywords refused as namespace, table or column names. The server's exact list is not
/// documented; this is the core of reserved words that would break statements (inferred).
/// `by` is not in it: a real 0.4.3 server accepts a column named `by` (conformance check C1.8a).
const RESERVED_KEYWORDS: &[&str] = &[
    "all", "and", "as", "between", "case", "create", "delete", "distinct", "drop", "else", "end",
    "exists", "false", "from", "group", "having", "in", "insert", "into", "is", "join", "like",
    "not", "null", "on", "or", "order", "select", "set", "table", "then", "true", "union",
    "update", "values", "when", "where", "with",
];

/// One DDL statement, with names already resolved against the current namespace.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DdlStatement {
    /// `CREATE NAMESPACE [IF NOT EXISTS] name`
    CreateNamespace {
        /// Namespace name.
        name: String,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
    },
    /// `DROP NAMESPACE [IF EXISTS] name [CASCADE]`
    DropNamespace {
        /// Namespace name.
        name: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
        /// `CASCADE` was given (the server drops tables either way).
        cascade: bool,
    },
    /// `USE name`, `USE NAMESPACE name`, `SET NAMESPACE name`: later unqualified names resolve to
    /// this namespace.
    UseNamespace {
        /// Namespace name.
        name: String,
    },
    /// `CREATE [USER|SHARED|STREAM] TABLE [IF NOT EXISTS] ns.t (...) [WITH (...)]`
    CreateTable {
        /// The complete table, system columns included.
        table: Table,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
    },
    /// `ALTER TABLE ns.t <op>, <op>…`
    AlterTable {
        /// Namespace of the table.
        namespace: String,
        /// Table name.
        table: String,
        /// The operations, applied in order.
        ops: Vec<AlterTableOp>,
    },
    /// `DROP [USER|SHARED|STREAM] TABLE [IF EXISTS] ns.t`
    DropTable {
        /// Namespace of the table.
        namespace: String,
        /// Table name.
        table: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
    },
    /// `CREATE TOPIC ns.name [PARTITIONS n]`
    CreateTopic {
        /// Namespace of the topic.
        namespace: String,
        /// Topic name.
        name: String,
        /// Number of partitions (default 1).
        partitions: u32,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
    },
    /// `ALTER TOPIC ns.name ADD SOURCE ns.t ON INSERT|UPDATE|DELETE [WHERE …] [WITH (payload = …)]`
    AlterTopicAddSource {
        /// Namespace of the topic.
        namespace: String,
        /// Topic name.
        topic: String,
        /// The new route.
        source: TopicSource,
    },
    /// `DROP TOPIC [IF EXISTS] ns.name`
    DropTopic {
        /// Namespace of the topic.
        namespace: String,
        /// Topic name.
        name: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
    },
}

/// What a DDL statement changes, as far as queries over tables are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DdlTarget<'a> {
    /// A namespace as a whole (created or dropped, with every table in it).
    Namespace(&'a str),
    /// One table (created, altered or dropped).
    Table {
        /// Namespace of the table.
        namespace: &'a str,
        /// Table name.
        table: &'a str,
    },
    /// Nothing a query reads: `USE`, topics.
    None,
}

impl DdlStatement {
    /// The namespace or table this statement changes.
    ///
    /// ```
    /// use kalam_schema::{DdlTarget, parse_ddl};
    /// let stmts = parse_ddl("CREATE NAMESPACE app; USE app; ALTER TABLE t ADD COLUMN n INT").unwrap();
    /// assert_eq!(stmts[0].target(), DdlTarget::Namespace("app"));
    /// assert_eq!(stmts[1].target(), DdlTarget::None);
    /// assert_eq!(stmts[2].target(), DdlTarget::Table { namespace: "app", table: "t" });
    /// ```
    pub fn target(&self) -> DdlTarget<'_> {
        match self {
            DdlStatement::CreateNamespace { name, .. }
            | DdlStatement::DropNamespace { name, .. } => DdlTarget::Namespace(name),
            DdlStatement::CreateTable { table, .. } => DdlTarget::Table {
                namespace: &table.namespace,
                table: &table.name,
            },
            DdlStatement::AlterTable {
                namespace, table, ..
            }
            | DdlStatement::DropTable {
                namespace, table, ..
            } => DdlTarget::Table { namespace, table },
            DdlStatement::UseNamespace { .. }
            | DdlStatement::CreateTopic { .. }
            | DdlStatement::AlterTopicAddSource { .. }
            | DdlStatement::DropTopic { .. } => DdlTarget::None,
        }
    }
}

/// One operation of `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AlterTableOp {
    /// `ADD [COLUMN] [IF NOT EXISTS] c TYPE …` (the column's ordinal is assigned when applied).
    AddColumn {
        /// The new column.
        column: Column,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
    },
    /// `DROP [COLUMN] [IF EXISTS] c`
    DropColumn {
        /// Column name.
        name: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
    },
    /// `MODIFY [COLUMN] c TYPE [NOT NULL|NULL]` or `ALTER COLUMN c [SET DATA] TYPE t`.
    ModifyColumn {
        /// Column name.
        name: String,
        /// The new type.
        ty: SqlType,
        /// `Some(true)` for `NULL`, `Some(false)` for `NOT NULL`, `None` to keep.
        nullable: Option<bool>,
    },
    /// `ALTER COLUMN c SET NOT NULL` (`nullable: false`) / `DROP NOT NULL` (`nullable: true`).
    SetNullable {
        /// Column name.
        name: String,
        /// The new nullability.
        nullable: bool,
    },
    /// `ALTER COLUMN c SET DEFAULT v` / `DROP DEFAULT` (`None`).
    SetDefault {
        /// Column name.
        name: String,
        /// The new default.
        default: Option<DefaultValue>,
    },
    /// `RENAME COLUMN a TO b`
    RenameColumn {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `SET ACCESS LEVEL x` / `SET TBLPROPERTIES (ACCESS_LEVEL = 'x')` (SHARED tables only).
    SetAccessLevel(AccessLevel),
}

/// What a rule violation found by [`validate_table`] is about, so a parser can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Table,
    Column(String),
    Option(String),
}

/// Checks a name against protocol 0.4: `[A-Za-z0-9_]`, at most 64 characters, not starting
/// with `_` or a digit, not a reserved keyword. `what` is "namespace", "table" or "column".
pub fn validate_name(name: &str, what: &str) -> Result<(), SchemaError> {
    let invalid = |why: &str| {
        Err(SchemaError::new(
            ErrorKind::InvalidDefinition,
            format!("invalid {what} name '{name}': {why}"),
        ))
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > 64 {
        return invalid("it is longer than 64 characters");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid("only letters, digits and '_' are allowed");
    }
    if what == "column" && RESERVED_COLUMNS.contains(&name.to_ascii_lowercase().as_str()) {
        return invalid("it is a reserved column name");
    }
    if name.starts_with('_') {
        return invalid("names cannot start with '_'");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return invalid("names cannot start with a digit");
    }
    if RESERVED_KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        return invalid("it is a reserved SQL keyword");
    }
    Ok(())
}

/// The system columns the server appends to every table (protocol 7.4), numbered after the
/// `user_columns` user columns.
pub fn system_columns(user_columns: u32) -> [Column; 2] {
    let mut seq = Column::new("_seq", SqlType::BigInt, false);
    seq.ordinal = user_columns + 1;
    seq.system = true;
    seq.comment = Some("Version ID (MVCC) with embedded timestamp".into());
    let mut deleted = Column::new("_deleted", SqlType::Boolean, false);
    deleted.ordinal = user_columns + 2;
    deleted.system = true;
    deleted.default = Some(DefaultValue::Literal(Literal::Bool(false)));
    deleted.comment = Some("Soft delete flag".into());
    [seq, deleted]
}

/// Checks a complete table definition against the server's CREATE TABLE rules (protocol 7.3).
pub fn validate_table(table: &Table) -> Result<(), SchemaError> {
    validate_table_subject(table).map_err(|b| b.0)
}

pub(crate) fn validate_table_subject(table: &Table) -> Result<(), Box<(SchemaError, Subject)>> {
    let invalid = |msg: String, subject: Subject| {
        Err(Box::new((
            SchemaError::new(ErrorKind::InvalidDefinition, msg),
            subject,
        )))
    };
    validate_name(&table.name, "table").map_err(|e| Box::new((e, Subject::Table)))?;
    let mut seen: Vec<&str> = Vec::new();
    for c in table.user_columns() {
        validate_name(&c.name, "column")
            .map_err(|e| Box::new((e, Subject::Column(c.name.clone()))))?;
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&c.name)) {
            return invalid(
                format!("duplicate column name '{}'", c.name),
                Subject::Column(c.name.clone()),
            );
        }
        seen.push(&c.name);
    }
    let pks: Vec<&Column> = table.columns.iter().filter(|c| c.primary_key).collect();
    if pks.len() > 1 {
        return invalid(
            "Composite PRIMARY KEYs are not supported yet".into(),
            Subject::Column(pks[1].name.clone()),
        );
    }
    if pks.is_empty() && matches!(table.kind, TableKind::User | TableKind::Shared) {
        return invalid(
            format!(
                "{} table {} needs a PRIMARY KEY column",
                table.kind.as_str().to_ascii_uppercase(),
                table.qualified_name()
            ),
            Subject::Table,
        );
    }
    let o = &table.options;
    if table.kind == TableKind::Stream && o.ttl_seconds.is_none() {
        return invalid(
            format!(
                "STREAM table {} requires TTL_SECONDS",
                table.qualified_name()
            ),
            Subject::Table,
        );
    }
    if table.kind != TableKind::Stream && o.ttl_seconds.is_some() {
        return invalid(
            "TTL_SECONDS is only allowed on STREAM tables".into(),
            Subject::Option("TTL_SECONDS".into()),
        );
    }
    if table.kind != TableKind::Shared && o.access_level.is_some() {
        return invalid(
            "ACCESS_LEVEL is only allowed on SHARED tables".into(),
            Subject::Option("ACCESS_LEVEL".into()),
        );
    }
    if table.kind != TableKind::User && o.other.contains_key("USE_USER_STORAGE") {
        return invalid(
            "USE_USER_STORAGE is only allowed on USER tables".into(),
            Subject::Option("USE_USER_STORAGE".into()),
        );
    }
    Ok(())
}

/// Renumbers ordinals 1..n with user columns first and the system columns last.
fn renumber(table: &mut Table) {
    table.columns.sort_by_key(|c| c.system);
    for (i, c) in table.columns.iter_mut().enumerate() {
        c.ordinal = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
}

impl Catalog {
    /// A catalog as a fresh server has it: the `default` namespace and the `system` tables
    /// used for introspection (`system.namespaces`, `system.tables`, `system.columns`,
    /// protocol 8.1–8.3).
    ///
    /// ```
    /// use kalam_schema::{Catalog, TableKind};
    /// let c = Catalog::with_builtins();
    /// assert!(c.namespaces.contains_key("default"));
    /// assert_eq!(c.table("system", "columns").unwrap().kind, TableKind::System);
    /// ```
    pub fn with_builtins() -> Catalog {
        let mut c = Catalog::default();
        c.namespaces.insert(
            DEFAULT_NAMESPACE.into(),
            Namespace {
                name: DEFAULT_NAMESPACE.into(),
                ..Namespace::default()
            },
        );
        let mut system = Namespace {
            name: "system".into(),
            ..Namespace::default()
        };
        for t in crate::builtins::system_tables() {
            system.tables.insert(t.name.clone(), t);
        }
        c.namespaces.insert("system".into(), system);
        c
    }

    /// Applies one DDL statement, enforcing the server's rules: the namespace must exist, a
    /// table or topic must not exist unless `IF NOT EXISTS`, altered and dropped objects must
    /// exist unless `IF EXISTS`, table definitions must pass [`validate_table`].
    ///
    /// ```
    /// # #[cfg(feature = "parse")] {
    /// use kalam_schema::{Catalog, parse_ddl};
    /// let mut c = Catalog::with_builtins();
    /// for stmt in parse_ddl("CREATE NAMESPACE app; CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY)").unwrap() {
    ///     c.apply(stmt).unwrap();
    /// }
    /// assert!(c.table("app", "todos").is_some());
    /// # }
    /// ```
    pub fn apply(&mut self, stmt: DdlStatement) -> Result<(), SchemaError> {
        match stmt {
            DdlStatement::CreateNamespace {
                name,
                if_not_exists,
            } => {
                if self.namespaces.contains_key(&name) {
                    if if_not_exists {
                        return Ok(());
                    }
                    return Err(SchemaError::new(
                        ErrorKind::AlreadyExists,
                        format!("Namespace '{name}' already exists"),
                    ));
                }
                if RESERVED_NAMESPACES.contains(&name.to_ascii_lowercase().as_str()) {
                    return Err(SchemaError::new(
                        ErrorKind::InvalidDefinition,
                        format!("Namespace '{name}' is reserved and cannot be used"),
                    ));
                }
                validate_name(&name, "namespace")?;
                self.namespaces.insert(
                    name.clone(),
                    Namespace {
                        name,
                        ..Namespace::default()
                    },
                );
                Ok(())
            }
            DdlStatement::DropNamespace {
                name, if_exists, ..
            } => {
                if self.namespaces.remove(&name).is_none() && !if_exists {
                    return Err(self.unknown_namespace(&name));
                }
                Ok(())
            }
            DdlStatement::UseNamespace { name } => {
                self.namespace(&name)?;
                Ok(())
            }
            DdlStatement::CreateTable {
                mut table,
                if_not_exists,
            } => {
                // Column names are folded to lower case (protocol 0.4), also for tables built
                // by hand rather than parsed.
                for c in &mut table.columns {
                    c.name.make_ascii_lowercase();
                }
                validate_table(&table)?;
                let unknown = self.unknown_namespace(&table.namespace);
                let ns = self.namespaces.get_mut(&table.namespace).ok_or(unknown)?;
                if ns.tables.contains_key(&table.name) {
                    if if_not_exists {
                        return Ok(());
                    }
                    return Err(SchemaError::new(
                        ErrorKind::AlreadyExists,
                        format!("Table '{}' already exists", table.qualified_name()),
                    ));
                }
                ns.tables.insert(table.name.clone(), table);
                Ok(())
            }
            DdlStatement::AlterTable {
                namespace,
                table,
                ops,
            } => {
                let mut t = self.table_or_error(&namespace, &table)?.clone();
                for op in ops {
                    alter(&mut t, op)?;
                }
                renumber(&mut t);
                validate_table(&t)?;
                if let Some(ns) = self.namespaces.get_mut(&namespace) {
                    ns.tables.insert(t.name.clone(), t);
                }
                Ok(())
            }
            DdlStatement::DropTable {
                namespace,
                table,
                if_exists,
            } => {
                let removed = self
                    .namespaces
                    .get_mut(&namespace)
                    .and_then(|ns| ns.tables.remove(&table));
                if removed.is_none() && !if_exists {
                    self.table_or_error(&namespace, &table)?;
                }
                Ok(())
            }
            DdlStatement::CreateTopic {
                namespace,
                name,
                partitions,
                if_not_exists,
            } => {
                validate_name(&name, "topic")?;
                let unknown = self.unknown_namespace(&namespace);
                let ns = self.namespaces.get_mut(&namespace).ok_or(unknown)?;
                if ns.topics.contains_key(&name) {
                    if if_not_exists {
                        return Ok(());
                    }
                    return Err(SchemaError::new(
                        ErrorKind::AlreadyExists,
                        format!("Topic '{namespace}.{name}' already exists"),
                    ));
                }
                ns.topics.insert(
                    name.clone(),
                    Topic {
                        namespace,
                        name,
                        partitions,
                        sources: Vec::new(),
                    },
                );
                Ok(())
            }
            DdlStatement::AlterTopicAddSource {
                namespace,
                topic,
                source,
            } => {
                self.table_or_error(&source.namespace, &source.table)?;
                let err = self.unknown_topic(&namespace, &topic);
                let t = self
                    .namespaces
                    .get_mut(&namespace)
                    .and_then(|ns| ns.topics.get_mut(&topic))
                    .ok_or(err)?;
                if t.sources.iter().any(|s| {
                    s.namespace == source.namespace && s.table == source.table && s.op == source.op
                }) {
                    return Err(SchemaError::new(
                        ErrorKind::AlreadyExists,
                        format!(
                            "topic '{namespace}.{topic}' already has a source {}.{} ON {}",
                            source.namespace,
                            source.table,
                            source.op.as_str()
                        ),
                    ));
                }
                t.sources.push(source);
                Ok(())
            }
            DdlStatement::DropTopic {
                namespace,
                name,
                if_exists,
            } => {
                let removed = self
                    .namespaces
                    .get_mut(&namespace)
                    .and_then(|ns| ns.topics.remove(&name));
                if removed.is_none() && !if_exists {
                    return Err(self.unknown_topic(&namespace, &name));
                }
                Ok(())
            }
        }
    }

    /// The namespace, or an [`ErrorKind::UnknownNamespace`] error with a suggestion.
    pub fn namespace(&self, name: &str) -> Result<&Namespace, SchemaError> {
        self.namespaces
            .get(name)
            .ok_or_else(|| self.unknown_namespace(name))
    }

    /// The table, or an [`ErrorKind::UnknownTable`] / [`ErrorKind::UnknownNamespace`] error
    /// with the nearest existing name as suggestion.
    pub fn table_or_error(&self, namespace: &str, name: &str) -> Result<&Table, SchemaError> {
        let ns = self.namespace(namespace)?;
        ns.tables.get(name).ok_or_else(|| {
            let mut e = SchemaError::new(
                ErrorKind::UnknownTable,
                format!("unknown table `{namespace}.{name}`"),
            );
            if let Some(s) = nearest(name, ns.tables.keys().map(String::as_str)) {
                e = e.with_suggestion(format!("{namespace}.{s}"));
            } else if let Some(other) = self
                .namespaces
                .values()
                .find(|n| n.tables.contains_key(name))
            {
                e = e.with_suggestion(format!("{}.{name}", other.name));
            }
            e
        })
    }

    fn unknown_namespace(&self, name: &str) -> SchemaError {
        let mut e = SchemaError::new(
            ErrorKind::UnknownNamespace,
            format!(
                "Namespace '{name}' does not exist. Create it first with CREATE NAMESPACE {name}"
            ),
        );
        if let Some(s) = nearest(name, self.namespaces.keys().map(String::as_str)) {
            e = e.with_suggestion(s);
        }
        e
    }

    fn unknown_topic(&self, namespace: &str, name: &str) -> SchemaError {
        let mut e = SchemaError::new(
            ErrorKind::UnknownTopic,
            format!("unknown topic `{namespace}.{name}`"),
        );
        if let Some(s) = self
            .namespaces
            .get(namespace)
            .and_then(|ns| nearest(name, ns.topics.keys().map(String::as_str)))
        {
            e = e.with_suggestion(format!("{namespace}.{s}"));
        }
        e
    }
}

fn unknown_column(table: &Table, name: &str) -> SchemaError {
    let mut e = SchemaError::new(
        ErrorKind::UnknownColumn,
        format!("unknown column `{name}` in {}", table.qualified_name()),
    );
    if let Some(s) = nearest(name, table.columns.iter().map(|c| c.name.as_str())) {
        e = e.with_suggestion(s);
    }
    e
}

fn user_column_mut<'a>(table: &'a mut Table, name: &str) -> Result<&'a mut Column, SchemaError> {
    let qualified = table.qualified_name();
    if table
        .columns
        .iter()
        .any(|c| c.system && c.name.eq_ignore_ascii_case(name))
    {
        return Err(SchemaError::new(
            ErrorKind::InvalidDefinition,
            format!("cannot alter system column `{name}` of {qualified}"),
        ));
    }
    let err = unknown_column(table, name);
    table
        .columns
        .iter_mut()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .ok_or(err)
}

fn alter(t: &mut Table, op: AlterTableOp) -> Result<(), SchemaError> {
    match op {
        AlterTableOp::AddColumn {
            mut column,
            if_not_exists,
        } => {
            column.name = column.name.to_ascii_lowercase();
            if t.column(&column.name).is_some() {
                if if_not_exists {
                    return Ok(());
                }
                return Err(SchemaError::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "column `{}` already exists in {}",
                        column.name,
                        t.qualified_name()
                    ),
                ));
            }
            if column.primary_key {
                return Err(SchemaError::new(
                    ErrorKind::InvalidDefinition,
                    "ALTER TABLE cannot add a PRIMARY KEY column",
                ));
            }
            validate_name(&column.name, "column")?;
            column.system = false;
            t.columns.push(column);
        }
        AlterTableOp::DropColumn { name, if_exists } => {
            if !if_exists || t.column(&name).is_some() {
                let c = user_column_mut(t, &name)?;
                if c.primary_key {
                    return Err(SchemaError::new(
                        ErrorKind::InvalidDefinition,
                        format!("cannot drop the primary key column `{name}`"),
                    ));
                }
                let lower = c.name.clone();
                t.columns.retain(|c| c.name != lower);
            }
        }
        AlterTableOp::ModifyColumn { name, ty, nullable } => {
            let c = user_column_mut(t, &name)?;
            c.ty = ty;
            if let Some(n) = nullable {
                c.nullable = n && !c.primary_key;
            }
        }
        AlterTableOp::SetNullable { name, nullable } => {
            let c = user_column_mut(t, &name)?;
            if nullable && c.primary_key {
                return Err(SchemaError::new(
                    ErrorKind::InvalidDefinition,
                    format!("the primary key column `{name}` cannot be nullable"),
                ));
            }
            c.nullable = nullable;
        }
        AlterTableOp::SetDefault { name, default } => {
            user_column_mut(t, &name)?.default = default;
        }
        AlterTableOp::RenameColumn { from, to } => {
            let to = to.to_ascii_lowercase();
            validate_name(&to, "column")?;
            if t.column(&to).is_some() {
                return Err(SchemaError::new(
                    ErrorKind::AlreadyExists,
                    format!("column `{to}` already exists in {}", t.qualified_name()),
                ));
            }
            user_column_mut(t, &from)?.name = to;
        }
        AlterTableOp::SetAccessLevel(level) => {
            if t.kind != TableKind::Shared {
                return Err(SchemaError::new(
                    ErrorKind::InvalidDefinition,
                    "ACCESS LEVEL can only be set on SHARED tables",
                ));
            }
            t.options.access_level = Some(level);
        }
    }
    Ok(())
}
