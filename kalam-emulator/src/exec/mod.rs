//! Executes the statements of one `/v1/api/sql` request in order (protocol 1.3, 1.6).

pub(crate) mod ddl;
pub(crate) mod dml;
pub(crate) mod error;

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::common::ScalarValue;
use sqlparser::ast::{
    Expr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, visit_expressions_mut,
};

use crate::encode::write_cell;
use crate::engine::schema::schema_json;
use crate::engine::{Engine, QueryOutput};
use crate::role::Role;
use crate::sql::classify::{self, Command};
use crate::store::TxLog;
pub(crate) use error::StmtError;

/// Who runs a statement.
#[derive(Debug, Clone)]
pub(crate) struct Ident2 {
    /// Effective user id.
    pub(crate) user: String,
    /// Effective role (`user` under `EXECUTE AS`).
    pub(crate) role: Role,
    /// Whether the statement runs under `EXECUTE AS USER`.
    pub(crate) impersonated: bool,
}

/// What one statement produced.
#[derive(Debug)]
pub(crate) enum Output {
    /// A row set.
    Rows {
        schema: String,
        rows: String,
        row_count: usize,
        as_user: String,
        /// `SUBSCRIBE TO` is answered on the buffered path even alone.
        buffered: bool,
    },
    /// A statement without rows.
    Message {
        row_count: usize,
        message: String,
        as_user: String,
        dml: Option<DmlKind>,
    },
}

/// The three DML kinds aggregated in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DmlKind {
    Insert,
    Update,
    Delete,
}

/// A statement ready to run.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) sql: String,
    pub(crate) ident: Ident2,
    pub(crate) command: Command,
}

/// The execution context of one request.
pub(crate) struct Request<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) auth_user: String,
    pub(crate) auth_role: Role,
    pub(crate) namespace: String,
    pub(crate) tx: Option<TxLog>,
    pub(crate) params: Vec<ScalarValue>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("auth_user", &self.auth_user)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Whether `actor` (with `actor_role`) may run statements as a user of `target_role`
/// (protocol 7.7).
pub(crate) fn may_impersonate(
    actor: &str,
    actor_role: Role,
    target: &str,
    target_role: Role,
) -> bool {
    match actor_role {
        Role::System => true,
        Role::Dba => matches!(
            target_role,
            Role::Dba | Role::Service | Role::User | Role::Anonymous
        ),
        Role::Service => matches!(target_role, Role::Service | Role::User | Role::Anonymous),
        Role::User | Role::Anonymous => actor == target,
    }
}

const ADMIN_NAMESPACE: &str =
    "Admin privileges (DBA or System role) required for namespace operations";

impl<'a> Request<'a> {
    /// Pre-parses a statement: `EXECUTE AS` envelope, classification, classifier-level
    /// permission checks (errors without the statement prefix).
    pub(crate) fn prepare(&self, sql: &str) -> Result<Prepared, StmtError> {
        let env = classify::strip_execute_as(sql)
            .map_err(|m| StmtError::early(400, "INVALID_INPUT", m))?;
        let ident = match &env.as_user {
            None => Ident2 {
                user: self.auth_user.clone(),
                role: self.auth_role,
                impersonated: false,
            },
            Some(target) => {
                let target_role = {
                    let st = self.engine.store.read();
                    st.users
                        .get(target)
                        .filter(|u| u.deleted_at_ms.is_none())
                        .map(|u| u.role)
                        .unwrap_or(Role::User)
                };
                if !may_impersonate(&self.auth_user, self.auth_role, target, target_role) {
                    return Err(StmtError::early(
                        403,
                        "PERMISSION_DENIED",
                        format!(
                            "Unauthorized: EXECUTE AS USER is not authorized: actor '{}' with role {} cannot target '{}' with role {}",
                            self.auth_user,
                            self.auth_role.title(),
                            target,
                            target_role.title()
                        ),
                    ));
                }
                Ident2 {
                    user: target.clone(),
                    role: Role::User,
                    impersonated: true,
                }
            }
        };
        let command =
            classify::classify(&env.body).map_err(|m| StmtError::early(400, "INVALID_SQL", m))?;
        let admin = ident.role.is_admin();
        let denied = |m: &str| Err(StmtError::early(403, "PERMISSION_DENIED", m));
        match &command {
            Command::Ddl(classify::DdlKind::Namespace) | Command::AlterNamespace { .. }
                if !admin =>
            {
                return denied(ADMIN_NAMESPACE);
            }
            Command::CreateUser { .. } | Command::DropUser { .. } if !admin => {
                return denied(
                    "Admin privileges (DBA or System role) required for user management",
                );
            }
            Command::AlterUser { id, role, .. }
                if !admin && (id != &ident.user || role.is_some()) =>
            {
                return denied(
                    "Admin privileges (DBA or System role) required for user management",
                );
            }
            Command::Ddl(classify::DdlKind::Topic) if !admin => {
                return denied(
                    "Admin privileges (DBA or System role) required for topic operations",
                );
            }
            Command::FlushTable { .. } | Command::FlushAll { .. } if !admin => {
                return denied(
                    "Admin privileges (DBA or System role) required for storage operations",
                );
            }
            Command::Unsupported(m) => {
                return Err(StmtError::early(400, "INVALID_SQL", m.clone()));
            }
            Command::Topic(_)
                if !matches!(ident.role, Role::Service | Role::Dba | Role::System) =>
            {
                return denied("Topic consumption requires service, dba, or system role");
            }
            _ if ident.role == Role::Anonymous => {
                return denied("Anonymous users cannot execute SQL");
            }
            _ => {}
        }
        Ok(Prepared {
            sql: env.body,
            ident,
            command,
        })
    }

