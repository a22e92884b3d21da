//! KalamDB DDL text → [`DdlStatement`]s (protocol 7), as the server accepts it.
//!
//! Table statements go through sqlparser's PostgreSQL dialect after the server's
//! pre-processing (the `USER|SHARED|STREAM` prefix, `USING <method>`, `CURRENT_USER()`,
//! `AUTO_INCREMENT`); KalamDB's own statements (namespaces, topics, `USE`) have small
//! hand-written parsers. Every rewrite blanks text instead of moving it, so positions in errors
//! point into the original text.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, CreateTable,
    CreateTableOptions, DataType, Expr, Ident, ObjectName, ObjectNamePart, ObjectType, SqlOption,
    Statement, TableConstraint, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::ddl::{
    AlterTableOp, DEFAULT_NAMESPACE, DdlStatement, Subject, system_columns, validate_name,
    validate_table_subject,
};
use crate::error::{ErrorKind, LineIndex, Location, SchemaError};
use crate::lex::{self, Tok};
use crate::model::{AccessLevel, Column, DefaultValue, Literal, Table, TableKind, TableOptions};
use crate::types::SqlType;

#[path = "parse_fast.rs"]
mod fast;
#[path = "parse_kalam.rs"]
mod kalam;

/// A parsed DDL statement with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedDdl {
    /// The statement.
    pub statement: DdlStatement,
    /// The location of the statement's main object name (for errors while applying it).
    pub location: Location,
    /// Byte range of the statement in the text (without the `;`).
    pub span: std::ops::Range<usize>,
}

/// Parses a batch of DDL statements separated by `;`. Unqualified names resolve to the
/// `default` namespace (or to the namespace of a preceding `USE`).
///
/// ```
/// use kalam_schema::{parse_ddl, DdlStatement, SqlType, TableKind};
/// let stmts = parse_ddl(
///     "CREATE NAMESPACE IF NOT EXISTS app;
///      CREATE USER TABLE app.todos (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), title TEXT NOT NULL)",
/// ).unwrap();
/// let DdlStatement::CreateTable { table, .. } = &stmts[1] else { panic!() };
/// assert_eq!(table.kind, TableKind::User);
/// assert_eq!(table.column("title").unwrap().ty, SqlType::Text);
/// assert_eq!(table.columns.last().unwrap().name, "_deleted");
/// ```
pub fn parse_ddl(sql: &str) -> Result<Vec<DdlStatement>, SchemaError> {
    Ok(parse_ddl_located(sql, DEFAULT_NAMESPACE)?
        .into_iter()
        .map(|l| l.statement)
        .collect())
}

/// Like [`parse_ddl`], with an explicit starting namespace and each statement's location.
pub fn parse_ddl_located(
    sql: &str,
    default_namespace: &str,
) -> Result<Vec<LocatedDdl>, SchemaError> {
    parse_impl(sql, default_namespace, true)
}

/// `fast`: allow the token-level CREATE TABLE fast path (tests turn it off to compare).
fn parse_impl(
    sql: &str,
    default_namespace: &str,
    fast: bool,
) -> Result<Vec<LocatedDdl>, SchemaError> {
    let mut current = default_namespace.to_owned();
    let mut out = Vec::new();
    let lines = LineIndex::new(sql);
    for (start, end) in lex::split_statements(sql)? {
        let seg = Seg {
            full: sql,
            base: start,
            text: &sql[start..end],
            lines: &lines,
            fast,
        };
        let (statement, location) = seg.parse(&current)?;
        if let DdlStatement::UseNamespace { name } = &statement {
            current = name.clone();
        }
        out.push(LocatedDdl {
            statement,
            location,
            span: start..end,
        });
    }
    Ok(out)
}

/// One statement's text and where it sits in the whole input.
struct Seg<'a> {
    full: &'a str,
    base: usize,
    text: &'a str,
    lines: &'a LineIndex,
    fast: bool,
}

type Parsed = (DdlStatement, Location);

