//! [`KalamClient`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::auth::{self, ArcDynAuthProvider, AuthProvider, AuthSource, Http, Secret, TokenManager};
use crate::error::{Error, ErrorCode, Result};
use crate::wire::{HealthCheckResponse, LoginResponse, error_from_body};

/// The server's default `[limits] max_query_limit` (protocol 1.3 step 9).
pub(crate) const DEFAULT_MAX_QUERY_LIMIT: u64 = 1000;

/// Default [`KalamClientBuilder::max_response_size`]: 64 MiB.
pub(crate) const DEFAULT_MAX_RESPONSE_SIZE: u64 = 64 * 1024 * 1024;

/// Reads a whole response body, refusing more than `limit` bytes (announced or received).
/// The outer error is the transport's; the inner one is [`Error::TooLarge`].
pub(crate) async fn read_body(
    response: reqwest::Response,
    limit: u64,
    what: &str,
) -> std::result::Result<Result<Bytes>, reqwest::Error> {
    let too_large = || {
        Err(Error::TooLarge {
            what: what.to_owned(),
            limit,
        })
    };
    if response.content_length().is_some_and(|n| n > limit) {
        return Ok(too_large());
    }
    // A body in one chunk (the common case) is returned as it is, without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = bytes::BytesMut::new();
    let mut len = 0u64;
    let mut body = crate::transport::Body::from(response);
    while let Some(chunk) = body.chunk().await? {
        len = len.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if len > limit {
            return Ok(too_large());
        }
        match &first {
            None => first = Some(chunk),
            Some(head) => {
                if rest.is_empty() {
                    rest.reserve(usize::try_from(len).unwrap_or(0));
                    rest.extend_from_slice(head);
                }
                rest.extend_from_slice(&chunk);
            }
        }
    }
    Ok(Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        rest.freeze()
    }))
}

/// HTTP protocol version for the SQL and auth endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1 only (the default, as in the official SDK).
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge (`h2c` on plain `http://`).
    Http2,
    /// Let the connection negotiate (ALPN over TLS; HTTP/1.1 on plain `http://`).
    Auto,
}

/// A KalamDB client: SQL over HTTP with typed rows.
///
/// Cheap to clone (one `Arc`); all clones share one connection pool and one token cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::{AuthProvider, KalamClient};
///
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// let n: i64 = kalam_client::query_as("SELECT 40 + $1").bind(2).fetch_scalar(&client).await?;
/// assert_eq!(n, 42);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KalamClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// HTTP/1.1 without a request timeout, for WebSocket upgrades (a page opens its
    /// WebSocket itself).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) ws_http: reqwest::Client,
    /// The server's node URLs; `Display` shows the one in use.
    pub(crate) base: Nodes,
    pub(crate) auth: TokenManager,
    pub(crate) namespace: Option<String>,
    /// Schema namespaces run under another name on the server.
    pub(crate) namespaces: crate::namespaces::NamespaceMap,
    pub(crate) max_retries: u32,
    /// The server's row cap (`[limits] max_query_limit`).
    pub(crate) max_query_limit: u64,
    /// The largest response body or WebSocket message accepted, in bytes.
    pub(crate) max_response_size: u64,
    /// Ping period of the live socket; a socket silent for a whole period after a ping is lost.
    pub(crate) live_keepalive: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    #[cfg(feature = "healthcheck")]
    pub(crate) health: crate::health::HealthCache,
}

/// The base URLs of the server's nodes (one unless the `cluster` feature configured several)
/// and the one in use. The node in use stays the same until a request to it fails to
/// connect or gets 502/503/504; then the next node is tried (and kept).
#[derive(Debug)]
pub(crate) struct Nodes {
    urls: Box<[String]>,
    current: AtomicUsize,
}

impl Nodes {
    fn new(urls: Vec<String>) -> Nodes {
        Nodes {
            urls: urls.into_boxed_slice(),
            current: AtomicUsize::new(0),
        }
    }

