//! `/v1/api/auth/*` (protocol 2.2–2.5).

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{App, cookie, is_local, json_value, text};
use crate::jwt::{Claims, JwtError, sign};
use crate::net::ConnMeta;
use crate::role::Role;
use crate::store::User;
use crate::time::{now_nanos, rfc3339_millis, rfc3339_nanos};

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    json_value(status, &json!({"error": kind, "message": message}))
}

/// The auth-rate limit of protocol 2.1/2.2: 429 `rate_limited` once the client IP is over it.
fn rate_limited(app: &App, meta: &ConnMeta) -> Option<Response> {
    (!app.limits.auth.allow(&meta.peer.ip().to_string())).then(|| {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            AUTH_RATE_LIMITED,
        )
    })
}

/// The server's text for refused authentication attempts (HTTP and WebSocket).
pub(crate) const AUTH_RATE_LIMITED: &str =
    "Too many authentication attempts. Please retry shortly.";

fn unauthorized(message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished HTTP response"
)]
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        text(
            StatusCode::BAD_REQUEST,
            format!("Json deserialize error: {e}"),
        )
    })
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "role": u.role.as_str(),
        "email": u.email,
        "created_at": rfc3339_millis(u.created_at_ms),
        "updated_at": rfc3339_millis(u.updated_at_ms),
    })
}

/// The login/refresh success body with fresh tokens and the cookies.
fn token_response(app: &App, u: &User) -> Response {
    let now = now_nanos();
    let iat = (now / 1_000_000_000) as i64;
    let life = i64::try_from(app.settings.jwt_expiry.as_secs()).unwrap_or(86_400);
    let claims = |token_type: &str, exp: i64| Claims {
        sub: u.id.clone(),
        iss: "kalamdb".into(),
        exp,
        iat,
        email: u.email.clone(),
        role: u.role.as_str().into(),
        token_type: Some(token_type.into()),
    };
    let access = sign(&app.secret, &claims("access", iat + life));
    let refresh = sign(&app.secret, &claims("refresh", iat + 7 * life));
    let life_ns = i128::from(life) * 1_000_000_000;
    let body = json!({
        "user": user_json(u),
        "admin_ui_access": u.role.is_admin(),
        "expires_at": rfc3339_nanos(now + life_ns),
        "access_token": access,
        "refresh_token": refresh,
        "refresh_expires_at": rfc3339_nanos(now + 7 * life_ns),
    });
    let mut r = json_value(StatusCode::OK, &body);
    for (name, value) in [("kalamdb_auth", &access), ("kalamdb_refresh", &refresh)] {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{name}={value}; HttpOnly; SameSite=Strict; Path=/"
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(alias = "username")]
    user: String,
    password: String,
}

pub(super) async fn login(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    body: Bytes,
) -> Response {
    if let Some(r) = rate_limited(&app, &meta) {
        return r;
    }
    let b: LoginBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.user.len() > 128 || b.password.len() > 256 {
        return unauthorized("Invalid credentials");
    }
    let user = {
        let st = app.engine.store.read();
        st.users.get(&b.user).cloned()
    };
    let Some(u) = user.filter(|u| u.deleted_at_ms.is_none()) else {
        return unauthorized("Invalid credentials");
    };
    if u.id == "root" && u.password.is_none() && b.password.is_empty() {
        return error(
            StatusCode::PRECONDITION_REQUIRED,
            "setup_required",
            "Server requires initial setup. Root password is not configured.",
        );
    }
    if !u.check_password(&b.password) {
        return unauthorized("Invalid credentials");
    }
    token_response(&app, &u)
}

pub(super) async fn refresh(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = rate_limited(&app, &meta) {
        return r;
    }
    let token = cookie(&headers, "kalamdb_refresh").or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|s| s.trim().to_owned())
    });
    let Some(token) = token else {
        return unauthorized("No refresh token found");
    };
    let claims = match app.verify(&token) {
        Ok(c) => c,
        Err(JwtError::Malformed) => return unauthorized("Invalid JWT header: InvalidToken"),
        Err(JwtError::Expired) => return unauthorized("Token expired"),
        Err(JwtError::BadSignature) => return unauthorized("Invalid credentials"),
    };
    if claims.token_type.as_deref() != Some("refresh") {
        return unauthorized("Refresh endpoint requires a refresh token");
    }
    if app.check_user(&claims).is_none() {
        return unauthorized("Invalid credentials");
    }
    let user = app.engine.store.read().users.get(&claims.sub).cloned();
    match user {
        Some(u) => token_response(&app, &u),
        None => unauthorized("Invalid credentials"),
    }
}

