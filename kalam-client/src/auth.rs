//! Credentials and the token life cycle (protocol 2).
//!
//! Passwords are only ever sent to `/v1/api/auth/login`; every data request carries
//! `Authorization: Bearer <access JWT>`. Basic credentials are exchanged on first use, the
//! access token is renewed shortly before it expires (or when the server answers
//! `TOKEN_EXPIRED`) with the refresh token, and the client logs in again when the refresh
//! token is gone or refused.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::sync::Mutex;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::transport::system_now;
use crate::wire::{LoginResponse, error_from_body};

/// How the client authenticates (the official SDK's `AuthProvider`).
///
/// `Debug` never shows passwords or tokens.
///
/// ```
/// use kalam_client::AuthProvider;
/// let auth = AuthProvider::basic_auth("alice", "Secret123!");
/// assert!(!format!("{auth:?}").contains("Secret123!"));
/// let root = AuthProvider::system_user_auth("RootPass123!");
/// assert!(matches!(root, AuthProvider::BasicAuth(ref user, _) if user == "root"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum AuthProvider {
    /// User and password, exchanged for a JWT at `/v1/api/auth/login`.
    BasicAuth(String, String),
    /// A ready access token (not renewed by the client).
    JwtToken(String),
    /// No credentials (only the unauthenticated endpoints work).
    None,
}

impl AuthProvider {
    /// User and password credentials.
    pub fn basic_auth(user: impl Into<String>, password: impl Into<String>) -> AuthProvider {
        AuthProvider::BasicAuth(user.into(), password.into())
    }

    /// The built-in `root` user (role `system`) with its password.
    pub fn system_user_auth(password: impl Into<String>) -> AuthProvider {
        AuthProvider::BasicAuth("root".to_owned(), password.into())
    }

    /// A ready access token.
    pub fn jwt_token(token: impl Into<String>) -> AuthProvider {
        AuthProvider::JwtToken(token.into())
    }

    /// No credentials.
    pub fn none() -> AuthProvider {
        AuthProvider::None
    }

    /// True unless this is [`AuthProvider::None`].
    pub fn is_authenticated(&self) -> bool {
        !matches!(self, AuthProvider::None)
    }
}

impl fmt::Debug for AuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthProvider::BasicAuth(user, _) => f
                .debug_tuple("BasicAuth")
                .field(user)
                .field(&"<redacted>")
                .finish(),
            AuthProvider::JwtToken(_) => f.debug_tuple("JwtToken").field(&"<redacted>").finish(),
            AuthProvider::None => f.write_str("None"),
        }
    }
}

/// The future a [`DynamicAuthProvider`] returns (not `Send` in the browser build, whose
/// `fetch` futures stay on the page's thread).
#[cfg(not(target_arch = "wasm32"))]
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<AuthProvider>> + Send + 'a>>;
/// The future a [`DynamicAuthProvider`] returns (not `Send` in the browser build, whose
/// `fetch` futures stay on the page's thread).
#[cfg(target_arch = "wasm32")]
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<AuthProvider>> + 'a>>;

/// Credentials supplied on demand: called when the client needs a token it does not have
/// (first request, expiry, `TOKEN_EXPIRED`). Closures `Fn() -> impl Future<Output =
/// Result<AuthProvider>>` implement it.
///
/// ```
/// use std::sync::Arc;
/// use kalam_client::{AuthProvider, KalamClient};
/// let client = KalamClient::builder()
///     .base_url("http://127.0.0.1:2900")
///     .auth_provider(Arc::new(|| async {
///         Ok(AuthProvider::basic_auth("alice", "from-a-vault"))
///     }))
///     .build()
///     .unwrap();
/// # drop(client);
/// ```
pub trait DynamicAuthProvider: Send + Sync + 'static {
    /// Returns the current credentials.
    fn get_auth(&self) -> AuthFuture<'_>;
}

#[cfg(not(target_arch = "wasm32"))]
impl<F, Fut> DynamicAuthProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AuthProvider>> + Send + 'static,
{
    fn get_auth(&self) -> AuthFuture<'_> {
        Box::pin(self())
    }
}

#[cfg(target_arch = "wasm32")]
impl<F, Fut> DynamicAuthProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AuthProvider>> + 'static,
{
    fn get_auth(&self) -> AuthFuture<'_> {
        Box::pin(self())
    }
}

/// A shared [`DynamicAuthProvider`], as the official SDK names it.
pub type ArcDynAuthProvider = Arc<dyn DynamicAuthProvider>;