    fn index(&self) -> usize {
        self.current.load(Ordering::Acquire) % self.urls.len().max(1)
    }

    fn url(&self, index: usize) -> &str {
        self.urls.get(index).map_or("", String::as_str)
    }

    /// The base URL in use.
    pub(crate) fn current(&self) -> &str {
        self.url(self.index())
    }

    /// Every configured base URL, in order.
    pub(crate) fn all(&self) -> &[String] {
        &self.urls
    }

    /// Moves on from `failed` when it is still the node in use; true when it moved.
    fn advance(&self, failed: usize) -> bool {
        let n = self.urls.len();
        n > 1
            && self
                .current
                .compare_exchange(
                    failed,
                    (failed + 1) % n,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }
}

impl fmt::Display for Nodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.current())
    }
}

/// A request that reached a node (or failed on the last node tried).
pub(crate) struct Sent {
    /// The bearer token the request carried.
    pub(crate) token: Option<Secret>,
    /// The answer, or the transport error of the last attempt.
    pub(crate) response: std::result::Result<reqwest::Response, reqwest::Error>,
}

/// A node that cannot be reached (as opposed to one that answered with an error).
fn unreachable(e: &reqwest::Error) -> bool {
    crate::transport::is_connect(e)
}

fn overloaded(status: u16) -> bool {
    matches!(status, 502..=504)
}

