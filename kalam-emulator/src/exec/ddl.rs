//! DDL (through `kalam_schema`), user management and `DESCRIBE` (protocol 1.6, 7.2–7.6).

use kalam_schema::{AccessLevel, AlterTableOp, DdlStatement, ErrorKind, SchemaError, TableKind};

use super::{Ident2, Output, Request, StmtError, hex, message};
use crate::role::Role;
use crate::sql::classify::DdlKind;
use crate::store::{Store, User};

/// The server's text for a schema-crate error.
pub(crate) fn schema_error_text(e: &SchemaError) -> String {
    match e.kind {
        ErrorKind::AlreadyExists => format!("Already exists: {}", e.message),
        ErrorKind::UnsupportedType => {
            let ty = e
                .message
                .split('`')
                .nth(1)
                .unwrap_or("")
                .to_ascii_uppercase();
            let base = ty.split('(').next().unwrap_or("").trim().to_owned();
            let what = match base.as_str() {
                "TINYINT" | "INT1" => "Unsupported Arrow type: Int8".to_owned(),
                "INTERVAL" => "Unsupported Arrow type: Interval".to_owned(),
                "UNSIGNED" => "Unsupported data type: Unsigned".to_owned(),
                "NUMERIC" => {
                    let args = ty.split_once('(').map(|(_, a)| a.trim_end_matches(')'));
                    match args {
                        None => "Unsupported data type: Numeric(None)".to_owned(),
                        Some(a) => format!("Unsupported data type: Numeric({a})"),
                    }
                }
                _ => format!("Unsupported data type: {ty}"),
            };
            format!("Invalid CREATE TABLE statement: {what}")
        }
        ErrorKind::UnknownNamespace => {
            let name = e.message.split('`').nth(1).unwrap_or(&e.message).to_owned();
            format!("Namespace '{name}' does not exist")
        }
        ErrorKind::UnknownTable => {
            let name = e.message.split('`').nth(1).unwrap_or(&e.message).to_owned();
            format!("Table not found: {name}")
        }
        _ => e.message.clone(),
    }
}

fn kind_word(k: TableKind) -> &'static str {
    k.as_str()
}

/// The server's refusal of a topic name without a namespace, which is also its answer to
/// `CREATE TOPIC IF NOT EXISTS ns.t` (observed on KalamDB 0.4.3-rc.4).
fn unqualified_topic() -> StmtError {
    StmtError::exec(
        "Invalid operation: Topic name must be namespace-qualified: <namespace>.<topic>",
    )
}