    /// Runs one prepared statement.
    pub(crate) async fn run(&mut self, p: Prepared) -> Result<Output, StmtError> {
        let ident = p.ident;
        match p.command {
            Command::Query(stmt) => {
                crate::sql::params::check_limits(&self.params).map_err(StmtError::exec)?;
                let mut stmt = *stmt;
                rewrite_functions(&mut stmt);
                let viewer = self.engine.reader(ident.user.clone(), ident.role);
                let out = self
                    .engine
                    .select(&viewer, &self.namespace, stmt, &self.params)
                    .await
                    .map_err(error::from_datafusion)?;
                rows_output(&out, ident.user)
            }
            Command::Dml(stmt) => {
                crate::sql::params::check_limits(&self.params).map_err(StmtError::exec)?;
                dml::execute(self, &ident, *stmt).await
            }
            Command::Ddl(kind) => ddl::execute(self, &ident, kind, &p.sql),
            Command::Topic(t) => {
                crate::topics::sql::execute(self.engine, &self.namespace, t, ident.user)
            }
            Command::AlterNamespace { name } => {
                let exists = self
                    .engine
                    .store
                    .read()
                    .catalog
                    .namespaces
                    .contains_key(&name);
                if !exists {
                    return Err(StmtError::exec(format!(
                        "Namespace '{name}' does not exist"
                    )));
                }
                Ok(message(
                    0,
                    format!("Namespace '{name}' altered successfully"),
                    ident.user,
                ))
            }
            Command::CreateUser {
                id,
                password,
                role,
                email,
            } => ddl::create_user(self, &ident, id, password, role, email),
            Command::AlterUser {
                id,
                password,
                role,
                email,
            } => ddl::alter_user(self, &ident, id, password, role, email),
            Command::DropUser { id, if_exists } => ddl::drop_user(self, &ident, id, if_exists),
            Command::Begin => {
                if self.tx.is_some() {
                    return Err(StmtError::exec(
                        "Invalid operation: A transaction is already active",
                    ));
                }
                let id = crate::engine::udf::uuid_v7();
                self.tx = Some(TxLog::new(id.clone()));
                Ok(message(
                    0,
                    format!("Transaction started ({id})"),
                    ident.user,
                ))
            }
            Command::Commit => match self.tx.take() {
                Some(log) => {
                    let id = log.id.clone();
                    self.engine.store.commit(log);
                    Ok(message(
                        0,
                        format!("Transaction committed ({id})"),
                        ident.user,
                    ))
                }
                None => Err(StmtError::exec(
                    "Invalid operation: No active transaction to commit",
                )),
            },
            Command::Rollback => match self.tx.take() {
                Some(log) => {
                    let id = log.id.clone();
                    self.engine.store.rollback(log);
                    Ok(message(
                        0,
                        format!("Transaction rolled back ({id})"),
                        ident.user,
                    ))
                }
                None => Err(StmtError::exec(
                    "Invalid operation: No active transaction to roll back",
                )),
            },
            Command::ShowNamespaces => {
                let batch = {
                    let st = self.engine.store.read();
                    crate::engine::system::system_batch(
                        &st,
                        &self.engine.store.topics,
                        "namespaces",
                    )
                    .map_err(error::from_datafusion)?
                };
                batch_output(batch, ident.user)
            }
            Command::ShowTables { namespace } => {
                let batch = {
                    let st = self.engine.store.read();
                    crate::engine::system::system_batch(&st, &self.engine.store.topics, "schemas")
                        .map_err(error::from_datafusion)?
                };
                if namespace.is_some() {
                    return Err(StmtError::exec(
                        "Invalid operation: Arrow error: Invalid argument error: number of columns(8) must match number of fields(14) in schema",
                    ));
                }
                batch_output(batch, ident.user)
            }
            Command::Describe { table } => ddl::describe(self, &ident, &table),
            Command::FlushTable { table } => {
                let (ns, t) = self.resolve(&table);
                if self.engine.store.read().catalog.table(&ns, &t).is_none() {
                    return Err(StmtError::exec(format!("Table not found: {ns}.{t}")));
                }
                Ok(message(
                    0,
                    format!(
                        "Storage flush started for table '{ns}.{t}'. Job ID: FL-{}",
                        job_hex()
                    ),
                    ident.user,
                ))
            }
            Command::FlushAll { namespace } => {
                let ns = namespace.unwrap_or_else(|| self.namespace.clone());
                let n = {
                    let st = self.engine.store.read();
                    let Some(nsd) = st.catalog.namespaces.get(&ns) else {
                        return Err(StmtError::exec(format!("Namespace '{ns}' does not exist")));
                    };
                    nsd.tables.len()
                };
                let msg = if n == 0 {
                    format!("Storage flush skipped: no pending writes in namespace '{ns}'")
                } else {
                    let ids: Vec<String> = (0..n).map(|_| format!("FL-{}", job_hex())).collect();
                    format!(
                        "Storage flush started for {n} table(s) in namespace '{ns}'. Job IDs: [{}]",
                        ids.join(", ")
                    )
                };
                Ok(message(0, msg, ident.user))
            }
            Command::SubscribeTo { table } => {
                let (ns, t) = self.resolve(&table);
                if self.engine.store.read().catalog.table(&ns, &t).is_none() {
                    return Err(StmtError::exec(format!("Table not found: {ns}.{t}")));
                }
                let mut row = String::from("[\"active\",\"ws://localhost:8080/ws\",{\"id\":");
                crate::encode::write_str(&mut row, &format!("sub-{ns}-{t}-{}", hex(16)));
                row.push_str(",\"sql\":");
                crate::encode::write_str(&mut row, &format!("SELECT * FROM {ns}.{t}"));
                row.push_str(
                    "},\"WebSocket subscription created. Connect to ws_url to receive updates.\"]",
                );
                Ok(Output::Rows {
                    schema: r#"[{"name":"status","data_type":"Text","index":0},{"name":"ws_url","data_type":"Text","index":1},{"name":"subscription","data_type":"Json","index":2},{"name":"message","data_type":"Text","index":3}]"#.into(),
                    rows: row,
                    row_count: 1,
                    as_user: ident.user,
                    buffered: true,
                })
            }
            Command::Unsupported(m) => Err(StmtError::early(400, "INVALID_SQL", m)),
        }
    }