impl Seg<'_> {
    fn loc(&self, offset: usize, len: usize) -> Location {
        self.lines.location(self.full, self.base + offset, len)
    }

    fn tok_loc(&self, t: &Tok) -> Location {
        self.loc(t.start, t.end - t.start)
    }

    fn err_at(&self, kind: ErrorKind, msg: impl Into<String>, t: Option<&Tok>) -> SchemaError {
        let loc = match t {
            Some(t) => self.tok_loc(t),
            None => self.loc(self.text.len(), 0),
        };
        SchemaError::new(kind, msg).at(loc)
    }

    /// The location of a sqlparser span (relative to this statement).
    fn span_loc(&self, span: sqlparser::tokenizer::Span) -> Location {
        if span.start.line == 0 {
            return self.loc(0, 0);
        }
        let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let s = Location::offset_of(self.text, n(span.start.line), n(span.start.column));
        let e = Location::offset_of(self.text, n(span.end.line), n(span.end.column));
        self.loc(s, e.saturating_sub(s))
    }

    fn parse(&self, current: &str) -> Result<Parsed, SchemaError> {
        let toks = lex::tokenize(self.text).map_err(|e| self.shift(e))?;
        let kw = |i: usize, k: &str| toks.get(i).is_some_and(|t| t.is_kw(k));
        let kind_kw = |i: usize| {
            ["USER", "SHARED", "STREAM"]
                .iter()
                .find(|k| kw(i, k))
                .and_then(|k| TableKind::parse(k))
        };
        if kw(0, "CREATE") && kw(1, "NAMESPACE") {
            return self.create_namespace(&toks);
        }
        if kw(0, "DROP") && kw(1, "NAMESPACE") {
            return self.drop_namespace(&toks);
        }
        if kw(0, "USE") || (kw(0, "SET") && kw(1, "NAMESPACE")) {
            let at = if kw(1, "NAMESPACE") { 2 } else { 1 };
            let (name, t) = self.ident_at(&toks, at, "a namespace name")?;
            self.expect_end(&toks, at + 1)?;
            return Ok((DdlStatement::UseNamespace { name }, self.tok_loc(t)));
        }
        if kw(0, "CREATE") && kw(1, "TOPIC") {
            return self.create_topic(&toks, current);
        }
        if kw(0, "ALTER") && kw(1, "TOPIC") {
            return self.alter_topic(&toks, current);
        }
        if kw(0, "DROP") && kw(1, "TOPIC") {
            return self.drop_topic(&toks, current);
        }
        for verb in ["CREATE", "ALTER", "DROP"] {
            if kw(0, verb) {
                let prefix = kind_kw(1);
                let table_at = if prefix.is_some() { 2 } else { 1 };
                if kw(table_at, "TABLE") {
                    return self.table_statement(verb, &toks, prefix, current);
                }
            }
        }
        let first = toks.first();
        let what = first
            .map(|t| self.text[t.start..t.end].to_ascii_uppercase())
            .unwrap_or_default();
        Err(self.err_at(
            ErrorKind::Unsupported,
            format!("unsupported statement in DDL: `{what}` (expected CREATE/ALTER/DROP NAMESPACE, TABLE or TOPIC, or USE)"),
            first,
        ))
    }

    /// Moves an error located relative to this statement to the whole text.
    fn shift(&self, mut e: SchemaError) -> SchemaError {
        if let Some(l) = &e.location {
            e.location = Some(self.loc(l.offset, l.len));
        }
        e
    }

    fn ident_at<'t, 'x>(
        &self,
        toks: &'t [Tok<'x>],
        i: usize,
        what: &str,
    ) -> Result<(String, &'t Tok<'x>), SchemaError> {
        match toks.get(i) {
            Some(t) => match t.ident() {
                Some(name) => Ok((name.to_ascii_lowercase(), t)),
                None => Err(self.err_at(ErrorKind::Syntax, format!("expected {what}"), Some(t))),
            },
            None => Err(self.err_at(ErrorKind::Syntax, format!("expected {what}"), None)),
        }
    }

    /// `[ns.]name` at `i`; returns (namespace, name, first token, next index).
    fn qualified_at<'t, 'x>(
        &self,
        toks: &'t [Tok<'x>],
        i: usize,
        current: &str,
        what: &str,
    ) -> Result<(String, String, &'t Tok<'x>, usize), SchemaError> {
        let (first, t) = self.ident_at(toks, i, what)?;
        if toks.get(i + 1).is_some_and(|t| t.is_punct('.')) {
            let (second, _) = self.ident_at(toks, i + 2, what)?;
            Ok((first, second, t, i + 3))
        } else {
            Ok((current.to_owned(), first, t, i + 1))
        }
    }

    fn expect_end(&self, toks: &[Tok], i: usize) -> Result<(), SchemaError> {
        match toks.get(i) {
            None => Ok(()),
            Some(t) => Err(self.err_at(
                ErrorKind::Syntax,
                format!("unexpected `{}`", &self.text[t.start..t.end]),
                Some(t),
            )),
        }
    }

    /// CREATE / ALTER / DROP [USER|SHARED|STREAM] TABLE through sqlparser.
    fn table_statement(
        &self,
        verb: &str,
        toks: &[Tok],
        prefix: Option<TableKind>,
        current: &str,
    ) -> Result<Parsed, SchemaError> {
        let mut text = self.text.to_owned();
        if prefix.is_some() {
            lex::blank(&mut text, toks[1].start, toks[1].end);
        }
        if verb == "CREATE" {
            if let Some(done) = self
                .fast
                .then(|| self.fast_create_table(toks, prefix, current))
                .flatten()
            {
                return done;
            }
            self.preprocess_create(&mut text, toks);
        } else if verb == "ALTER" {
            // `SET ACCESS LEVEL x` is KalamDB syntax that sqlparser does not know.
            let set_at = toks
                .windows(3)
                .position(|w| w[0].is_kw("SET") && w[1].is_kw("ACCESS") && w[2].is_kw("LEVEL"));
            if let Some(j) = set_at {
                let level = toks
                    .get(j + 3)
                    .and_then(Tok::ident)
                    .and_then(AccessLevel::parse)
                    .ok_or_else(|| {
                        self.err_at(
                            ErrorKind::Syntax,
                            "expected PUBLIC, PRIVATE, RESTRICTED or DBA",
                            toks.get(j + 3),
                        )
                    })?;
                self.expect_end(toks, j + 4)?;
                let name_at = if prefix.is_some() { 3 } else { 2 };
                let (namespace, table, t, next) =
                    self.qualified_at(toks, name_at, current, "a table name")?;
                if next != j {
                    return Err(self.err_at(ErrorKind::Syntax, "unexpected text", toks.get(next)));
                }
                let ops = vec![AlterTableOp::SetAccessLevel(level)];
                return Ok((
                    DdlStatement::AlterTable {
                        namespace,
                        table,
                        ops,
                    },
                    self.tok_loc(t),
                ));
            }
        }
        lex::bare_current_user(&mut text).map_err(|e| self.shift(e))?;
        let stmt = self.sqlparse(&text)?;
        match (verb, stmt) {
            ("CREATE", Statement::CreateTable(ct)) => self.create_table(&ct, prefix, current),
            ("ALTER", Statement::AlterTable(at)) => {
                let (namespace, table, loc) = self.object_name(&at.name, current)?;
                let mut ops = Vec::new();
                for op in &at.operations {
                    ops.push(self.alter_op(op)?);
                }
                Ok((
                    DdlStatement::AlterTable {
                        namespace,
                        table,
                        ops,
                    },
                    loc,
                ))
            }
            (
                "DROP",
                Statement::Drop {
                    object_type: ObjectType::Table,
                    if_exists,
                    names,
                    ..
                },
            ) if names.len() == 1 => {
                let (namespace, table, loc) = self.object_name(&names[0], current)?;
                Ok((
                    DdlStatement::DropTable {
                        namespace,
                        table,
                        if_exists,
                    },
                    loc,
                ))
            }
            _ => Err(self.err_at(
                ErrorKind::Unsupported,
                format!("unsupported {verb} TABLE form (one table per statement)"),
                toks.first(),
            )),
        }
    }

    /// The server's CREATE TABLE pre-processing, done by blanking or same-length rewrites.
    fn preprocess_create(&self, text: &mut String, toks: &[Tok]) {
        // `USING <method>` after the column list.
        for w in toks.windows(3) {
            if w[0].is_punct(')') && w[1].is_kw("USING") && w[2].ident().is_some() {
                lex::blank(text, w[1].start, w[2].end);
            }
        }
        // AUTO_INCREMENT / AUTO INCREMENT → a 14-byte default that stands for SNOWFLAKE_ID().
        let mut rewrites = Vec::new();
        for (j, t) in toks.iter().enumerate() {
            if t.is_kw("AUTO_INCREMENT") {
                rewrites.push((t.start, t.end));
            } else if t.is_kw("AUTO") && toks.get(j + 1).is_some_and(|n| n.is_kw("INCREMENT")) {
                rewrites.push((t.start, toks[j + 1].end));
            }
        }
        for (s, e) in rewrites {
            if e - s == AUTO_INCREMENT_STANDIN.len() {
                text.replace_range(s..e, AUTO_INCREMENT_STANDIN);
            }
        }
    }

    fn sqlparse(&self, text: &str) -> Result<Statement, SchemaError> {
        let mut stmts = Parser::new(&PostgreSqlDialect {})
            .with_recursion_limit(RECURSION_LIMIT)
            .with_options(sqlparser::parser::ParserOptions::new().with_trailing_commas(true))
            .try_with_sql(text)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| parser_error(self.full, self.base, text, &e))?;
        match stmts.len() {
            1 => Ok(stmts.remove(0)),
            _ => Err(self.err_at(ErrorKind::Syntax, "expected exactly one statement", None)),
        }
    }

    fn object_name(
        &self,
        name: &ObjectName,
        current: &str,
    ) -> Result<(String, String, Location), SchemaError> {
        let parts: Vec<&Ident> = name
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(i) => Some(i),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        match parts.as_slice() {
            [t] => Ok((
                current.to_owned(),
                t.value.to_ascii_lowercase(),
                self.span_loc(t.span),
            )),
            [n, t] => Ok((
                n.value.to_ascii_lowercase(),
                t.value.to_ascii_lowercase(),
                self.span_loc(t.span),
            )),
            _ => Err(SchemaError::new(
                ErrorKind::Syntax,
                format!("expected `namespace.table`, found `{name}`"),
            )
            .at(self.loc(0, 0))),
        }
    }

    fn create_table(
        &self,
        ct: &CreateTable,
        prefix: Option<TableKind>,
        current: &str,
    ) -> Result<Parsed, SchemaError> {
        let (namespace, name, name_loc) = self.object_name(&ct.name, current)?;
        if ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
            return Err(SchemaError::new(
                ErrorKind::Unsupported,
                "CREATE TABLE … AS / LIKE / CLONE is not supported",
            )
            .at(name_loc));
        }
        let mut columns = Vec::new();
        for (i, def) in ct.columns.iter().enumerate() {
            let mut c = self.column(def)?;
            c.ordinal = u32::try_from(i + 1).unwrap_or(u32::MAX);
            columns.push(c);
        }
        for constraint in &ct.constraints {
            match constraint {
                TableConstraint::PrimaryKey(pk) => {
                    if pk.columns.len() != 1 || columns.iter().any(|c| c.primary_key) {
                        return Err(SchemaError::new(
                            ErrorKind::InvalidDefinition,
                            "Composite PRIMARY KEYs are not supported yet",
                        )
                        .at(name_loc));
                    }
                    let Expr::Identifier(id) = &pk.columns[0].column.expr else {
                        return Err(SchemaError::new(
                            ErrorKind::InvalidDefinition,
                            "PRIMARY KEY needs a column name",
                        )
                        .at(name_loc));
                    };
                    let lower = id.value.to_ascii_lowercase();
                    let c = columns
                        .iter_mut()
                        .find(|c| c.name == lower)
                        .ok_or_else(|| {
                            SchemaError::new(
                                ErrorKind::UnknownColumn,
                                format!("PRIMARY KEY names unknown column `{lower}`"),
                            )
                            .at(self.span_loc(id.span))
                        })?;
                    c.primary_key = true;
                    c.nullable = false;
                }
                TableConstraint::Unique(_) => {}
                other => {
                    return Err(SchemaError::new(
                        ErrorKind::Unsupported,
                        format!("unsupported table constraint `{other}`"),
                    )
                    .at(name_loc));
                }
            }
        }
        let col_locs = ct
            .columns
            .iter()
            .map(|d| self.span_loc(d.name.span))
            .collect();
        let mut options = Vec::new();
        for o in option_list(&ct.table_options) {
            let SqlOption::KeyValue { key, value } = o else {
                return Err(SchemaError::new(
                    ErrorKind::Syntax,
                    format!("expected KEY = value in WITH (...), found `{o}`"),
                )
                .at(self.loc(0, 0)));
            };
            options.push(OptionSpec {
                key: key.value.clone(),
                loc: self.span_loc(key.span),
                text: option_text(value),
                shown: value.to_string(),
            });
        }
        let comment = ct.comment.as_ref().map(|c| match c {
            sqlparser::ast::CommentDef::WithEq(s) | sqlparser::ast::CommentDef::WithoutEq(s) => {
                s.clone()
            }
        });
        self.finish_table(TableSpec {
            namespace,
            name,
            name_loc,
            if_not_exists: ct.if_not_exists,
            prefix,
            columns,
            col_locs,
            options,
            comment,
        })
    }

    /// The part of CREATE TABLE shared by the sqlparser path and the fast path: options, kind,
    /// system columns and the server's rules, with errors pointing at what they are about.
    fn finish_table(&self, spec: TableSpec) -> Result<Parsed, SchemaError> {
        let TableSpec {
            namespace,
            name,
            name_loc,
            if_not_exists,
            prefix,
            mut columns,
            col_locs,
            options,
            comment,
        } = spec;
        let (with_kind, opts) = table_options(&options)?;
        let kind = match (prefix, with_kind) {
            (Some(p), Some((w, loc))) if p != w => {
                return Err(SchemaError::new(
                    ErrorKind::InvalidDefinition,
                    format!(
                        "table type {} in the prefix disagrees with TYPE = '{}'",
                        p.as_str().to_ascii_uppercase(),
                        w.as_str().to_ascii_uppercase()
                    ),
                )
                .at(loc));
            }
            (Some(p), _) => p,
            (None, Some((w, _))) => w,
            (None, None) => TableKind::Shared,
        };
        let user_count = u32::try_from(columns.len()).unwrap_or(u32::MAX);
        columns.extend(system_columns(user_count));
        let table = Table {
            namespace,
            name,
            kind,
            columns,
            options: opts,
            comment,
        };
        if let Err(boxed) = validate_table_subject(&table) {
            let (e, subject) = *boxed;
            let loc = match subject {
                Subject::Column(c) => table
                    .columns
                    .iter()
                    .position(|d| d.name.eq_ignore_ascii_case(&c))
                    .and_then(|i| col_locs.get(i).cloned()),
                Subject::Option(key) => options
                    .iter()
                    .find(|o| o.key.eq_ignore_ascii_case(&key))
                    .map(|o| o.loc.clone()),
                Subject::Table => None,
            };
            return Err(e.at(loc.unwrap_or(name_loc)));
        }
        Ok((
            DdlStatement::CreateTable {
                table,
                if_not_exists,
            },
            name_loc,
        ))
    }

    fn column(&self, def: &ColumnDef) -> Result<Column, SchemaError> {
        let name = def.name.value.to_ascii_lowercase();
        let (ty, serial) = self.data_type(&def.data_type, &def.name)?;
        let mut c = Column::new(name, ty, true);
        if serial {
            c.default = Some(DefaultValue::SnowflakeId);
        }
        for o in &def.options {
            match &o.option {
                ColumnOption::Null => c.nullable = true,
                ColumnOption::NotNull => c.nullable = false,
                ColumnOption::Default(e) => c.default = Some(self.default_value(e)?),
                ColumnOption::PrimaryKey(_) => {
                    c.primary_key = true;
                }
                ColumnOption::Unique(_) => {}
                ColumnOption::Comment(s) => c.comment = Some(s.clone()),
                ColumnOption::Identity(_) | ColumnOption::Generated { .. } => {
                    c.default = Some(DefaultValue::SnowflakeId);
                }
                other => {
                    return Err(SchemaError::new(
                        ErrorKind::Unsupported,
                        format!("unsupported column option `{other}` on column `{}`", c.name),
                    )
                    .at(self.span_loc(def.name.span)));
                }
            }
        }
        if c.primary_key {
            c.nullable = false;
        }
        Ok(c)
    }

    /// Maps a column type through the one type table; the bool is true for SERIAL types.
    fn data_type(&self, dt: &DataType, col: &Ident) -> Result<(SqlType, bool), SchemaError> {
        let at = || self.span_loc(col.span);
        let text = dt.to_string();
        let upper = text.to_ascii_uppercase();
        if matches!(
            dt,
            DataType::Array(_) | DataType::Enum(..) | DataType::Set(_) | DataType::Struct(..)
        ) {
            return Ok((SqlType::Text, false));
        }
        if let DataType::Timestamp(_, tz) = dt
            && *tz != sqlparser::ast::TimezoneInfo::None
            && *tz != sqlparser::ast::TimezoneInfo::WithoutTimeZone
        {
            {
                return Err(SchemaError::new(
                    ErrorKind::UnsupportedType,
                    format!(
                        "unsupported column type `{text}` for column `{}`",
                        col.value
                    ),
                )
                .at(at())
                .with_suggestion("use DATETIME for a UTC timestamp"));
            }
        }
        let serial = upper.contains("SERIAL");
        match SqlType::from_sql_name(&text) {
            Some(t) => Ok((t, serial)),
            None => Err(SchemaError::new(
                ErrorKind::UnsupportedType,
                format!(
                    "unsupported column type `{text}` for column `{}`",
                    col.value
                ),
            )
            .at(at())),
        }
    }

    fn default_value(&self, e: &Expr) -> Result<DefaultValue, SchemaError> {
        Ok(match e {
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_uppercase();
                match name.as_str() {
                    "SNOWFLAKE_ID" | AUTO_INCREMENT_FN => DefaultValue::SnowflakeId,
                    "UUID_V7" => DefaultValue::UuidV7,
                    "ULID" => DefaultValue::Ulid,
                    "NOW" | "CURRENT_TIMESTAMP" => DefaultValue::Now,
                    "CURRENT_USER" | "CURRENT_USER_ID" => DefaultValue::CurrentUser,
                    _ => DefaultValue::Literal(Literal::String(e.to_string())),
                }
            }
            Expr::Identifier(i) if i.value.eq_ignore_ascii_case("CURRENT_TIMESTAMP") => {
                DefaultValue::Now
            }
            Expr::Value(v) => DefaultValue::Literal(value_literal(&v.value)),
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => DefaultValue::Literal(Literal::Number(format!("-{n}"))),
                    _ => DefaultValue::Literal(Literal::String(e.to_string())),
                },
                _ => DefaultValue::Literal(Literal::String(e.to_string())),
            },
            // Other expressions are stored as a string literal (protocol 7.3).
            other => DefaultValue::Literal(Literal::String(other.to_string())),
        })
    }

    fn alter_op(&self, op: &AlterTableOperation) -> Result<AlterTableOp, SchemaError> {
        let lower = |i: &Ident| i.value.to_ascii_lowercase();
        Ok(match op {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => {
                let column = self.column(column_def)?;
                validate_name(&column.name, "column")
                    .map_err(|e| e.at(self.span_loc(column_def.name.span)))?;
                AlterTableOp::AddColumn {
                    column,
                    if_not_exists: *if_not_exists,
                }
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } if column_names.len() == 1 => AlterTableOp::DropColumn {
                name: lower(&column_names[0]),
                if_exists: *if_exists,
            },
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => {
                let (ty, _) = self.data_type(data_type, col_name)?;
                let mut nullable = None;
                for o in options {
                    match o {
                        ColumnOption::Null => nullable = Some(true),
                        ColumnOption::NotNull => nullable = Some(false),
                        other => {
                            return Err(SchemaError::new(
                                ErrorKind::Unsupported,
                                format!(
                                    "MODIFY COLUMN supports only NULL / NOT NULL, found `{other}`"
                                ),
                            )
                            .at(self.span_loc(col_name.span)));
                        }
                    }
                }
                AlterTableOp::ModifyColumn {
                    name: lower(col_name),
                    ty,
                    nullable,
                }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let name = lower(column_name);
                match op {
                    AlterColumnOperation::SetNotNull => AlterTableOp::SetNullable {
                        name,
                        nullable: false,
                    },
                    AlterColumnOperation::DropNotNull => AlterTableOp::SetNullable {
                        name,
                        nullable: true,
                    },
                    AlterColumnOperation::SetDefault { value } => AlterTableOp::SetDefault {
                        name,
                        default: Some(self.default_value(value)?),
                    },
                    AlterColumnOperation::DropDefault => AlterTableOp::SetDefault {
                        name,
                        default: None,
                    },
                    AlterColumnOperation::SetDataType { data_type, .. } => {
                        AlterTableOp::ModifyColumn {
                            name,
                            ty: self.data_type(data_type, column_name)?.0,
                            nullable: None,
                        }
                    }
                    other => return Err(self.unsupported_alter(&other.to_string())),
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => AlterTableOp::RenameColumn {
                from: lower(old_column_name),
                to: lower(new_column_name),
            },
            AlterTableOperation::SetTblProperties { table_properties } => {
                let level = table_properties.iter().find_map(|o| match o {
                    SqlOption::KeyValue { key, value }
                        if key.value.eq_ignore_ascii_case("ACCESS_LEVEL") =>
                    {
                        AccessLevel::parse(&option_text(value))
                    }
                    _ => None,
                });
                match level {
                    Some(l) => AlterTableOp::SetAccessLevel(l),
                    None => {
                        return Err(
                            self.unsupported_alter("SET TBLPROPERTIES without ACCESS_LEVEL")
                        );
                    }
                }
            }
            other => return Err(self.unsupported_alter(&other.to_string())),
        })
    }

    fn unsupported_alter(&self, what: &str) -> SchemaError {
        SchemaError::new(
            ErrorKind::Unsupported,
            format!("unsupported ALTER TABLE operation `{what}`"),
        )
        .at(self.loc(0, 0))
    }
}

/// A CREATE TABLE being assembled (by the sqlparser path or the fast path).
struct TableSpec {
    namespace: String,
    name: String,
    name_loc: Location,
    if_not_exists: bool,
    prefix: Option<TableKind>,
    /// User columns, ordinals set.
    columns: Vec<Column>,
    /// Where each user column's name is.
    col_locs: Vec<Location>,
    options: Vec<OptionSpec>,
    comment: Option<String>,
}

/// One `KEY = value` of `WITH (...)`.
struct OptionSpec {
    /// The key as written.
    key: String,
    loc: Location,
    /// The value, strings unquoted.
    text: String,
    /// The value as written, for messages.
    shown: String,
}

#[allow(clippy::type_complexity)]
fn table_options(
    options: &[OptionSpec],
) -> Result<(Option<(TableKind, Location)>, TableOptions), SchemaError> {
    let mut kind = None;
    let mut out = TableOptions::default();
    for o in options {
        let upper = o.key.to_ascii_uppercase();
        let text = o.text.clone();
        let bad = |what: &str| {
            SchemaError::new(
                ErrorKind::InvalidDefinition,
                format!(
                    "invalid value `{}` for table option {upper}: expected {what}",
                    o.shown
                ),
            )
            .at(o.loc.clone())
        };
        match upper.as_str() {
            "TYPE" => {
                let k = TableKind::parse(&text)
                    .filter(|k| *k != TableKind::System)
                    .ok_or_else(|| bad("'USER', 'SHARED' or 'STREAM'"))?;
                kind = Some((k, o.loc.clone()));
            }
            "TTL_SECONDS" => {
                out.ttl_seconds = Some(
                    text.parse::<u64>()
                        .map_err(|_| bad("a number of seconds"))?,
                );
            }
            "ACCESS_LEVEL" => {
                out.access_level = Some(
                    AccessLevel::parse(&text)
                        .ok_or_else(|| bad("'PUBLIC', 'PRIVATE', 'RESTRICTED' or 'DBA'"))?,
                );
            }
            "STORAGE_ID" => out.storage_id = Some(text),
            "USE_USER_STORAGE" | "FLUSH_POLICY" | "DELETED_RETENTION_HOURS" => {
                out.other.insert(upper, text);
            }
            _ => {
                return Err(SchemaError::new(
                    ErrorKind::InvalidDefinition,
                    format!("Unknown table option '{}'", o.key),
                )
                .at(o.loc.clone()));
            }
        }
    }
    Ok((kind, out))
}

/// sqlparser's recursion limit. The server allows 512 (protocol 7.1); we stop at 50 (sqlparser's
/// own default) because in unoptimized builds (tests, proc macros) sqlparser overflows a 2 MiB
/// thread stack at about 80 nested parentheses, and no real statement nests that deep.
pub(crate) const RECURSION_LIMIT: usize = 50;

/// How deep the checker follows nested expressions (chains such as `a AND b AND …` are
/// left-deep trees that sqlparser builds without recursion).
pub(crate) const MAX_EXPR_DEPTH: usize = 256;

/// `AUTO_INCREMENT` is 14 bytes; this stand-in has the same length and reads as a default.
const AUTO_INCREMENT_STANDIN: &str = "DEFAULT _K_A()";
const AUTO_INCREMENT_FN: &str = "_K_A";

fn option_list(opts: &CreateTableOptions) -> &[SqlOption] {
    match opts {
        CreateTableOptions::None => &[],
        CreateTableOptions::With(v)
        | CreateTableOptions::Options(v)
        | CreateTableOptions::Plain(v)
        | CreateTableOptions::TableProperties(v) => v,
    }
}

/// The text of an option value: strings unquoted, everything else as written.
fn option_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn value_literal(v: &Value) -> Literal {
    match v {
        Value::Null => Literal::Null,
        Value::Boolean(b) => Literal::Bool(*b),
        Value::Number(n, _) => Literal::Number(n.clone()),
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Literal::String(s.clone()),
        other => Literal::String(other.to_string()),
    }
}

/// The location of a sqlparser span of `text` (the statement that was parsed, at byte `base`
/// of `full`); an empty span maps to the statement start.
pub(crate) fn span_location(
    full: &str,
    base: usize,
    text: &str,
    span: sqlparser::tokenizer::Span,
) -> Location {
    if span.start.line == 0 {
        return Location::at_offset(full, base, 0);
    }
    let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let s = Location::offset_of(text, n(span.start.line), n(span.start.column));
    let e = Location::offset_of(text, n(span.end.line), n(span.end.column));
    Location::at_offset(full, base + s, e.saturating_sub(s))
}

/// Turns a sqlparser error into a located [`SchemaError`]. `text` is the (rewritten) statement
/// that was parsed, `base` its offset in `full`.
pub(crate) fn parser_error(full: &str, base: usize, text: &str, e: &ParserError) -> SchemaError {
    let raw = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => {
            return SchemaError::new(ErrorKind::Syntax, "statement is nested too deeply")
                .at(Location::at_offset(full, base, 0));
        }
    };
    let (message, pos) = match raw.rfind(" at Line: ") {
        Some(i) => {
            let rest = &raw[i + " at Line: ".len()..];
            let mut parts = rest.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse::<u32>().ok());
            let col = parts.next().and_then(|c| c.trim().parse::<u32>().ok());
            (raw[..i].to_owned(), line.zip(col))
        }
        None => (raw.clone(), None),
    };
    let offset = match pos {
        Some((l, c)) => Location::offset_of(text, l, c),
        None => text.len(),
    };
    // Underline the token that starts there.
    let len = lex::tokenize(&text[offset.min(text.len())..])
        .ok()
        .and_then(|t| t.first().filter(|t| t.start == 0).map(|t| t.end))
        .unwrap_or(0);
    SchemaError::new(ErrorKind::Syntax, format!("syntax error: {message}")).at(Location::at_offset(
        full,
        base + offset,
        len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [&str; 4] = [
        include_str!("../tests/fixtures/schema/01_app.sql"),
        include_str!("../tests/fixtures/schema/02_shop.sql"),
        include_str!("../tests/fixtures/schema/03_types.sql"),
        include_str!("../tests/fixtures/schema/04_topics.sql"),
    ];

    /// The fast path and sqlparser agree wherever the fast path answers.
    #[test]
    fn fast_path_matches_sqlparser() {
        let mut cases: Vec<String> = FIXTURES.iter().map(|s| (*s).to_owned()).collect();
        for extra in [
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS t (a INT NOT NULL, b TEXT DEFAULT 'x''y', PRIMARY KEY (a)) USING heap",
            "CREATE STREAM TABLE app.s (x DOUBLE PRECISION DEFAULT -2.5, y CHARACTER VARYING(3)) WITH (TTL_SECONDS = 3)",
            "CREATE USER TABLE app.u (id BIGSERIAL PRIMARY KEY, n INT AUTO INCREMENT, m INT AUTO_INCREMENT UNIQUE NULL)",
            "CREATE USER TABLE app.u (id INT PRIMARY KEY) WITH (TYPE = 'SHARED')",
            "CREATE TABLE app.u (id INT PRIMARY KEY, d DEFAULT 1)",
            "CREATE TABLE app.u (id INT PRIMARY KEY) WITH (COLOR = red)",
            "CREATE TABLE app.u (a INT PRIMARY KEY, b INT PRIMARY KEY)",
            "CREATE TABLE app.u (a INT, b INT, PRIMARY KEY (a, b))",
            "CREATE TABLE app.u (_seq INT PRIMARY KEY)",
            "CREATE TABLE app.u (a NUMERIC PRIMARY KEY)",
            "CREATE TABLE app.u (a INT PRIMARY KEY, b TEXT DEFAULT lower('X'))",
            "CREATE TABLE app.u (a INT PRIMARY KEY, b TIMESTAMP DEFAULT CURRENT_TIMESTAMP, c TEXT DEFAULT CURRENT_USER)",
            "CREATE TABLE app.u (a INT PRIMARY KEY, e EMBEDDING(4), f FILE, j JSONB, u UUID DEFAULT UUID_V7())",
        ] {
            cases.push(extra.to_owned());
        }
        for sql in &cases {
            for (start, end) in lex::split_statements(sql).unwrap() {
                let stmt = &sql[start..end];
                if !stmt.to_ascii_uppercase().contains("TABLE") {
                    continue;
                }
                let fast = parse_impl(stmt, "default", true);
                let slow = parse_impl(stmt, "default", false);
                match (&fast, &slow) {
                    (Ok(f), Ok(s)) => assert_eq!(f, s, "{stmt}"),
                    (Err(f), Err(s)) => assert_eq!(f.kind, s.kind, "{stmt}: {f} / {s}"),
                    _ => panic!("{stmt}: fast {fast:?} vs slow {slow:?}"),
                }
            }
        }
    }
}