/// Runs one DDL statement parsed by `kalam_schema`.
pub(crate) fn execute(
    req: &mut Request<'_>,
    ident: &Ident2,
    kind: DdlKind,
    sql: &str,
) -> Result<Output, StmtError> {
    let parsed = kalam_schema::parse_ddl_located(sql, &req.namespace).map_err(|e| {
        if kind == DdlKind::Topic && e.message.contains("namespace-qualified") {
            unqualified_topic()
        } else if e.kind == ErrorKind::Syntax {
            StmtError::early(400, "INVALID_SQL", e.message.clone())
        } else if e.kind == ErrorKind::UnsupportedType {
            StmtError::early(400, "INVALID_SQL", schema_error_text(&e))
        } else {
            StmtError::exec(schema_error_text(&e))
        }
    })?;
    let Some(first) = parsed.into_iter().next() else {
        return Err(StmtError::early(400, "INVALID_SQL", "Empty DDL statement"));
    };
    let mut stmt = first.statement;
    // The server's CREATE TOPIC grammar has no IF NOT EXISTS: it takes `IF` for the topic
    // name and refuses it as unqualified (protocol 5.1).
    if let DdlStatement::CreateTopic {
        if_not_exists: true,
        ..
    } = stmt
    {
        return Err(unqualified_topic());
    }
    let user = ident.user.clone();
    let role = ident.role;
    let store: &Store = &req.engine.store;
    // Permission checks that depend on the parsed statement (protocol 9).
    match &mut stmt {
        DdlStatement::CreateTable { table, .. } => {
            if table.kind == TableKind::Shared
                && matches!(role, Role::User | Role::Service)
                && table.namespace == ident.user
            {
                table.kind = TableKind::User;
            }
            if table.kind == TableKind::Shared && table.options.access_level.is_none() {
                table.options.access_level = Some(AccessLevel::Private);
            }
            let allowed = match table.kind {
                TableKind::User | TableKind::Stream => role != Role::Anonymous,
                TableKind::Shared => matches!(role, Role::Service | Role::Dba | Role::System),
                TableKind::System => false,
            };
            if !allowed {
                return Err(StmtError::denied(format!(
                    "Insufficient privileges to create {} tables",
                    table.kind.as_str().to_ascii_uppercase()
                )));
            }
        }
        DdlStatement::AlterTable {
            namespace, table, ..
        } => {
            let k = store.read().catalog.table(namespace, table).map(|t| t.kind);
            if let Some(k) = k {
                let allowed = match k {
                    TableKind::User | TableKind::Stream => role != Role::Anonymous,
                    TableKind::Shared => matches!(role, Role::Service | Role::Dba | Role::System),
                    TableKind::System => false,
                };
                if !allowed {
                    return Err(StmtError::denied(format!(
                        "Insufficient privileges to alter {} tables",
                        k.as_str().to_ascii_uppercase()
                    )));
                }
            }
        }
        DdlStatement::DropTable { .. } if !role.is_admin() => {
            return Err(StmtError::early(
                403,
                "PERMISSION_DENIED",
                "Admin privileges (DBA or System role) required for DROP TABLE",
            ));
        }
        _ => {}
    }
    let msg = {
        let mut st = store.write();
        let msg = match &stmt {
            DdlStatement::CreateNamespace { name, .. } => {
                if st.catalog.namespaces.contains_key(name) {
                    format!("Namespace '{name}' already exists")
                } else {
                    format!("Namespace '{name}' created successfully")
                }
            }
            DdlStatement::DropNamespace { name, .. } => {
                if st.catalog.namespaces.contains_key(name) {
                    format!("Namespace '{name}' dropped successfully")
                } else {
                    format!("Namespace '{name}' does not exist")
                }
            }
            DdlStatement::UseNamespace { name } => format!("Namespace switched to '{name}'"),
            DdlStatement::CreateTable { table, .. } => {
                if st.catalog.table(&table.namespace, &table.name).is_some() {
                    format!(
                        "Table {}.{} already exists (skipped)",
                        table.namespace, table.name
                    )
                } else {
                    format!(
                        "CREATE TABLE via Raft consensus: {} table {}.{} created successfully",
                        kind_word(table.kind),
                        table.namespace,
                        table.name
                    )
                }
            }
            DdlStatement::AlterTable {
                namespace, table, ..
            } => {
                format!("Table {namespace}.{table} altered successfully")
            }
            DdlStatement::DropTable {
                namespace, table, ..
            } => {
                if st.catalog.table(namespace, table).is_some() {
                    format!(
                        "Table {namespace}.{table} dropped successfully. Cleanup job: CL-{}",
                        hex(6)
                    )
                } else {
                    format!("Table {namespace}.{table} does not exist (skipped)")
                }
            }
            DdlStatement::CreateTopic {
                namespace,
                name,
                partitions,
                ..
            } => {
                format!("Created topic '{namespace}.{name}' with {partitions} partition(s)")
            }
            DdlStatement::AlterTopicAddSource {
                namespace,
                topic,
                source,
            } => format!(
                "Added source {}.{} ON {} to topic '{namespace}.{topic}'",
                source.namespace,
                source.table,
                source.op.as_str()
            ),
            DdlStatement::DropTopic {
                namespace, name, ..
            } => {
                format!(
                    "Dropped topic '{namespace}.{name}' and scheduled cleanup job [TC-{}]",
                    hex(6)
                )
            }
            _ => "Query executed successfully".to_owned(),
        };
        let is_use = matches!(stmt, DdlStatement::UseNamespace { .. });
        let use_name = match &stmt {
            DdlStatement::UseNamespace { name } => Some(name.clone()),
            _ => None,
        };
        if let DdlStatement::CreateNamespace {
            name,
            if_not_exists: false,
        } = &stmt
            && kalam_schema::ddl::RESERVED_NAMESPACES.contains(&name.to_ascii_lowercase().as_str())
        {
            return Err(StmtError::exec(format!(
                "Namespace '{name}' is reserved and cannot be used"
            )));
        }
        let renames: Vec<(String, String)> = match &stmt {
            DdlStatement::AlterTable { ops, .. } => ops
                .iter()
                .filter_map(|op| match op {
                    AlterTableOp::RenameColumn { from, to } => {
                        Some((from.to_ascii_lowercase(), to.to_ascii_lowercase()))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let altered = match &stmt {
            DdlStatement::AlterTable {
                namespace, table, ..
            } => Some((namespace.clone(), table.clone())),
            _ => None,
        };
        st.catalog
            .apply(stmt)
            .map_err(|e| StmtError::exec(schema_error_text(&e)))?;
        crate::engine::system::add_extra_system_tables_state(&mut st);
        Store::sync_tables_renaming(&mut st, altered.as_ref(), &renames);
        if is_use && let Some(n) = use_name {
            req.namespace = n;
        }
        msg
    };
    let _ = kind;
    Ok(message(0, msg, user))
}

/// `CREATE USER`
pub(crate) fn create_user(
    req: &mut Request<'_>,
    ident: &Ident2,
    id: String,
    password: Option<String>,
    role: String,
    email: Option<String>,
) -> Result<Output, StmtError> {
    let role = Role::parse(&role)
        .ok_or_else(|| StmtError::exec(format!("Invalid operation: Invalid role '{role}'")))?;
    validate_user_id(&id)?;
    let mut st = req.engine.store.write();
    if st.users.get(&id).is_some_and(|u| u.deleted_at_ms.is_none()) {
        return Err(StmtError::exec(format!(
            "Already exists: User '{id}' already exists"
        )));
    }
    let mut u = User::new(&id, password.as_deref(), role);
    u.email = email;
    st.users.insert(id.clone(), u);
    Ok(message(
        0,
        format!("User '{id}' created"),
        ident.user.clone(),
    ))
}

fn validate_user_id(id: &str) -> Result<(), StmtError> {
    if id.is_empty()
        || id.contains("..")
        || id.contains('/')
        || id.contains('\\')
        || id.contains('\0')
    {
        return Err(StmtError::exec(format!(
            "Invalid operation: Invalid user id '{id}'"
        )));
    }
    Ok(())
}

/// `ALTER USER`
pub(crate) fn alter_user(
    req: &mut Request<'_>,
    ident: &Ident2,
    id: String,
    password: Option<String>,
    role: Option<String>,
    email: Option<String>,
) -> Result<Output, StmtError> {
    let mut st = req.engine.store.write();
    let Some(u) = st.users.get_mut(&id).filter(|u| u.deleted_at_ms.is_none()) else {
        return Err(StmtError::exec(format!("Not found: User '{id}' not found")));
    };
    if let Some(p) = password {
        u.password = Some(crate::store::hash_password(&p));
    }
    if let Some(r) = role {
        u.role = Role::parse(&r)
            .ok_or_else(|| StmtError::exec(format!("Invalid operation: Invalid role '{r}'")))?;
    }
    if email.is_some() {
        u.email = email;
    }
    u.updated_at_ms = crate::time::now_ms();
    Ok(message(
        0,
        format!("User '{id}' updated"),
        ident.user.clone(),
    ))
}

/// `DROP USER` (soft delete).
pub(crate) fn drop_user(
    req: &mut Request<'_>,
    ident: &Ident2,
    id: String,
    if_exists: bool,
) -> Result<Output, StmtError> {
    let mut st = req.engine.store.write();
    match st.users.get_mut(&id).filter(|u| u.deleted_at_ms.is_none()) {
        Some(u) => {
            if u.id == "root" {
                return Err(StmtError::exec(
                    "Invalid operation: Cannot drop the root user",
                ));
            }
            u.deleted_at_ms = Some(crate::time::now_ms());
            Ok(message(
                0,
                format!("User '{id}' dropped (soft delete)"),
                ident.user.clone(),
            ))
        }
        None if if_exists => Ok(message(
            0,
            format!("User '{id}' does not exist"),
            ident.user.clone(),
        )),
        None => Err(StmtError::exec(format!("Not found: User '{id}' not found"))),
    }
}

/// `DESCRIBE TABLE`
pub(crate) fn describe(
    req: &mut Request<'_>,
    ident: &Ident2,
    name: &str,
) -> Result<Output, StmtError> {
    let name = name
        .strip_prefix("table ")
        .or_else(|| name.strip_prefix("TABLE "))
        .unwrap_or(name);
    let (ns, t) = req.resolve(name);
    let st = req.engine.store.read();
    let def = st
        .catalog
        .table(&ns, &t)
        .ok_or_else(|| StmtError::exec(format!("Table not found: {ns}.{t}")))?;
    let version = st
        .tables
        .get(&(ns.clone(), t.clone()))
        .map(|s| s.version)
        .unwrap_or(1);
    let mut rows = String::new();
    for (i, c) in def.columns.iter().enumerate() {
        if i > 0 {
            rows.push(',');
        }
        rows.push('[');
        crate::encode::write_str(&mut rows, &c.name);
        rows.push_str(&format!(",{},\"{}\",", c.ordinal, c.ordinal));
        crate::encode::write_str(&mut rows, &c.ty.sql_name());
        rows.push_str(&format!(",{},{},", c.nullable, c.primary_key));
        match &c.default {
            Some(d) => crate::encode::write_str(&mut rows, &d.to_sql()),
            None => rows.push_str("null"),
        }
        rows.push(',');
        match &c.comment {
            Some(s) => crate::encode::write_str(&mut rows, s),
            None => rows.push_str("null"),
        }
        rows.push_str(&format!(",{version}]"));
    }
    let schema = r#"[{"name":"column_name","data_type":"Text","index":0,"flags":["nn"]},{"name":"ordinal_position","data_type":"Int","index":1,"flags":["nn"]},{"name":"column_id","data_type":"BigInt","index":2,"flags":["nn"]},{"name":"data_type","data_type":"Text","index":3,"flags":["nn"]},{"name":"is_nullable","data_type":"Boolean","index":4,"flags":["nn"]},{"name":"is_primary_key","data_type":"Boolean","index":5,"flags":["nn"]},{"name":"column_default","data_type":"Text","index":6},{"name":"column_comment","data_type":"Text","index":7},{"name":"schema_version","data_type":"Int","index":8,"flags":["nn"]}]"#;
    Ok(Output::Rows {
        schema: schema.into(),
        rows,
        row_count: def.columns.len(),
        as_user: ident.user.clone(),
        buffered: false,
    })
}
