//! The HTTP API (protocol 1, 2): router, shared state and small helpers.

pub(crate) mod auth;
mod files;
mod health;
mod sql;
mod topics;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::engine::Engine;
use crate::faults::FaultState;
use crate::jwt::{self, Claims, JwtError};
use crate::role::Role;

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) jwt_expiry: Duration,
    pub(crate) jwt_leeway: Duration,
    pub(crate) max_body_bytes: usize,
}

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
    pub(crate) secret: Vec<u8>,
    pub(crate) settings: HttpSettings,
    pub(crate) started: Instant,
    pub(crate) started_secs: i64,
    pub(crate) port: u16,
    pub(crate) live: Arc<crate::ws::Hub>,
    pub(crate) limits: crate::rate::Limiters,
}

pub(crate) type App = Arc<AppState>;

/// The router with every endpoint and the fault middleware.
pub(crate) fn router(app: App, faults: Arc<FaultState>) -> Router {
    Router::new()
        .route("/v1/api/sql", post(sql::handle))
        .route("/v1/api/auth/login", post(auth::login))
        .route("/v1/api/auth/refresh", post(auth::refresh))
        .route("/v1/api/auth/logout", post(auth::logout))
        .route("/v1/api/auth/me", get(auth::me))
        .route("/v1/api/auth/status", get(auth::status))
        .route("/v1/api/auth/setup", post(auth::setup))
        .route("/health", get(health::health))
        .route("/v1/api/healthcheck", get(health::health))
        .route("/v1/api/cluster/health", get(health::cluster))
        .route("/v1/ws", get(crate::ws::upgrade))
        .route("/v1/api/topics/consume", post(topics::consume))
        .route("/v1/api/topics/ack", post(topics::ack))
        .route(
            "/v1/files/{namespace}/{table}/{sub}/{stored_name}",
            get(files::download),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            faults,
            crate::faults::middleware,
        ))
        .layer(cors())
        .with_state(app)
}

/// CORS as the server's `[security.cors]` defaults configure it, so that a page served from
/// another origin can call the API: any origin (echoed back, since credentials are allowed),
/// the methods GET, POST, PUT, DELETE, PATCH and OPTIONS, the request headers Authorization,
/// Content-Type, Accept, Origin and X-Requested-With, no exposed headers, and preflights
/// cached for an hour.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ORIGIN,
            HeaderName::from_static("x-requested-with"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// A JSON response with a fixed body text.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// A JSON response from a `serde_json::Value`.
pub(crate) fn json_value(status: StatusCode, v: &serde_json::Value) -> Response {
    json(status, v.to_string())
}

/// A `text/plain` response.
pub(crate) fn text(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Whether the caller counts as local (protocol 2.7): a loopback peer, unless it forwards a
/// non-loopback client address in `X-Forwarded-For` (first value) or `X-Real-IP`.
pub(crate) fn is_local(peer: IpAddr, headers: &HeaderMap) -> bool {
    if !peer.is_loopback() {
        return false;
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_owned())
        .or_else(|| {
            headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        });
    !matches!(forwarded.and_then(|f| f.parse::<IpAddr>().ok()), Some(ip) if !ip.is_loopback())
}

/// A bearer failure (protocol 2.6).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthFailure {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
}

const INVALID: AuthFailure = AuthFailure {
    status: StatusCode::UNAUTHORIZED,
    code: "INVALID_CREDENTIALS",
    message: "Invalid credentials",
};

impl AppState {
    /// Validates an access token and the user it names.
    pub(crate) fn check_access(&self, token: &str) -> Result<(String, Role), AuthFailure> {
        let claims = self.verify(token).map_err(|e| match e {
            JwtError::Expired => AuthFailure {
                status: StatusCode::UNAUTHORIZED,
                code: "TOKEN_EXPIRED",
                message: "Invalid credentials",
            },
            _ => INVALID,
        })?;
        if claims.iss != "kalamdb" || claims.token_type.as_deref() != Some("access") {
            return Err(INVALID);
        }
        self.check_user(&claims).ok_or(INVALID)
    }

    /// The user of validated claims, if it still exists with the same role.
    pub(crate) fn check_user(&self, claims: &Claims) -> Option<(String, Role)> {
        let st = self.engine.store.read();
        let u = st.users.get(&claims.sub)?;
        if u.deleted_at_ms.is_some() || u.role.as_str() != claims.role {
            return None;
        }
        Some((u.id.clone(), u.role))
    }

    pub(crate) fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let leeway = i64::try_from(self.settings.jwt_leeway.as_secs()).unwrap_or(60);
        jwt::verify(&self.secret, token, leeway)
    }

    /// Bearer check of a data endpoint.
    pub(crate) fn bearer(&self, headers: &HeaderMap) -> Result<(String, Role), AuthFailure> {
        let Some(h) = headers.get(header::AUTHORIZATION) else {
            return Err(AuthFailure {
                status: StatusCode::UNAUTHORIZED,
                code: "MISSING_AUTHORIZATION",
                message: "Authentication required",
            });
        };
        let h = h.to_str().map_err(|_| INVALID)?;
        let Some(token) = h.strip_prefix("Bearer ") else {
            return Err(INVALID);
        };
        self.check_access(token.trim())
    }
}

/// The bearer-failure envelope: keys in alphabetical order, `took` not rounded.
pub(crate) fn auth_failure(f: AuthFailure, started: Instant) -> Response {
    let took = started.elapsed().as_secs_f64() * 1000.0;
    let body = serde_json::json!({
        "error": {"code": f.code, "message": f.message},
        "results": [],
        "status": "error",
        "took": took,
    });
    json_value(f.status, &body)
}

/// A cookie value from the `Cookie` header.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