impl Inner {
    pub(crate) fn http(&self) -> Http<'_> {
        Http {
            client: &self.http,
            base: self.base.current(),
            max_body: self.max_response_size,
        }
    }

    /// Switches away from node `failed` (when it is still in use). Tokens are forgotten on a
    /// switch: another node may not accept them (each node signs its own unless the cluster
    /// shares `jwt_secret`), and renewing costs one login.
    async fn fail_over(&self, failed: usize) {
        if self.base.advance(failed) {
            tracing::warn!(
                from = %self.base.url(failed),
                to = %self.base.current(),
                "node unreachable, failing over"
            );
            self.auth.clear().await;
        }
    }

    /// Sends a request built by `build` (given the node's base URL) to the node in use,
    /// adding the bearer token when `authed`. With several nodes, a node that refuses the
    /// connection or answers 502/503/504 is left for the next one (each node is tried once
    /// per call); the node that answers stays in use. Only credential failures are `Err`.
    pub(crate) async fn send(
        &self,
        authed: bool,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Sent> {
        let nodes = self.base.all().len();
        let mut tried = 1;
        loop {
            let index = self.base.index();
            let base = self.base.url(index);
            let more = tried < nodes;
            let token = if authed {
                let http = Http {
                    client: &self.http,
                    base,
                    max_body: self.max_response_size,
                };
                match self.auth.bearer(&http).await {
                    Ok(token) => token,
                    Err(Error::Http {
                        source: Some(e), ..
                    }) if more && unreachable(&e) => {
                        self.fail_over(index).await;
                        tried += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            let mut request = build(base);
            // `fetch` has no client-wide timeout: each request carries it.
            #[cfg(target_arch = "wasm32")]
            {
                request = request.timeout(self.request_timeout);
            }
            if let Some(t) = &token {
                request = request.bearer_auth(t.expose());
            }
            let response = request.send().await;
            let failed = match &response {
                Err(e) => unreachable(e),
                Ok(r) => overloaded(r.status().as_u16()),
            };
            if failed && more {
                self.fail_over(index).await;
                tried += 1;
                continue;
            }
            return Ok(Sent { token, response });
        }
    }

    /// Sends a request (see [`Inner::send`]) and returns the answer when it is 2xx. Other
    /// answers become errors from their body; `TOKEN_EXPIRED` renews the token and resends
    /// once. `what` names the call in transport errors.
    pub(crate) async fn call(
        &self,
        authed: bool,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut renewed = false;
        loop {
            let sent = self.send(authed, &build).await?;
            let response = sent.response.map_err(|e| self.transport_error(what, e))?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(response);
            }
            let body = match read_body(response, self.max_response_size, what).await {
                Ok(Ok(body)) => body,
                Ok(Err(too_large)) => return Err(too_large),
                Err(_) => Bytes::new(),
            };
            let err = error_from_body(status, &body);
            if self
                .renew_once(&err, sent.token.as_ref(), &mut renewed)
                .await
            {
                continue;
            }
            return Err(err);
        }
    }

    /// Whether a failed request should be resent: `err` is `TOKEN_EXPIRED` for the token it
    /// carried (`used`), the credentials can be renewed, and this call has not renewed yet.
    /// Forgets the expired token first, so that the resend logs in again.
    pub(crate) async fn renew_once(
        &self,
        err: &Error,
        used: Option<&Secret>,
        renewed: &mut bool,
    ) -> bool {
        let expired = matches!(
            err,
            Error::Auth {
                code: ErrorCode::TokenExpired,
                ..
            }
        );
        let Some(used) = used else { return false };
        if !expired || *renewed || !self.auth.renewable() {
            return false;
        }
        *renewed = true;
        tracing::debug!("access token expired, renewing");
        self.auth.expired(used).await;
        true
    }

    /// [`Inner::call`], then the whole body.
    pub(crate) async fn call_bytes(
        &self,
        authed: bool,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Bytes> {
        let response = self.call(authed, what, build).await?;
        read_body(response, self.max_response_size, what)
            .await
            .map_err(|e| self.transport_error(what, e))?
    }

    /// [`Inner::call_bytes`], then JSON.
    pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        authed: bool,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<T> {
        let body = self.call_bytes(authed, what, build).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol(format!("malformed {what} response: {e}")))
    }

    pub(crate) fn transport_error(&self, what: &str, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            let after = if crate::transport::is_connect(&e) {
                self.connect_timeout
            } else {
                self.request_timeout
            };
            return Error::Timeout {
                operation: what.to_owned(),
                after,
            };
        }
        Error::Http {
            status: None,
            message: format!("{what} failed ({})", self.base),
            source: Some(e),
        }
    }

    /// The base URL for a new WebSocket. With several nodes, the node in use is probed
    /// (`GET /health`, any answer counts) and skipped when it does not accept connections.
    pub(crate) async fn live_base(&self) -> String {
        let nodes = self.base.all().len();
        for _ in 1..nodes {
            let index = self.base.index();
            let probe = self
                .http
                .get(format!("{}/health", self.base.url(index)))
                .timeout(self.connect_timeout)
                .send()
                .await;
            match probe {
                Err(e) if unreachable(&e) || e.is_timeout() => self.fail_over(index).await,
                _ => break,
            }
        }
        self.base.current().to_owned()
    }
}

const _: () = {
    const fn assert_impls<T: Send + Sync + Clone + 'static>() {}
    assert_impls::<KalamClient>();
};

impl fmt::Debug for KalamClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KalamClient")
            .field("base_url", &self.inner.base)
            .field("auth", &self.inner.auth)
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

impl KalamClient {
    /// Starts configuring a client.
    pub fn builder() -> KalamClientBuilder {
        KalamClientBuilder::default()
    }

    /// The base URL of the node in use (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        self.inner.base.current()
    }

    /// The server's row cap this client assumes (see
    /// [`KalamClientBuilder::max_query_limit`]).
    pub fn max_query_limit(&self) -> u64 {
        self.inner.max_query_limit
    }

    /// The largest response accepted, in bytes (see
    /// [`KalamClientBuilder::max_response_size`]).
    pub fn max_response_size(&self) -> u64 {
        self.inner.max_response_size
    }

    /// The namespace used for unqualified table names, if one was configured.
    pub fn default_namespace(&self) -> Option<&str> {
        self.inner.namespace.as_deref()
    }

    /// Logs in with a user and password and returns the server's answer (tokens included).
    /// This does not change the client's own credentials.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient};
    /// let anonymous = KalamClient::builder().base_url(emulator.url()).build()?;
    /// let login = anonymous.login("admin", "AdminPass123!").await?;
    /// assert_eq!(login.user.role, "dba");
    /// // The tokens can be handed to another client…
    /// let with_token = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::jwt_token(login.access_token.clone()))
    ///     .build()?;
    /// assert_eq!(kalam_client::query_as::<String>("SELECT CURRENT_USER()").fetch_scalar(&with_token).await?, "admin");
    /// // …and renewed with the refresh token.
    /// let renewed = anonymous.refresh_access_token(login.refresh_token.as_deref().unwrap()).await?;
    /// assert_eq!(renewed.user.id, "admin");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn login(&self, user: &str, password: &str) -> Result<LoginResponse> {
        auth::login(&self.inner.http(), user, password).await
    }

    /// Exchanges a refresh token for a new token pair.
    pub async fn refresh_access_token(&self, refresh_token: &str) -> Result<LoginResponse> {
        auth::refresh_tokens(
            &self.inner.http(),
            &auth::Secret::from(refresh_token.to_owned()),
        )
        .await
    }

    /// `GET /v1/api/healthcheck` (answered to localhost clients only).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// let client = kalam_client::KalamClient::builder().base_url(emulator.url()).build()?;
    /// let health = client.health_check().await?;
    /// assert_eq!(health.status, "healthy");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health_check(&self) -> Result<HealthCheckResponse> {
        self.inner
            .call_json(false, "health check", |base| {
                self.inner.http.get(format!("{base}/v1/api/healthcheck"))
            })
            .await
    }

    /// Forgets the cached tokens; the next request authenticates again. HTTP connections are
    /// pooled and need no closing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// kalam_client::query("SELECT 1").execute(&client).await?;
    /// client.disconnect().await;
    /// kalam_client::query("SELECT 1").execute(&client).await?; // logs in again
    /// # Ok(())
    /// # }
    /// ```
    pub async fn disconnect(&self) {
        self.inner.auth.clear().await;
    }
}

