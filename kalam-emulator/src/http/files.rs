//! Multipart SQL uploads (protocol 6.1) and `GET /v1/files/...` downloads (protocol 6.3).

use std::collections::HashMap;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use kalam_schema::TableKind;

use super::sql::{SqlBody, error_response, run};
use super::{App, auth_failure, json_value};
use crate::files::{self, FileKey, FileRef, StoredFile};
use crate::net::ConnMeta;
use crate::role::Role;

const MIB: usize = 1024 * 1024;

/// Reads the body up to `cap` bytes; beyond that the rest is drained (so the client sees the
/// answer instead of a reset) and `None` comes back.
async fn read_capped(body: Body, cap: usize) -> Result<Option<Bytes>, String> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut over = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if over {
            continue;
        }
        if buf.len() + chunk.len() > cap {
            over = true;
            buf = Vec::new();
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((!over).then(|| Bytes::from(buf)))
}

fn too_large(max: usize, started: Instant) -> Response {
    error_response(
        400,
        "FILE_TOO_LARGE",
        &format!("File exceeds maximum size of {max} bytes"),
        None,
        started,
    )
}

fn invalid(message: &str, started: Instant) -> Response {
    error_response(400, "INVALID_INPUT", message, None, started)
}

/// `POST /v1/api/sql` with `multipart/form-data`.
pub(super) async fn upload(
    app: &App,
    meta: &ConnMeta,
    user: String,
    role: Role,
    content_type: &str,
    body: Body,
    started: Instant,
) -> Response {
    let store = &app.engine.store;
    let limits = store.files.limits();
    let Some(boundary) = files::boundary(content_type) else {
        return invalid("Invalid multipart payload: missing boundary", started);
    };
    let cap = limits
        .max_size
        .saturating_mul(limits.max_files.max(1))
        .saturating_add(MIB);
    let bytes = match read_capped(body, cap).await {
        Ok(Some(b)) => b,
        Ok(None) => return too_large(limits.max_size, started),
        Err(e) => return invalid(&format!("Invalid multipart payload: {e}"), started),
    };
    let parts = match files::parse_multipart(&bytes, &boundary) {
        Ok(p) => p,
        Err(e) => return invalid(&format!("Invalid multipart payload: {e}"), started),
    };
    let mut sql = None;
    let mut params = None;
    let mut namespace_id = None;
    let mut uploads: HashMap<String, files::Part> = HashMap::new();
    for p in parts {
        match p.name.as_str() {
            "sql" => sql = Some(String::from_utf8_lossy(&p.data).into_owned()),
            "params" => params = Some(String::from_utf8_lossy(&p.data).into_owned()),
            "namespace_id" => namespace_id = Some(String::from_utf8_lossy(&p.data).into_owned()),
            n => {
                if let Some(name) = n.strip_prefix("file:") {
                    uploads.insert(name.to_owned(), p);
                }
            }
        }
    }
    if uploads.len() > limits.max_files {
        return error_response(
            400,
            "TOO_MANY_FILES",
            &format!(
                "Too many files: {} (maximum {})",
                uploads.len(),
                limits.max_files
            ),
            None,
            started,
        );
    }
    if uploads.values().any(|p| p.data.len() > limits.max_size) {
        return too_large(limits.max_size, started);
    }
    let Some(sql) = sql else {
        return invalid("Missing 'sql' field in multipart request", started);
    };
    let params = match params.filter(|p| !p.trim().is_empty()) {
        None => None,
        Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(a)) => Some(a),
            _ => {
                return error_response(
                    400,
                    "INVALID_PARAMETER",
                    "Invalid params: expected a JSON array",
                    None,
                    started,
                );
            }
        },
    };
    let statements = match crate::sql::split::split(&sql) {
        Ok(s) => s,
        Err(e) => {
            let msg = if role.is_admin() {
                format!("Failed to parse SQL batch: {}", e.0)
            } else {
                "Failed to parse SQL batch".to_owned()
            };
            return error_response(400, "BATCH_PARSE_ERROR", &msg, None, started);
        }
    };
    let found = statements
        .first()
        .map(|s| files::placeholders(s))
        .unwrap_or_default();
    if found.is_empty() {
        // Plain SQL sent as multipart: run it as if it came as JSON.
        let body = SqlBody {
            sql,
            params,
            namespace_id,
        };
        return run(app, meta, user, role, body, false, started).await;
    }
    if statements.len() != 1 {
        return invalid("File uploads require a single SQL statement", started);
    }
    let stmt = &statements[0];
    // A placeholder without its part is not an upload error: the server stores the parts it
    // has, leaves that `FILE('x')` in the statement and runs it, which then fails on the
    // unknown function `file` (observed on KalamDB 0.4.3-rc.4).
    let env = match crate::sql::classify::strip_execute_as(stmt) {
        Ok(e) => e,
        Err(m) => return invalid(&m, started),
    };
    let default_ns = namespace_id
        .clone()
        .unwrap_or_else(|| kalam_schema::ddl::DEFAULT_NAMESPACE.to_owned());
    let Some((ns, table)) = files::target_table(&env.body, &default_ns) else {
        return invalid(
            "File uploads require an INSERT, UPDATE or DELETE on a named table",
            started,
        );
    };
    let kind = store.read().catalog.table(&ns, &table).map(|t| t.kind);
    let owner = match kind {
        None => {
            let msg = if role.is_admin() {
                format!("Table '{ns}.{table}' not found")
            } else {
                "Requested table is not available".to_owned()
            };
            return error_response(400, "TABLE_NOT_FOUND", &msg, None, started);
        }
        Some(TableKind::User) => env.as_user.clone().unwrap_or_else(|| user.clone()),
        Some(TableKind::Shared) => String::new(),
        Some(_) => {
            return invalid(
                "File uploads are only supported for USER and SHARED tables",
                started,
            );
        }
    };
    let mut refs: HashMap<String, String> = HashMap::new();
    let mut stored: Vec<FileKey> = Vec::new();
    for p in &found {
        if refs.contains_key(&p.name) {
            continue;
        }
        let Some(part) = uploads.get(&p.name) else {
            continue;
        };
        let id = store.seq.next().to_string();
        let original = part.filename.clone().unwrap_or_else(|| p.name.clone());
        let stored_name = files::stored_name(&id, &original);
        let fref = FileRef {
            id,
            sub: "f0001".to_owned(),
            name: original,
            size: part.data.len() as u64,
            mime: part
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            sha256: files::sha256_hex(&part.data),
        };
        let key: FileKey = (
            ns.clone(),
            table.clone(),
            owner.clone(),
            fref.sub.clone(),
            stored_name,
        );
        store.files.put(
            key.clone(),
            StoredFile {
                data: part.data.clone(),
            },
        );
        stored.push(key);
        refs.insert(
            p.name.clone(),
            serde_json::to_string(&fref).unwrap_or_default(),
        );
    }
    let body = SqlBody {
        sql: files::rewrite(stmt, &found, &refs),
        params,
        namespace_id,
    };
    let resp = run(app, meta, user, role, body, true, started).await;
    if resp.status() != StatusCode::OK {
        for k in &stored {
            store.files.remove(k);
        }
    }
    resp
}

