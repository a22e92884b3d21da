//! INSERT / UPDATE / DELETE, applied by the store (protocol 1.2, 7.3, 9).
//!
//! Literal VALUES are evaluated directly; any other expression, and every WHERE clause, is
//! evaluated by DataFusion over the rows the effective user can see.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use kalam_schema::{AccessLevel, Column, DefaultValue, Literal, Table, TableKind};
use sqlparser::ast::{
    AssignmentTarget, Expr, FromTable, ObjectName, SetExpr, Statement, TableFactor, TableObject,
    UnaryOperator, Value as SqlValue,
};

use super::{DmlKind, Ident2, Output, Request, StmtError, rewrite_functions};
use crate::engine::provider::{Viewer, can_write_shared};
use crate::store::value::{Key, Value, coerce, zero_value};
use crate::store::{WriteError, WriteOp, partition_key};

struct Target {
    ns: String,
    name: String,
    def: Arc<Table>,
}

fn dml_output(kind: DmlKind, n: usize, as_user: &str) -> Output {
    let verb = match kind {
        DmlKind::Insert => "Inserted",
        DmlKind::Update => "Updated",
        DmlKind::Delete => "Deleted",
    };
    Output::Message {
        row_count: n,
        message: format!("{verb} {n} row(s)"),
        as_user: as_user.to_owned(),
        dml: Some(kind),
    }
}

/// Runs one DML statement.
pub(crate) async fn execute(
    req: &mut Request<'_>,
    ident: &Ident2,
    stmt: Statement,
) -> Result<Output, StmtError> {
    match stmt {
        Statement::Insert(ins) => {
            let TableObject::TableName(name) = &ins.table else {
                return Err(StmtError::exec(
                    "Invalid operation: INSERT into a table function",
                ));
            };
            let target = target(req, ident, name)?;
            insert(req, ident, &target, &ins.columns, ins.source.as_deref()).await
        }
        Statement::Update(up) => {
            let TableFactor::Table { name, .. } = &up.table.relation else {
                return Err(StmtError::exec(
                    "Invalid operation: UPDATE target must be a table",
                ));
            };
            let target = target(req, ident, name)?;
            let mut exprs = Vec::new();
            let mut cols = Vec::new();
            for a in &up.assignments {
                let AssignmentTarget::ColumnName(c) = &a.target else {
                    return Err(StmtError::exec(
                        "Invalid operation: tuple assignments are not supported",
                    ));
                };
                let idx = user_index(&target.def, &column_name(c))?;
                cols.push(idx);
                exprs.push(a.value.to_string());
            }
            let matched = select_rows(req, ident, &target, &exprs, up.selection.as_ref()).await?;
            update(req, ident, &target, &cols, matched)
        }
        Statement::Delete(del) => {
            let tables = match &del.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let Some(TableFactor::Table { name, .. }) = tables.first().map(|t| &t.relation) else {
                return Err(StmtError::exec("Invalid operation: DELETE needs a table"));
            };
            let target = target(req, ident, name)?;
            let matched = select_rows(req, ident, &target, &[], del.selection.as_ref()).await?;
            let ops: Vec<WriteOp> = matched
                .into_iter()
                .map(|(k, _)| WriteOp::Delete(k))
                .collect();
            let n = apply(req, ident, &target, ops)?;
            Ok(dml_output(DmlKind::Delete, n, &ident.user))
        }
        _ => Err(StmtError::exec("Invalid operation: not a DML statement")),
    }
}

fn target(req: &Request<'_>, ident: &Ident2, name: &ObjectName) -> Result<Target, StmtError> {
    let (ns, t) = req.resolve_object(name);
    let def = {
        let st = req.engine.store.read();
        st.tables
            .get(&(ns.clone(), t.clone()))
            .map(|ts| ts.def.clone())
            .or_else(|| st.catalog.table(&ns, &t).map(|d| Arc::new(d.clone())))
    };
    let Some(def) = def else {
        return Err(StmtError::exec(format!("Table not found: {ns}.{t}")));
    };
    match def.kind {
        TableKind::System => {
            return Err(StmtError::denied(format!(
                "Cannot modify system table 'system.{t}'"
            )));
        }
        TableKind::Shared => {
            if ident.impersonated {
                return Err(StmtError::early(
                    400,
                    "SQL_EXECUTION_ERROR",
                    format!(
                        "EXECUTE AS USER is not allowed on SHARED tables (table '{ns}:{t}'). AS USER impersonation is only supported for USER and STREAM tables."
                    ),
                ));
            }
            let level = def.options.access_level.unwrap_or_default();
            if !can_write_shared(ident.role, level) {
                return Err(StmtError::denied(format!(
                    "Shared table write denied (access_level={})",
                    match level {
                        AccessLevel::Public => "Public",
                        AccessLevel::Private => "Private",
                        AccessLevel::Restricted => "Restricted",
                        AccessLevel::Dba => "Dba",
                    }
                )));
            }
        }
        _ => {}
    }
    Ok(Target { ns, name: t, def })
}