/// Configures a [`KalamClient`]. Setters never fail; [`KalamClientBuilder::build`] reports
/// the first problem.
///
/// ```
/// use std::time::Duration;
/// use kalam_client::{AuthProvider, HttpVersion, KalamClient};
/// let client = KalamClient::builder()
///     .base_url("http://127.0.0.1:2900")
///     .auth(AuthProvider::jwt_token("eyJ…"))
///     .default_namespace("app")
///     .connect_timeout(Duration::from_secs(2))
///     .timeout(Duration::from_secs(10))
///     .http_version(HttpVersion::Http1)
///     .user_agent("my-service/1.0")
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:2900");
/// assert!(KalamClient::builder().base_url("not a url").build().is_err());
/// ```
#[derive(Debug)]
#[must_use]
pub struct KalamClientBuilder {
    pub(crate) base_urls: Vec<String>,
    auth: AuthSource,
    namespace: Option<String>,
    namespaces: crate::namespaces::NamespaceMap,
    connect_timeout: Duration,
    timeout: Duration,
    http_version: HttpVersion,
    user_agent: String,
    max_retries: u32,
    max_query_limit: u64,
    max_response_size: u64,
    live_keepalive: Duration,
    /// Extra trusted root certificates (PEM).
    #[cfg(feature = "rustls")]
    root_certificates: Vec<Vec<u8>>,
    #[cfg(feature = "healthcheck")]
    pub(crate) health_cache_ttl: Duration,
}