/// `GET /v1/files/{namespace}/{table}/{sub}/{stored_name}[?user_id=…]`
pub(super) async fn download(
    State(app): State<App>,
    Path((ns, table, sub, name)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let (caller, role) = match app.bearer(&headers) {
        Ok(x) => x,
        Err(f) => return auth_failure(f, started),
    };
    if !files::valid_path(&sub, &name) {
        return invalid("Invalid file path", started);
    }
    let (def_kind, level) = {
        let st = app.engine.store.read();
        match st
            .catalog
            .table(&ns.to_ascii_lowercase(), &table.to_ascii_lowercase())
        {
            Some(t) => (t.kind, t.options.access_level.unwrap_or_default()),
            None => {
                return json_value(
                    StatusCode::NOT_FOUND,
                    &serde_json::json!({"error": format!("Table '{ns}:{table}' not found")}),
                );
            }
        }
    };
    let requested = query.get("user_id").filter(|u| !u.is_empty());
    let owner = match def_kind {
        TableKind::User => match requested {
            None => caller,
            Some(u) if *u == caller => caller,
            Some(u) => {
                let target_role = app
                    .engine
                    .store
                    .read()
                    .users
                    .get(u)
                    .map_or(Role::User, |x| x.role);
                if !crate::exec::may_impersonate(&caller, role, u, target_role) {
                    return error_response(
                        403,
                        "PERMISSION_DENIED",
                        "Requested user is not allowed for the current role",
                        None,
                        started,
                    );
                }
                u.clone()
            }
        },
        TableKind::Shared => {
            if requested.is_some() {
                return invalid("user_id is not supported for shared tables", started);
            }
            if !crate::engine::provider::can_read_shared(role, level) {
                return error_response(
                    403,
                    "PERMISSION_DENIED",
                    "Access denied to shared table files",
                    None,
                    started,
                );
            }
            String::new()
        }
        _ => {
            return invalid(
                "Files are not available for stream or system tables",
                started,
            );
        }
    };
    let key: FileKey = (
        ns.to_ascii_lowercase(),
        table.to_ascii_lowercase(),
        owner,
        sub,
        name.clone(),
    );
    let Some(file) = app.engine.store.files.get(&key) else {
        return json_value(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "File not found", "code": "FILE_NOT_FOUND"}),
        );
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, files::mime_of(&name))
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{name}\""),
        )
        .body(Body::from(file.data))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