/// Where credentials come from.
#[derive(Clone)]
pub(crate) enum AuthSource {
    Static(AuthProvider),
    Dynamic(ArcDynAuthProvider),
}

impl fmt::Debug for AuthSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthSource::Static(p) => p.fmt(f),
            AuthSource::Dynamic(_) => f.write_str("Dynamic(<provider>)"),
        }
    }
}

/// A token that must not be logged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
struct Token {
    secret: Secret,
    /// When the server stops accepting it, if known.
    expires: Option<SystemTime>,
    /// How early to renew it.
    margin: Duration,
}

impl Token {
    fn new(secret: String, fallback_expiry: Option<&str>) -> Token {
        let claims = jwt_times(&secret);
        let expires = claims
            .map(|(exp, _)| exp)
            .or_else(|| fallback_expiry.and_then(parse_rfc3339));
        // Renew a tenth of the lifetime early, at most 30 s (short test tokens stay usable).
        let margin = claims
            .and_then(|(exp, iat)| iat.and_then(|iat| exp.duration_since(iat).ok()))
            .map_or(Duration::from_secs(30), |life| {
                (life / 10).min(Duration::from_secs(30))
            });
        Token {
            secret: Secret(secret),
            expires,
            margin,
        }
    }

    fn is_fresh(&self, now: SystemTime) -> bool {
        match self.expires {
            Some(exp) => now + self.margin < exp,
            None => true,
        }
    }
}

/// `exp` and `iat` of a JWT's payload (not verified: only used to schedule renewal).
fn jwt_times(token: &str) -> Option<(SystemTime, Option<SystemTime>)> {
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<u64>,
        iat: Option<u64>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let at = |s: u64| UNIX_EPOCH.checked_add(Duration::from_secs(s));
    Some((at(claims.exp?)?, claims.iat.and_then(at)))
}

/// Parses the server's RFC 3339 expiry (nanosecond fractions are cut to microseconds).
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = match text.find('.') {
        Some(dot) => {
            let end = text[dot + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |i| dot + 1 + i);
            format!("{}{}", &text[..end.min(dot + 7)], &text[end..])
        }
        None => text.to_owned(),
    };
    text.parse::<crate::types::Timestamp>()
        .ok()
        .map(crate::types::Timestamp::to_system_time)
}

#[derive(Debug, Default)]
struct TokenState {
    access: Option<Token>,
    refresh: Option<Token>,
}

impl TokenState {
    fn store(&mut self, login: LoginResponse) -> Secret {
        let access = Token::new(login.access_token, login.expires_at.as_deref());
        let secret = access.secret.clone();
        self.access = Some(access);
        if let Some(refresh) = login.refresh_token {
            self.refresh = Some(Token::new(refresh, login.refresh_expires_at.as_deref()));
        }
        secret
    }
}

/// The client's credentials and cached tokens. Shared by all clones of a client; token
/// acquisition is serialized so concurrent requests log in once.
#[derive(Debug)]
pub(crate) struct TokenManager {
    source: AuthSource,
    state: Mutex<TokenState>,
}

impl TokenManager {
    pub(crate) fn new(source: AuthSource) -> TokenManager {
        TokenManager {
            source,
            state: Mutex::new(TokenState::default()),
        }
    }

    /// Whether a rejected token can be replaced by a new one.
    pub(crate) fn renewable(&self) -> bool {
        !matches!(
            self.source,
            AuthSource::Static(AuthProvider::JwtToken(_) | AuthProvider::None)
        )
    }

    /// The access token to send, obtaining or renewing it when needed.
    pub(crate) async fn bearer(&self, http: &Http<'_>) -> Result<Option<Secret>> {
        let mut state = self.state.lock().await;
        if let Some(t) = &state.access
            && (t.is_fresh(system_now()) || !self.renewable())
        {
            return Ok(Some(t.secret.clone()));
        }
        let provider = match &self.source {
            AuthSource::Static(p) => p.clone(),
            AuthSource::Dynamic(d) => d.get_auth().await?,
        };
        match provider {
            AuthProvider::None => Ok(None),
            AuthProvider::JwtToken(t) => {
                let token = Token::new(t, None);
                let secret = token.secret.clone();
                state.access = Some(token);
                Ok(Some(secret))
            }
            AuthProvider::BasicAuth(user, password) => {
                let refresh = state
                    .refresh
                    .as_ref()
                    .filter(|t| t.is_fresh(system_now()))
                    .map(|t| t.secret.clone());
                if let Some(refresh) = refresh {
                    match refresh_tokens(http, &refresh).await {
                        Ok(login) => return Ok(Some(state.store(login))),
                        // Refused (revoked user, rotated secret …): log in again below.
                        Err(Error::Auth { .. }) => state.refresh = None,
                        Err(e) => return Err(e),
                    }
                }
                let login = login(http, &user, &password).await?;
                Ok(Some(state.store(login)))
            }
        }
    }