fn user_index(def: &Table, name: &str) -> Result<usize, StmtError> {
    def.user_columns().position(|c| c.name == name).ok_or_else(|| {
        StmtError::exec(format!(
            "Invalid operation: Schema error: No field named {name}. Column '{name}' not found in table '{}.{}'",
            def.namespace, def.name
        ))
    })
}

fn apply(
    req: &mut Request<'_>,
    ident: &Ident2,
    target: &Target,
    ops: Vec<WriteOp>,
) -> Result<usize, StmtError> {
    if ops.is_empty() {
        return Ok(0);
    }
    let part = partition_key(target.def.kind, &ident.user);
    let owner = matches!(target.def.kind, TableKind::User | TableKind::Stream)
        .then_some(ident.user.as_str());
    req.engine
        .store
        .apply(
            &(target.ns.clone(), target.name.clone()),
            &part,
            owner,
            &ident.user,
            ops,
            req.tx.as_mut(),
        )
        .map_err(|e| match e {
            WriteError::PrimaryKey(m) => StmtError::exec(m),
            WriteError::NoTable(t) => StmtError::exec(format!("Table not found: {t}")),
        })
}

/// A literal's scalar, when the expression is one (fast path).
fn literal(
    e: &Expr,
    params: &[ScalarValue],
    ty: kalam_schema::SqlType,
) -> Option<Result<ScalarValue, StmtError>> {
    match e {
        Expr::Nested(inner) => literal(inner, params, ty),
        Expr::Value(v) => Some(match &v.value {
            SqlValue::Number(n, _) => Ok(number(n, ty)),
            SqlValue::SingleQuotedString(s) | SqlValue::EscapedStringLiteral(s) => {
                Ok(ScalarValue::Utf8(Some(s.clone())))
            }
            SqlValue::Boolean(b) => Ok(ScalarValue::Boolean(Some(*b))),
            SqlValue::Null => Ok(ScalarValue::Null),
            SqlValue::Placeholder(p) => {
                let idx = p.trim_start_matches('$').parse::<usize>().ok();
                match idx
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| params.get(i))
                {
                    Some(v) => Ok(v.clone()),
                    None => Err(StmtError::exec(format!(
                        "Invalid operation: No value found for placeholder with id {p}"
                    ))),
                }
            }
            _ => return None,
        }),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                SqlValue::Number(n, _) => Some(Ok(number(&format!("-{n}"), ty))),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn number(n: &str, ty: kalam_schema::SqlType) -> ScalarValue {
    if matches!(ty, kalam_schema::SqlType::Decimal { .. }) {
        return ScalarValue::Utf8(Some(n.to_owned()));
    }
    match n.parse::<i64>() {
        Ok(v) => ScalarValue::Int64(Some(v)),
        Err(_) => match n.parse::<f64>() {
            Ok(f) => ScalarValue::Float64(Some(f)),
            Err(_) => ScalarValue::Utf8(Some(n.to_owned())),
        },
    }
}

/// Plans and runs a query (functions rewritten, `$n` bound) as the statement's effective user.
async fn run_query(
    req: &Request<'_>,
    ident: &Ident2,
    mut stmt: Statement,
) -> Result<Vec<RecordBatch>, StmtError> {
    rewrite_functions(&mut stmt);
    let viewer = Viewer::writing(ident.user.clone(), ident.role);
    let state = req.engine.session(&viewer, &req.namespace);
    let plan = req
        .engine
        .plan(&state, stmt, &req.params)
        .await
        .map_err(super::error::from_datafusion)?;
    let out = req
        .engine
        .run(&state, plan)
        .await
        .map_err(super::error::from_datafusion)?;
    Ok(out.batches)
}

/// The cells of row `i` of `b`, from column `from` on.
fn row_scalars(b: &RecordBatch, i: usize, from: usize) -> Result<Vec<ScalarValue>, StmtError> {
    (from..b.num_columns())
        .map(|k| ScalarValue::try_from_array(b.column(k), i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(super::error::from_datafusion)
}

/// The lower-case column name of a (possibly qualified) column reference.
fn column_name(c: &impl std::fmt::Display) -> String {
    c.to_string()
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn count_mismatch(expected: usize, got: usize) -> StmtError {
    StmtError::exec(format!(
        "Invalid operation: Column count mismatch: expected {expected} values, got {got}"
    ))
}

/// Evaluates expressions that are not literals with one `SELECT e1, e2, …` in DataFusion.
async fn eval_exprs(
    req: &Request<'_>,
    ident: &Ident2,
    exprs: &[String],
) -> Result<Vec<ScalarValue>, StmtError> {
    if exprs.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {}", exprs.join(", "));
    let stmt = crate::sql::classify::parse_one(&sql).map_err(StmtError::exec)?;
    let batches = run_query(req, ident, stmt).await?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| StmtError::exec("Invalid operation: expression produced no value"))?;
    row_scalars(batch, 0, 0)
}

fn default_value(
    c: &Column,
    ident: &Ident2,
    req: &Request<'_>,
) -> Option<Result<Value, StmtError>> {
    let d = c.default.as_ref()?;
    let s = match d {
        DefaultValue::SnowflakeId => ScalarValue::Int64(Some(req.engine.store.seq.next())),
        DefaultValue::UuidV7 => ScalarValue::Utf8(Some(crate::engine::udf::uuid_v7())),
        DefaultValue::Ulid => ScalarValue::Utf8(Some(crate::engine::udf::ulid())),
        DefaultValue::Now => ScalarValue::TimestampMicrosecond(Some(crate::time::now_us()), None),
        DefaultValue::CurrentUser => ScalarValue::Utf8(Some(ident.user.clone())),
        DefaultValue::Literal(Literal::Null) => ScalarValue::Null,
        DefaultValue::Literal(Literal::Bool(b)) => ScalarValue::Boolean(Some(*b)),
        DefaultValue::Literal(Literal::Number(n)) => number(n, c.ty),
        DefaultValue::Literal(Literal::String(s)) => ScalarValue::Utf8(Some(s.clone())),
    };
    Some(coerce_for(&s, c))
}

fn coerce_for(s: &ScalarValue, c: &Column) -> Result<Value, StmtError> {
    coerce(s, c.ty).map_err(|m| {
        StmtError::exec(format!(
            "Invalid operation: Failed to convert value for column '{}': {m}",
            c.name
        ))
    })
}

fn not_null_error(c: &Column) -> StmtError {
    StmtError::exec(format!(
        "Invalid operation: NOT NULL constraint violation: column '{}' cannot be null",
        c.name
    ))
}

async fn insert(
    req: &mut Request<'_>,
    ident: &Ident2,
    target: &Target,
    columns: &[sqlparser::ast::Ident],
    source: Option<&sqlparser::ast::Query>,
) -> Result<Output, StmtError> {
    let def = target.def.clone();
    let user_cols: Vec<&Column> = def.user_columns().collect();
    let col_idx: Vec<usize> = if columns.is_empty() {
        (0..user_cols.len()).collect()
    } else {
        columns
            .iter()
            .map(|c| user_index(&def, &column_name(c)))
            .collect::<Result<_, _>>()?
    };
    let Some(source) = source else {
        return Err(StmtError::exec("Invalid operation: INSERT without VALUES"));
    };
    // Each input row as scalars, positionally matching `col_idx`.
    let mut input: Vec<Vec<ScalarValue>> = Vec::new();
    if let SetExpr::Values(values) = source.body.as_ref() {
        for row in &values.rows {
            if row.len() != col_idx.len() {
                return Err(count_mismatch(col_idx.len(), row.len()));
            }
            let mut out = vec![ScalarValue::Null; row.len()];
            let mut slow: Vec<(usize, String)> = Vec::new();
            for (k, e) in row.iter().enumerate() {
                let ty = user_cols[col_idx[k]].ty;
                match literal(e, &req.params, ty) {
                    Some(r) => out[k] = r?,
                    None => slow.push((k, e.to_string())),
                }
            }
            if !slow.is_empty() {
                let exprs: Vec<String> = slow.iter().map(|(_, e)| e.clone()).collect();
                let vals = eval_exprs(req, ident, &exprs).await?;
                for ((k, _), v) in slow.into_iter().zip(vals) {
                    out[k] = v;
                }
            }
            input.push(out);
        }
    } else {
        let stmt = Statement::Query(Box::new(source.clone()));
        for b in &run_query(req, ident, stmt).await? {
            if b.num_columns() != col_idx.len() {
                return Err(count_mismatch(col_idx.len(), b.num_columns()));
            }
            for i in 0..b.num_rows() {
                input.push(row_scalars(b, i, 0)?);
            }
        }
    }
    let with_params = !req.params.is_empty();
    let mut ops = Vec::with_capacity(input.len());
    for row in input {
        let mut given: Vec<Option<Value>> = vec![None; user_cols.len()];
        for (k, s) in row.iter().enumerate() {
            let c = user_cols[col_idx[k]];
            given[col_idx[k]] = Some(coerce_for(s, c)?);
        }
        let mut values = Vec::with_capacity(user_cols.len());
        for (i, c) in user_cols.iter().enumerate() {
            let v = match given[i].take() {
                Some(v) => v,
                None => match default_value(c, ident, req) {
                    Some(r) => r?,
                    None if !c.nullable => zero_value(c.ty),
                    None => Value::Null,
                },
            };
            // Quirk (1.2): with params, a NULL or omitted EMBEDDING becomes a zero vector.
            let v = match (v, c.ty) {
                (Value::Null, kalam_schema::SqlType::Embedding(n)) if with_params => {
                    Value::Embedding(vec![0.0; n as usize])
                }
                (v, _) => v,
            };
            if v.is_null() && !c.nullable {
                return Err(not_null_error(c));
            }
            values.push(v);
        }
        ops.push(WriteOp::Insert(values));
    }
    let n = apply(req, ident, target, ops)?;
    Ok(dml_output(DmlKind::Insert, n, &ident.user))
}

/// Rows matching `selection`: their key and the values of `exprs` for each.
async fn select_rows(
    req: &Request<'_>,
    ident: &Ident2,
    target: &Target,
    exprs: &[String],
    selection: Option<&Expr>,
) -> Result<Vec<(Key, Vec<ScalarValue>)>, StmtError> {
    let def = &target.def;
    let key_col = def
        .primary_key()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "_seq".to_owned());
    let mut sql = format!("SELECT {key_col}");
    for e in exprs {
        sql.push_str(", ");
        sql.push_str(e);
    }
    sql.push_str(&format!(" FROM {}.{}", target.ns, target.name));
    if let Some(w) = selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    let stmt = crate::sql::classify::parse_one(&sql).map_err(StmtError::exec)?;
    let batches = run_query(req, ident, stmt).await?;
    let pk_ty = def.primary_key().map(|c| c.ty);
    let mut rows = Vec::new();
    let mut seqs = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            let k = ScalarValue::try_from_array(b.column(0), i)
                .map_err(super::error::from_datafusion)?;
            let vals = row_scalars(b, i, 1)?;
            match pk_ty {
                Some(ty) => {
                    let v = crate::store::value::from_scalar(&k, ty).map_err(StmtError::exec)?;
                    if let Some(key) = Key::of(&v) {
                        rows.push((key, vals));
                    }
                }
                None => {
                    if let ScalarValue::Int64(Some(s)) = k {
                        seqs.push((s, vals));
                    }
                }
            }
        }
    }
    if !seqs.is_empty() {
        // Tables without a primary key: find each row's storage key by its current `_seq`.
        let st = req.engine.store.read();
        let part = partition_key(def.kind, &ident.user);
        if let Some(p) = st
            .tables
            .get(&(target.ns.clone(), target.name.clone()))
            .and_then(|ts| ts.partitions.get(&part))
        {
            for (s, vals) in seqs {
                if let Some((k, _)) = p.rows.iter().find(|(_, r)| r.seq == s) {
                    rows.push((k.clone(), vals));
                }
            }
        }
    }
    Ok(rows)
}

fn update(
    req: &mut Request<'_>,
    ident: &Ident2,
    target: &Target,
    cols: &[usize],
    matched: Vec<(Key, Vec<ScalarValue>)>,
) -> Result<Output, StmtError> {
    let def = target.def.clone();
    let user_cols: Vec<&Column> = def.user_columns().collect();
    let part = partition_key(def.kind, &ident.user);
    let mut ops = Vec::with_capacity(matched.len());
    {
        let st = req.engine.store.read();
        let p = st
            .tables
            .get(&(target.ns.clone(), target.name.clone()))
            .and_then(|ts| ts.partitions.get(&part));
        for (key, vals) in matched {
            let Some(old) = p.and_then(|p| p.rows.get(&key)).filter(|r| !r.deleted) else {
                continue;
            };
            let mut values = old.values.clone();
            for (k, s) in vals.iter().enumerate() {
                let i = cols[k];
                let c = user_cols[i];
                let v = coerce_for(s, c)?;
                if v.is_null() && !c.nullable {
                    return Err(not_null_error(c));
                }
                values[i] = v;
            }
            ops.push(WriteOp::Update(key, values));
        }
    }
    let n = apply(req, ident, target, ops)?;
    Ok(dml_output(DmlKind::Update, n, &ident.user))
}
