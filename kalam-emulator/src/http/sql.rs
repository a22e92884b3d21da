//! `POST /v1/api/sql` (protocol 1): envelopes, both response paths, batch aggregation.

use std::fmt::Write as _;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{App, auth_failure, json};
use crate::encode::write_str;
use crate::exec::{DmlKind, Output, Request, StmtError};
use crate::net::ConnMeta;
use crate::role::Role;

/// Longest SQL text accepted (`MAX_SQL_QUERY_LENGTH`).
const MAX_SQL_LEN: usize = 1_048_576;

#[derive(Debug, Deserialize)]
pub(super) struct SqlBody {
    pub(super) sql: String,
    #[serde(default)]
    pub(super) params: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub(super) namespace_id: Option<String>,
}

fn took_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn num(f: f64) -> String {
    serde_json::Number::from_f64(f)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "0.0".into())
}

/// An error envelope (buffered path).
pub(super) fn error_response(
    status: u16,
    code: &str,
    message: &str,
    details: Option<&str>,
    started: Instant,
) -> Response {
    let mut body = format!(
        "{{\"status\":\"error\",\"results\":[],\"took\":{},\"error\":{{\"code\":",
        num(took_ms(started))
    );
    write_str(&mut body, code);
    body.push_str(",\"message\":");
    write_str(&mut body, message);
    if let Some(d) = details {
        body.push_str(",\"details\":");
        write_str(&mut body, d);
    }
    body.push_str("}}");
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

/// The public text of a redacted error for non-admin callers (protocol 1.10).
fn public_message(code: &str) -> Option<&'static str> {
    match code {
        "SQL_EXECUTION_ERROR" => Some("SQL statement failed"),
        "INVALID_SQL" => Some("SQL statement is invalid or not allowed"),
        "BATCH_PARSE_ERROR" => Some("Failed to parse SQL batch"),
        "TABLE_NOT_FOUND" => Some("Requested table is not available"),
        "INTERNAL_ERROR" => Some("SQL request failed"),
        _ => None,
    }
}

fn plain_error(role: Role, status: u16, code: &str, message: &str, started: Instant) -> Response {
    let msg = if role.is_admin() {
        message
    } else {
        public_message(code).unwrap_or(message)
    };
    error_response(status, code, msg, None, started)
}

fn stmt_error(role: Role, index: usize, sql: &str, e: &StmtError, started: Instant) -> Response {
    let full = if e.execution {
        format!("Statement {index} failed: {}", e.message)
    } else {
        e.message.clone()
    };
    if role.is_admin() {
        let details = e.execution.then_some(sql);
        return error_response(e.status, e.code, &full, details, started);
    }
    let redact = match e.code {
        "SQL_EXECUTION_ERROR" => !e.is_safe(),
        "PERMISSION_DENIED" => false,
        _ => public_message(e.code).is_some(),
    };
    let msg = if redact {
        public_message(e.code).unwrap_or(&full).to_owned()
    } else {
        full
    };
    error_response(e.status, e.code, &msg, None, started)
}

/// Whether the SQL holds `FILE("…")` / `FILE('…')` placeholders (protocol 6.1).
fn has_file_placeholder(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find("FILE") {
        let rest = upper[from + i + 4..].trim_start();
        if let Some(r) = rest.strip_prefix('(') {
            let r = r.trim_start();
            if r.starts_with('"') || r.starts_with('\'') {
                return true;
            }
        }
        from += i + 4;
    }
    false
}

pub(super) async fn handle(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (user, role) = match app.bearer(&headers) {
        Ok(x) => x,
        Err(f) => return auth_failure(f, started),
    };
    if !app.limits.queries.allow(&user) {
        let per = app.limits.settings.get_window();
        let max = app.limits.settings.get_queries_per_user().unwrap_or(0);
        return error_response(
            429,
            "RATE_LIMIT_EXCEEDED",
            &format!("Rate limit exceeded: at most {max} queries per {per:?} for user '{user}'"),
            None,
            started,
        );
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        return super::files::upload(&app, &meta, user, role, &ct, body, started).await;
    }
    if !ct.starts_with("application/json") {
        return error_response(
            400,
            "INVALID_INPUT",
            "Invalid JSON payload: Content type error",
            None,
            started,
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, app.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                400,
                "INVALID_INPUT",
                &format!(
                    "Invalid JSON payload: Json payload size is bigger than allowed (limit: {} bytes)",
                    app.settings.max_body_bytes
                ),
                None,
                started,
            );
        }
    };
    let req_body: SqlBody = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                400,
                "INVALID_INPUT",
                &format!("Invalid JSON payload: Json deserialize error: {e}"),
                None,
                started,
            );
        }
    };
    run(&app, &meta, user, role, req_body, false, started).await
}