pub(super) async fn logout() -> Response {
    let mut r = json_value(
        StatusCode::OK,
        &json!({"message": "Logged out successfully"}),
    );
    for name in ["kalamdb_auth", "kalamdb_refresh"] {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

pub(super) async fn me(State(app): State<App>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_owned())
        .or_else(|| cookie(&headers, "kalamdb_auth"));
    let Some(token) = token else {
        return unauthorized("No auth token found");
    };
    let claims = match app.verify(&token) {
        Ok(c) => c,
        Err(JwtError::Malformed) => {
            return unauthorized("JWT validation failed: Invalid JWT header: InvalidToken");
        }
        Err(_) => return unauthorized("Invalid credentials"),
    };
    if claims.token_type.as_deref() != Some("access") || app.check_user(&claims).is_none() {
        return unauthorized("Invalid credentials");
    }
    let user = app.engine.store.read().users.get(&claims.sub).cloned();
    match user {
        Some(u) => json_value(
            StatusCode::OK,
            &json!({"user": user_json(&u), "admin_ui_access": u.role.is_admin()}),
        ),
        None => unauthorized("Invalid credentials"),
    }
}

fn needs_setup(app: &App) -> bool {
    app.engine
        .store
        .read()
        .users
        .get("root")
        .is_none_or(|u| u.password.is_none())
}

pub(super) async fn status(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
) -> Response {
    if !is_local(meta.peer.ip(), &headers) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Setup status can only be checked from localhost",
        );
    }
    if needs_setup(&app) {
        json_value(
            StatusCode::OK,
            &json!({"needs_setup": true, "message": "Server requires initial setup. Call POST /v1/api/auth/setup with user, password, root_password, and optional email."}),
        )
    } else {
        json_value(
            StatusCode::OK,
            &json!({"needs_setup": false, "message": "Server is configured and ready."}),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    #[serde(alias = "username")]
    user: String,
    password: String,
    root_password: String,
    #[serde(default)]
    email: Option<String>,
}

pub(super) async fn setup(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_local(meta.peer.ip(), &headers) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Setup can only be performed from localhost",
        );
    }
    if let Some(r) = rate_limited(&app, &meta) {
        return r;
    }
    let b: SetupBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !needs_setup(&app) {
        return error(
            StatusCode::CONFLICT,
            "already_configured",
            "Server has already been configured. Root password is set.",
        );
    }
    let valid_id = !b.user.is_empty()
        && b.user.len() <= 128
        && b.user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_id || b.user == "root" {
        return error(StatusCode::BAD_REQUEST, "invalid_user", "Invalid user id");
    }
    if b.password.len() < 8 {
        return error(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "DBA user password: Password must be at least 8 characters long",
        );
    }
    if b.root_password.len() < 8 {
        return error(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "Root password: Password must be at least 8 characters long",
        );
    }
    let mut st = app.engine.store.write();
    if st
        .users
        .get(&b.user)
        .is_some_and(|u| u.deleted_at_ms.is_none())
    {
        return error(
            StatusCode::CONFLICT,
            "user_exists",
            &format!("User '{}' already exists", b.user),
        );
    }
    let now = crate::time::now_ms();
    let root = st
        .users
        .entry("root".into())
        .or_insert_with(|| User::new("root", None, Role::System));
    root.password = Some(crate::store::hash_password(&b.root_password));
    root.updated_at_ms = now;
    let mut u = User::new(&b.user, Some(&b.password), Role::Dba);
    u.email = b.email.clone();
    let body = json!({
        "user": user_json(&u),
        "message": format!("Server setup complete. Root password configured and DBA user '{}' created. Please login to continue.", b.user),
    });
    st.users.insert(b.user.clone(), u);
    json_value(StatusCode::OK, &body)
}