impl Default for KalamClientBuilder {
    fn default() -> Self {
        KalamClientBuilder {
            base_urls: Vec::new(),
            auth: AuthSource::Static(AuthProvider::None),
            namespace: None,
            namespaces: crate::namespaces::NamespaceMap::default(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            http_version: HttpVersion::Http1,
            user_agent: concat!("kalam-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_retries: 3,
            max_query_limit: DEFAULT_MAX_QUERY_LIMIT,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            live_keepalive: crate::live::DEFAULT_KEEPALIVE,
            #[cfg(feature = "rustls")]
            root_certificates: Vec::new(),
            #[cfg(feature = "healthcheck")]
            health_cache_ttl: crate::health::DEFAULT_HEALTH_CACHE_TTL,
        }
    }
}

impl KalamClientBuilder {
    /// The server URL, e.g. `http://localhost:2900` (required, unless
    /// [`base_urls`](KalamClientBuilder::base_urls) names several nodes).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_urls = vec![url.into()];
        self
    }

    /// Static credentials.
    pub fn auth(mut self, auth: AuthProvider) -> Self {
        self.auth = AuthSource::Static(auth);
        self
    }

    /// Shortcut for `auth(AuthProvider::jwt_token(token))`.
    pub fn jwt_token(self, token: impl Into<String>) -> Self {
        self.auth(AuthProvider::JwtToken(token.into()))
    }

    /// Credentials supplied on demand by a callback.
    pub fn auth_provider(mut self, provider: ArcDynAuthProvider) -> Self {
        self.auth = AuthSource::Dynamic(provider);
        self
    }

    /// Namespace for unqualified table names (sent as `namespace_id`).
    pub fn default_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Runs what was checked against namespace `schema` in namespace `server` on this
    /// server, for multi-tenant deployments (one schema, a namespace per tenant) and test
    /// suites (a fresh namespace per test): the statements of the compile-time checked macros
    /// (`query!`, `query_as!`, `query_scalar!`, `query_file!`, `execute_as!`, `live!`) name
    /// `server` wherever their SQL names `schema` as a namespace — in `schema.table` and
    /// `schema.table.column`, found by the checker, so string literals, aliases and columns
    /// that happen to be spelled the same stay as they are. The default namespace and
    /// [`Query::namespace`](crate::Query::namespace) (sent as `namespace_id`), topic names of
    /// consumers and the table of a download are mapped too. Runtime SQL text
    /// (`kalam_client::query("…")`) is sent as written: name the namespace you mean there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, KalamClient, query};
    /// let tenant = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .map_namespace("support", "support_acme")
    ///     .build()?;
    /// for ddl in [
    ///     "CREATE NAMESPACE support_acme",
    ///     "CREATE TABLE support_acme.rooms (name TEXT PRIMARY KEY, title TEXT NOT NULL) WITH (TYPE = 'SHARED')",
    ///     "INSERT INTO support_acme.rooms (name, title) VALUES ('lobby', 'Lobby')",
    /// ] {
    ///     kalam_client::query(ddl).execute(&tenant).await?;
    /// }
    /// // Checked against `support.rooms` in schemas/, run against `support_acme.rooms`.
    /// let room = query!("SELECT title FROM support.rooms WHERE name = $1", "lobby")
    ///     .fetch_one(&tenant)
    ///     .await?;
    /// assert_eq!(room.title, "Lobby");
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_namespace(mut self, schema: impl Into<String>, server: impl Into<String>) -> Self {
        self.namespaces.insert(schema.into(), server.into());
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request, answer included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// HTTP version (default HTTP/1.1).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.http_version = version;
        self
    }

    /// The `User-Agent` header (default `kalam-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How many times a read (SELECT, SHOW, DESCRIBE, EXPLAIN) is retried after a
    /// connection error (default 3). Writes are never retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The most rows the server returns for one query: its `[limits] max_query_limit`
    /// (default 1000, the server's default). Set it to the server's value. The server cuts
    /// every result at this many rows without saying so, so `fetch_all` and `fetch` ask for
    /// exactly this many, page through larger results by primary key, and return
    /// [`Error::Truncated`] when they cannot; a value above the server's would let a cut
    /// result pass as complete.
    ///
    /// ```
    /// let client = kalam_client::KalamClient::builder()
    ///     .base_url("http://127.0.0.1:2900")
    ///     .max_query_limit(500)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.max_query_limit(), 500);
    /// assert!(kalam_client::KalamClient::builder().base_url("http://x").max_query_limit(0).build().is_err());
    /// ```
    pub fn max_query_limit(mut self, rows: u64) -> Self {
        self.max_query_limit = rows;
        self
    }

    /// The largest answer the client accepts, in bytes (default 64 MiB): an HTTP response
    /// body, a WebSocket message, and a gzip-compressed WebSocket frame once inflated. A
    /// larger one is refused with [`Error::TooLarge`] instead of being read into memory (an
    /// announced `Content-Length` is refused before the body is read). Live queries treat an
    /// oversized frame as a lost connection: they reconnect and resume.
    ///
    /// ```
    /// let client = kalam_client::KalamClient::builder()
    ///     .base_url("http://127.0.0.1:2900")
    ///     .max_response_size(16 * 1024 * 1024)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.max_response_size(), 16 * 1024 * 1024);
    /// assert!(kalam_client::KalamClient::builder().base_url("http://x").max_response_size(0).build().is_err());
    /// ```
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Trusts this root certificate (PEM) for `https://` and `wss://`, besides the system's:
    /// for a server whose certificate comes from a private CA. Host names are checked as
    /// usual; a certificate that is not trusted, or not issued for the host of the base URL,
    /// fails the connection with [`Error::Http`] (its source names the TLS failure). An
    /// invalid PEM is reported by `build()`.
    ///
    /// ```
    /// let client = kalam_client::KalamClient::builder()
    ///     .base_url("https://db.internal:2900")
    ///     .add_root_certificate("not a certificate")
    ///     .build();
    /// assert!(matches!(client, Err(kalam_client::Error::Config(_))));
    /// ```
    #[cfg(feature = "rustls")]
    pub fn add_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// How often the live-query socket pings the server (default 8 s; the server drops
    /// sockets silent for 10 s). When nothing at all, not even the Pong, arrives within one
    /// period after a ping, the socket is taken as half-open (the server or the network path
    /// vanished without closing it): live queries report
    /// [`Disconnected`](crate::live::LiveEvent::Disconnected), reconnect and resume, so a
    /// dead socket is noticed within two periods.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = kalam_client::KalamClient::builder()
    ///     .base_url("http://127.0.0.1:2900")
    ///     .live_keepalive(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// # let _ = client;
    /// assert!(kalam_client::KalamClient::builder().base_url("http://x").live_keepalive(Duration::ZERO).build().is_err());
    /// ```
    pub fn live_keepalive(mut self, period: Duration) -> Self {
        self.live_keepalive = period;
        self
    }

    /// Validates the configuration and builds the client.
    pub fn build(self) -> Result<KalamClient> {
        if self.base_urls.is_empty() {
            return Err(Error::Config("base_url is required".to_owned()));
        }
        let nodes = self
            .base_urls
            .iter()
            .map(|raw| validate_base_url(raw))
            .collect::<Result<Vec<_>>>()?;
        if self.live_keepalive.is_zero() {
            return Err(Error::Config("live_keepalive must not be zero".to_owned()));
        }
        if self.max_response_size == 0 {
            return Err(Error::Config(
                "max_response_size must be at least 1 byte".to_owned(),
            ));
        }
        if self.max_query_limit == 0 {
            return Err(Error::Config(
                "max_query_limit must be at least 1".to_owned(),
            ));
        }
        if self.namespace.as_ref().is_some_and(String::is_empty) {
            return Err(Error::Config("default_namespace is empty".to_owned()));
        }
        self.namespaces.validate()?;
        #[cfg(all(feature = "rustls", not(target_arch = "wasm32")))]
        let roots = self
            .root_certificates
            .iter()
            .map(|pem| {
                // reqwest checks the certificate only when a connection uses it.
                if !pem
                    .windows(b"-----BEGIN CERTIFICATE-----".len())
                    .any(|w| w == b"-----BEGIN CERTIFICATE-----")
                {
                    return Err(Error::Config(
                        "invalid root certificate: no PEM `CERTIFICATE` block".to_owned(),
                    ));
                }
                reqwest::Certificate::from_pem(pem)
                    .map_err(|e| Error::Config(format!("invalid root certificate: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let common = || {
            let builder = reqwest::Client::builder().user_agent(self.user_agent.clone());
            // In the browser, `fetch` owns connections, TLS and redirects.
            #[cfg(not(target_arch = "wasm32"))]
            let builder = builder
                .connect_timeout(self.connect_timeout)
                // Redirects would turn a POST into a GET and may drop the bearer.
                .redirect(reqwest::redirect::Policy::none());
            #[cfg(all(feature = "rustls", not(target_arch = "wasm32")))]
            let builder = roots
                .iter()
                .fold(builder, |b, cert| b.add_root_certificate(cert.clone()));
            builder
        };
        #[cfg(not(target_arch = "wasm32"))]
        let http = {
            let http = common().timeout(self.timeout);
            match self.http_version {
                HttpVersion::Http1 => http.http1_only(),
                HttpVersion::Http2 => http.http2_prior_knowledge(),
                HttpVersion::Auto => http,
            }
        };
        #[cfg(target_arch = "wasm32")]
        let http = common();
        let built = |b: reqwest::ClientBuilder| {
            b.build().map_err(|e| Error::Http {
                status: None,
                message: "cannot build the HTTP client".to_owned(),
                source: Some(e),
            })
        };
        let http = built(http)?;
        // Upgrades need HTTP/1.1, and an upgraded socket lives longer than any request.
        #[cfg(not(target_arch = "wasm32"))]
        let ws_http = built(common().http1_only())?;
        Ok(KalamClient {
            inner: Arc::new(Inner {
                http,
                #[cfg(not(target_arch = "wasm32"))]
                ws_http,
                base: Nodes::new(nodes),
                auth: TokenManager::new(self.auth),
                namespace: self.namespace,
                namespaces: self.namespaces,
                max_retries: self.max_retries,
                max_query_limit: self.max_query_limit,
                max_response_size: self.max_response_size,
                live_keepalive: self.live_keepalive,
                request_timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                #[cfg(feature = "healthcheck")]
                health: crate::health::HealthCache::new(self.health_cache_ttl),
            }),
        })
    }
}

/// Checks one base URL and returns it without a trailing `/`.
fn validate_base_url(raw: &str) -> Result<String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("invalid base_url `{raw}`: {e}")))?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "rustls") => {}
        "https" => {
            return Err(Error::Config(
                "https URLs need the `rustls` feature".to_owned(),
            ));
        }
        other => {
            return Err(Error::Config(format!(
                "unsupported URL scheme `{other}` (use http or https)"
            )));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "base_url `{raw}` must not have a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_validates_and_normalizes() {
        let c = KalamClient::builder()
            .base_url("http://localhost:2900/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://localhost:2900");
        for bad in ["", "localhost:2900", "ftp://x", "http://x/?a=1"] {
            assert!(
                matches!(
                    KalamClient::builder().base_url(bad).build(),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
        assert!(KalamClient::builder().build().is_err());
    }

    #[test]
    fn debug_hides_credentials() {
        let c = KalamClient::builder()
            .base_url("http://localhost:2900")
            .auth(AuthProvider::basic_auth("u", "hunter2"))
            .build()
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        let b = KalamClient::builder().jwt_token("tok.en.x");
        assert!(!format!("{b:?}").contains("tok.en"));
    }
}