/// Runs a parsed SQL request (the JSON body, or a multipart upload after its placeholders
/// were rewritten).
/// Runs a SQL request. `upload` is set for the statement of a multipart upload, whose
/// placeholders the file path has replaced: one left without its file part stays in the SQL
/// and fails as an unknown function, as on the server.
pub(super) async fn run(
    app: &App,
    meta: &ConnMeta,
    user: String,
    role: Role,
    req_body: SqlBody,
    upload: bool,
    started: Instant,
) -> Response {
    if req_body.sql.len() > MAX_SQL_LEN {
        return error_response(
            400,
            "INVALID_SQL",
            &format!(
                "SQL query too long: {} bytes (maximum {MAX_SQL_LEN} bytes)",
                req_body.sql.len()
            ),
            None,
            started,
        );
    }
    let statements = match crate::sql::split::split(&req_body.sql) {
        Ok(s) => s,
        Err(e) => {
            return plain_error(
                role,
                400,
                "BATCH_PARSE_ERROR",
                &format!("Failed to parse SQL batch: {}", e.0),
                started,
            );
        }
    };
    if statements.is_empty() {
        return error_response(
            400,
            "EMPTY_SQL",
            "No SQL statements provided",
            None,
            started,
        );
    }
    let mut req = Request {
        engine: &app.engine,
        auth_user: user.clone(),
        auth_role: role,
        namespace: req_body
            .namespace_id
            .clone()
            .unwrap_or_else(|| kalam_schema::ddl::DEFAULT_NAMESPACE.to_owned()),
        tx: None,
        params: Vec::new(),
    };
    let mut prepared = Vec::with_capacity(statements.len());
    for (i, s) in statements.iter().enumerate() {
        match req.prepare(s) {
            Ok(p) => prepared.push(p),
            Err(e) => return stmt_error(role, i + 1, s, &e, started),
        }
    }
    let params = req_body.params.unwrap_or_default();
    match crate::sql::params::convert(&params) {
        Ok(p) => req.params = p,
        Err(m) => return error_response(400, "INVALID_PARAMETER", &m, None, started),
    }
    if !params.is_empty() && statements.len() > 1 {
        return error_response(
            400,
            "PARAMS_WITH_BATCH",
            "Parameters not supported with multi-statement batches",
            None,
            started,
        );
    }
    if !upload && has_file_placeholder(&req_body.sql) {
        return error_response(
            400,
            "INVALID_INPUT",
            "FILE placeholders require multipart/form-data",
            None,
            started,
        );
    }
    let single = statements.len() == 1;
    let mut outputs = Vec::with_capacity(prepared.len());
    for (i, p) in prepared.into_iter().enumerate() {
        match req.run(p).await {
            Ok(o) => outputs.push(o),
            Err(e) => {
                if let Some(log) = req.tx.take() {
                    app.engine.store.rollback(log);
                }
                if e.unencodable {
                    if single {
                        // Protocol 1.5: the streamed path closes the connection, no response.
                        meta.kill.kill();
                        return error_response(500, "INTERNAL_ERROR", &e.message, None, started);
                    }
                    return plain_error(role, 500, "INTERNAL_ERROR", &e.message, started);
                }
                return stmt_error(role, i + 1, &statements[i], &e, started);
            }
        }
    }
    if let Some(log) = req.tx.take() {
        app.engine.store.rollback(log);
        return error_response(
            400,
            "SQL_EXECUTION_ERROR",
            "Request completed with an open explicit transaction; rolled back automatically",
            None,
            started,
        );
    }
    if single
        && let Some(Output::Rows {
            schema,
            rows,
            row_count,
            as_user,
            buffered: false,
        }) = outputs.first()
    {
        return streamed(schema, rows, *row_count, as_user, started);
    }
    buffered(outputs, single, &user, started)
}

fn streamed(
    schema: &str,
    rows: &str,
    row_count: usize,
    as_user: &str,
    started: Instant,
) -> Response {
    let mut body = String::with_capacity(rows.len() + schema.len() + 128);
    body.push_str("{\"status\":\"success\",\"results\":[{\"schema\":");
    body.push_str(schema);
    body.push_str(",\"rows\":[");
    body.push_str(rows);
    let _ = write!(body, "],\"row_count\":{row_count},\"as_user\":");
    write_str(&mut body, as_user);
    let _ = write!(
        body,
        "}}],\"took\":{},\"error\":null}}",
        num(took_ms(started))
    );
    let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(body));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter([chunk])))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn write_message(out: &mut String, row_count: usize, message: &str, as_user: &str) {
    let _ = write!(out, "{{\"row_count\":{row_count},\"message\":");
    write_str(out, message);
    out.push_str(",\"as_user\":");
    write_str(out, as_user);
    out.push('}');
}

fn buffered(outputs: Vec<Output>, single: bool, auth_user: &str, started: Instant) -> Response {
    let mut results: Vec<String> = Vec::new();
    let mut sums = [0usize; 3];
    for o in outputs {
        let mut r = String::new();
        match o {
            Output::Rows {
                schema,
                rows,
                row_count,
                as_user,
                ..
            } => {
                r.push('{');
                if schema != "[]" {
                    r.push_str("\"schema\":");
                    r.push_str(&schema);
                    r.push(',');
                }
                let _ = write!(
                    r,
                    "\"rows\":[{rows}],\"row_count\":{row_count},\"as_user\":"
                );
                write_str(&mut r, &as_user);
                r.push('}');
            }
            Output::Message {
                row_count,
                message,
                as_user,
                dml,
            } => {
                if let (false, Some(kind)) = (single, dml) {
                    let i = match kind {
                        DmlKind::Insert => 0,
                        DmlKind::Update => 1,
                        DmlKind::Delete => 2,
                    };
                    sums[i] += row_count;
                    continue;
                }
                write_message(&mut r, row_count, &message, &as_user);
            }
        }
        results.push(r);
    }
    for (i, verb) in ["Inserted", "Updated", "Deleted"].iter().enumerate() {
        if sums[i] > 0 {
            let mut r = String::new();
            write_message(
                &mut r,
                sums[i],
                &format!("{verb} {} row(s)", sums[i]),
                auth_user,
            );
            results.push(r);
        }
    }
    let body = format!(
        "{{\"status\":\"success\",\"results\":[{}],\"took\":{}}}",
        results.join(","),
        num(took_ms(started))
    );
    json(StatusCode::OK, body)
}