    /// Splits `ns.t` / `t` against the request namespace.
    pub(crate) fn resolve(&self, name: &str) -> (String, String) {
        match name.split_once('.') {
            Some((ns, t)) => (ns.to_ascii_lowercase(), t.to_ascii_lowercase()),
            None => (self.namespace.clone(), name.to_ascii_lowercase()),
        }
    }

    /// Resolves a sqlparser object name.
    pub(crate) fn resolve_object(&self, name: &ObjectName) -> (String, String) {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(i) => Some(ident_text(i)),
                _ => None,
            })
            .collect();
        match parts.as_slice() {
            [t] => (self.namespace.clone(), t.clone()),
            [.., ns, t] => (ns.clone(), t.clone()),
            [] => (self.namespace.clone(), String::new()),
        }
    }
}

fn ident_text(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

/// A message result.
pub(crate) fn message(row_count: usize, message: String, as_user: String) -> Output {
    Output::Message {
        row_count,
        message,
        as_user,
        dml: None,
    }
}

/// Random lower-case hex digits (job ids).
pub(crate) fn hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn job_hex() -> String {
    hex(6)
}

/// Encodes a query result; an unencodable cell becomes a [`StmtError::unencodable`].
pub(crate) fn rows_output(out: &QueryOutput, as_user: String) -> Result<Output, StmtError> {
    if let Some(why) = described_wrongly(out) {
        return Err(StmtError::unencodable(format!(
            "Failed to serialize SQL result: Failed to convert batch to JSON: {why}"
        )));
    }
    let (rows, row_count) = encode_rows(&out.batches)?;
    Ok(Output::Rows {
        schema: schema_json(&out.schema),
        rows,
        row_count,
        as_user,
        buffered: false,
    })
}

/// Quirk (protocol 1.7): an expression that kept its source column's metadata — a CAST given
/// an alias, `CAST(qty AS BIGINT) AS q` — is described as that column (`Int`, `["nn"]`), which
/// is harmless on an empty result; once rows come back their values do not match the described
/// type and the server cannot encode them, failing as for NaN (1.5: dropped connection on the
/// streamed path, 500 on the buffered one). JSON/FILE columns hold text and match `Text`.
fn described_wrongly(out: &QueryOutput) -> Option<String> {
    let batch = out.batches.iter().find(|b| b.num_rows() > 0)?;
    let text_like = |t: &str| matches!(t, "\"Text\"" | "\"Json\"" | "\"File\"");
    out.schema
        .fields()
        .iter()
        .zip(batch.columns())
        .find_map(|(f, col)| {
            let declared = f.metadata().get(crate::engine::schema::META_TYPE)?;
            let actual = crate::engine::schema::arrow_to_kalam(col.data_type());
            (*declared != actual && !(text_like(declared) && text_like(&actual))).then(|| {
                format!(
                    "column '{}' is described as {declared} but holds {}",
                    f.name(),
                    col.data_type()
                )
            })
        })
}

fn batch_output(batch: RecordBatch, as_user: String) -> Result<Output, StmtError> {
    let schema: Arc<Schema> = batch.schema();
    rows_output(
        &QueryOutput {
            schema,
            batches: vec![batch],
        },
        as_user,
    )
}

/// Rows as `[c,…],[c,…]` (no outer brackets) and their count.
pub(crate) fn encode_rows(batches: &[RecordBatch]) -> Result<(String, usize), StmtError> {
    let mut out = String::new();
    let mut n = 0usize;
    for b in batches {
        for i in 0..b.num_rows() {
            if n > 0 {
                out.push(',');
            }
            out.push('[');
            for (k, col) in b.columns().iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_cell(&mut out, col, i).map_err(|e| {
                    StmtError::unencodable(format!(
                        "Failed to serialize SQL result: Failed to convert batch to JSON: {}",
                        e.0
                    ))
                })?;
            }
            out.push(']');
            n += 1;
        }
    }
    let _ = write!(out, "");
    Ok((out, n))
}

/// `CURRENT_USER()`, `CURRENT_USER_ID()`, `CURRENT_USER` → `KDB_CURRENT_USER()`;
/// `CURRENT_ROLE()` → `KDB_CURRENT_ROLE()` (protocol 7.1).
pub(crate) fn rewrite_functions(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        let replacement = match e {
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                match name.as_str() {
                    "current_user" | "current_user_id" => Some("kdb_current_user"),
                    "current_role" => Some("kdb_current_role"),
                    _ => None,
                }
            }
            Expr::Identifier(i) if i.quote_style.is_none() => {
                match i.value.to_ascii_lowercase().as_str() {
                    "current_user" => Some("kdb_current_user"),
                    "current_role" => Some("kdb_current_role"),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(new) = replacement {
            *e = Expr::Function(sqlparser::ast::Function {
                name: ObjectName::from(vec![Ident::new(new)]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
        }
        ControlFlow::<()>::Continue(())
    });
}