    /// Forgets `used` after the server answered `TOKEN_EXPIRED` for it.
    pub(crate) async fn expired(&self, used: &Secret) {
        let mut state = self.state.lock().await;
        if state.access.as_ref().is_some_and(|t| &t.secret == used) {
            state.access = None;
        }
    }

    /// Forgets every cached token.
    pub(crate) async fn clear(&self) {
        *self.state.lock().await = TokenState::default();
    }
}

/// The pieces of a client that auth requests need.
pub(crate) struct Http<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) base: &'a str,
    /// The largest body accepted.
    pub(crate) max_body: u64,
}

/// `POST /v1/api/auth/login`.
pub(crate) async fn login(http: &Http<'_>, user: &str, password: &str) -> Result<LoginResponse> {
    // The server has no user without a name (protocol 2.1); say so instead of asking it.
    if user.is_empty() {
        return Err(Error::Auth {
            code: crate::error::ErrorCode::InvalidCredentials,
            message: "the user name is empty: nothing was sent".to_owned(),
        });
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        user: &'a str,
        password: &'a str,
    }
    let request = http
        .client
        .post(format!("{}/v1/api/auth/login", http.base))
        .json(&Body { user, password });
    auth_call(request, "login", http.max_body)
        .instrument(tracing::info_span!("kalam_client::login", user = %user))
        .await
}

/// `POST /v1/api/auth/refresh` with the refresh token as bearer.
pub(crate) async fn refresh_tokens(http: &Http<'_>, refresh: &Secret) -> Result<LoginResponse> {
    let request = http
        .client
        .post(format!("{}/v1/api/auth/refresh", http.base))
        .bearer_auth(refresh.expose());
    auth_call(request, "refresh", http.max_body)
        .instrument(tracing::info_span!("kalam_client::refresh"))
        .await
}

async fn auth_call(
    request: reqwest::RequestBuilder,
    what: &str,
    max_body: u64,
) -> Result<LoginResponse> {
    let response = request.send().await.map_err(|e| transport_error(e, what))?;
    let status = response.status().as_u16();
    let body = crate::client::read_body(response, max_body, what)
        .await
        .map_err(|e| transport_error(e, what))??;
    if !(200..300).contains(&status) {
        tracing::debug!(status, "{what} refused");
        return Err(match error_from_body(status, &body) {
            Error::Sql { code, message, .. } => Error::Auth { code, message },
            other => other,
        });
    }
    serde_json::from_slice(&body)
        .map_err(|e| Error::Protocol(format!("malformed {what} response: {e}")))
}

fn transport_error(e: reqwest::Error, what: &str) -> Error {
    Error::Http {
        status: None,
        message: format!("{what} request failed"),
        source: Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: u64, iat: u64) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.sig",
            enc(r#"{"typ":"JWT","alg":"HS256"}"#),
            enc(&format!(r#"{{"sub":"a","exp":{exp},"iat":{iat}}}"#))
        )
    }

    #[test]
    fn token_times_come_from_the_jwt() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let t = Token::new(jwt(now + 86_400, now), None);
        assert_eq!(t.margin, Duration::from_secs(30));
        assert!(t.is_fresh(SystemTime::now()));
        let short = Token::new(jwt(now + 2, now), None);
        assert_eq!(short.margin, Duration::from_millis(200));
        let stale = Token::new(jwt(now - 1, now - 3), None);
        assert!(!stale.is_fresh(SystemTime::now()));
        let opaque = Token::new(
            "not-a-jwt".into(),
            Some("2000-01-01T00:00:00.123456789+00:00"),
        );
        assert!(!opaque.is_fresh(SystemTime::now()));
        let unknown = Token::new("not-a-jwt".into(), None);
        assert!(unknown.is_fresh(SystemTime::now()));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let s = Secret("tok".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
        let src = AuthSource::Static(AuthProvider::jwt_token("abc.def.ghi"));
        assert!(!format!("{src:?}").contains("abc"));
    }
}
