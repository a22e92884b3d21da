#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod changes;
mod encode;
mod engine;
mod exec;
mod faults;
mod files;
mod http;
mod jwt;
mod net;
mod rate;
mod role;
mod sql;
mod store;
mod time;
mod topics;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use changes::{ChangeEvent, ChangeKind, ChangeStream};
pub use faults::{Faults, InjectedError};
pub use rate::RateLimits;
pub use role::Role;
use role::RoleSet;
pub use store::Row;
pub use store::value::Value;
pub use ws::WsSettings;

use engine::{Engine, Limits};
use store::{Store, User};

/// Errors starting or stopping an emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A schema directory could not be loaded.
    #[error("cannot load schemas from {dir}: {message}")]
    Schema {
        /// The directory.
        dir: PathBuf,
        /// The schema error, rendered.
        message: String,
    },
    /// A builder setting is invalid (for example a user id with path characters).
    #[error("invalid emulator configuration: {0}")]
    Config(String),
}

/// Configures and starts an [`Emulator`].
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), kalam_emulator::Error> {
/// use kalam_emulator::{Emulator, Role};
/// let emu = Emulator::builder()
///     .root_password("S3cret!!")
///     .user("alice", "AlicePass1!", Role::User)
///     .default_query_limit(10)
///     .start()
///     .await?;
/// assert!(emu.url().starts_with("http://127.0.0.1:"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    schemas_dir: Option<PathBuf>,
    root_password: Option<String>,
    default_admin: bool,
    users: Vec<(String, String, Role)>,
    listen: SocketAddr,
    needs_setup: bool,
    default_query_limit: usize,
    max_query_limit: usize,
    pk_resort: bool,
    jwt_expiry: Duration,
    jwt_leeway: Duration,
    max_body_bytes: usize,
    ws: WsSettings,
    topic_visibility: Duration,
    max_file_size: usize,
    max_files_per_request: usize,
    rate_limits: RateLimits,
    cross_partition_readers: Vec<Role>,
    #[cfg(feature = "tls")]
    tls: Option<TlsPem>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            schemas_dir: None,
            root_password: None,
            default_admin: true,
            users: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            needs_setup: false,
            default_query_limit: 50,
            max_query_limit: 1000,
            pk_resort: true,
            jwt_expiry: Duration::from_secs(24 * 3600),
            jwt_leeway: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
            ws: WsSettings::default(),
            topic_visibility: Duration::from_secs(60),
            max_file_size: 25 * 1024 * 1024,
            max_files_per_request: 20,
            rate_limits: RateLimits::default(),
            cross_partition_readers: vec![Role::System],
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// The certificate chain and private key of [`EmulatorBuilder::tls`] (PEM); `Debug` hides
/// the key.
#[cfg(feature = "tls")]
#[derive(Clone)]
struct TlsPem {
    chain: Vec<u8>,
    key: Vec<u8>,
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("chain_bytes", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Default root password (the conformance checker's default).
pub const DEFAULT_ROOT_PASSWORD: &str = "RootPass123!";
/// Default dba user created unless the builder names users itself.
pub const DEFAULT_ADMIN: (&str, &str) = ("admin", "AdminPass123!");

impl EmulatorBuilder {
    /// Applies every `*.sql` file of `dir` (sorted by name) at start, as root.
    pub fn schemas_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.schemas_dir = Some(dir.into());
        self
    }

    /// The `root` password (default `RootPass123!`).
    pub fn root_password(mut self, password: impl Into<String>) -> Self {
        self.root_password = Some(password.into());
        self
    }

    /// Adds a user. The first call also removes the default `admin` dba user.
    pub fn user(mut self, id: impl Into<String>, password: impl Into<String>, role: Role) -> Self {
        self.default_admin = false;
        self.users.push((id.into(), password.into(), role));
        self
    }

    /// The listen address (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Start as a fresh server: `root` has no password and `/v1/api/auth/setup` must run first.
    pub fn needs_setup(mut self, yes: bool) -> Self {
        self.needs_setup = yes;
        self
    }

    /// Implicit `LIMIT` of SELECTs without one (default 50).
    pub fn default_query_limit(mut self, n: usize) -> Self {
        self.default_query_limit = n;
        self
    }

    /// Cap on rows of any SELECT (default 1000).
    pub fn max_query_limit(mut self, n: usize) -> Self {
        self.max_query_limit = n;
        self
    }

    /// Whether SELECTs on user tables are re-sorted by primary key around LIMIT, as the 0.4.3
    /// server does (protocol 1.3 step 9). Default `true`.
    pub fn primary_key_resort(mut self, yes: bool) -> Self {
        self.pk_resort = yes;
        self
    }

    /// The roles whose queries read every user's rows of a USER table (default: `system`).
    ///
    /// KalamDB 0.4.3-rc.4 was seen returning other users' rows to an admin's SELECT on a
    /// USER table, and putting them in the initial data of its live subscription (whose
    /// change events still come from its own writes only). For a `dba` caller the
    /// conformance vectors show the opposite (its SELECT sees only its own partition), so
    /// by default only `system` (`root`) reads across partitions; pass
    /// `[Role::Dba, Role::System]` to give a dba the same view. Writes (the rows an UPDATE or
    /// DELETE matches) and STREAM tables stay in the caller's own partition for every role.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use kalam_emulator::{Emulator, Role};
    /// let emu = Emulator::builder().cross_partition_readers([Role::Dba, Role::System]).start().await?;
    /// # emu.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn cross_partition_readers(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.cross_partition_readers = roles.into_iter().collect();
        self
    }

    /// Lifetime of access tokens (default 24 h; refresh tokens live 7 times longer).
    pub fn jwt_expiry(mut self, d: Duration) -> Self {
        self.jwt_expiry = d;
        self
    }

    /// Clock leeway when checking token expiry (default 60 s).
    pub fn jwt_leeway(mut self, d: Duration) -> Self {
        self.jwt_leeway = d;
        self
    }

    /// Largest accepted request body (default 16 MiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// WebSocket settings: timeouts, subscription quotas, gzip frames, quirks (see
    /// [`WsSettings`]).
    pub fn websocket(mut self, settings: WsSettings) -> Self {
        self.ws = settings;
        self
    }

    /// How long a consumed-but-unacked topic range stays claimed by its consumer before the
    /// group's next fetch gets it again (`topics.visibility_timeout_secs`, default 60 s).
    pub fn topic_visibility_timeout(mut self, d: Duration) -> Self {
        self.topic_visibility = d;
        self
    }

    /// Largest accepted file part of a multipart upload (`files.max_size_bytes`, default
    /// 25 MiB); bigger parts are refused with `FILE_TOO_LARGE`.
    pub fn max_file_size(mut self, bytes: usize) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Most file parts in one multipart upload (`files.max_files_per_request`, default 20).
    pub fn max_files_per_request(mut self, n: usize) -> Self {
        self.max_files_per_request = n;
        self
    }

    /// Request-rate limits (see [`RateLimits`]). Default: none; the stock server's are
    /// [`RateLimits::server_defaults`].
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Serves HTTPS and WSS (rustls; feature `tls`) with this certificate chain and private
    /// key, both PEM
    /// (the leaf first, then its issuers; a PKCS#8, PKCS#1 or SEC1 key). The URLs become
    /// `https://` and `wss://`; connections that fail the TLS handshake are closed.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), kalam_emulator::Error> {
    /// let chain = std::fs::read("server.pem").unwrap();
    /// let key = std::fs::read("server.key").unwrap();
    /// let emu = kalam_emulator::Emulator::builder().tls(chain, key).start().await?;
    /// assert!(emu.url().starts_with("https://"));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some(TlsPem {
            chain: cert_chain_pem.into(),
            key: key_pem.into(),
        });
        self
    }

    /// Starts the emulator.
    pub async fn start(self) -> Result<Emulator, Error> {
        let store = Arc::new(Store::new());
        store.topics.set_visibility_timeout(self.topic_visibility);
        store.files.set_limits(files::FileLimits {
            max_size: self.max_file_size,
            max_files: self.max_files_per_request,
        });
        {
            let mut st = store.write();
            if let Some(dir) = &self.schemas_dir {
                let loaded = kalam_schema::load_dir(dir).map_err(|e| Error::Schema {
                    dir: dir.clone(),
                    message: e.to_string(),
                })?;
                st.catalog = loaded.catalog;
            }
            engine::system::add_extra_system_tables_state(&mut st);
            Store::sync_tables(&mut st);
            let root_pw = if self.needs_setup {
                None
            } else {
                Some(
                    self.root_password
                        .clone()
                        .unwrap_or_else(|| DEFAULT_ROOT_PASSWORD.to_owned()),
                )
            };
            st.users.insert(
                "root".into(),
                User::new("root", root_pw.as_deref(), Role::System),
            );
            if self.default_admin && !self.needs_setup {
                st.users.insert(
                    DEFAULT_ADMIN.0.into(),
                    User::new(DEFAULT_ADMIN.0, Some(DEFAULT_ADMIN.1), Role::Dba),
                );
            }
            for (id, pw, role) in &self.users {
                if id.is_empty() || id.contains("..") || id.contains('/') || id.contains('\\') {
                    return Err(Error::Config(format!("invalid user id {id:?}")));
                }
                st.users.insert(id.clone(), User::new(id, Some(pw), *role));
            }
        }
        let engine = Arc::new(Engine::new(
            store.clone(),
            Limits {
                default_limit: self.default_query_limit,
                max_limit: self.max_query_limit,
                pk_resort: self.pk_resort,
                cross_partition_readers: RoleSet::of(&self.cross_partition_readers),
            },
        ));
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(pem) => Some(net::tls_acceptor(&pem.chain, &pem.key).map_err(Error::Config)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls: Option<net::TlsAcceptor> = None;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let net = net::NetShared::new();
        let listener = net::EmuListener::bind(self.listen, net.clone(), tls)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.addr();
        let secret: [u8; 32] = rand::random();
        let live = ws::Hub::start(&store, self.ws.clone());
        let app = Arc::new(http::AppState {
            live: live.clone(),
            engine: engine.clone(),
            secret: secret.to_vec(),
            settings: http::HttpSettings {
                jwt_expiry: self.jwt_expiry,
                jwt_leeway: self.jwt_leeway,
                max_body_bytes: self.max_body_bytes,
            },
            started: Instant::now(),
            started_secs: time::now_secs(),
            port: addr.port(),
            limits: rate::Limiters::new(self.rate_limits),
        });
        let fault_state = Arc::new(faults::FaultState::default());
        let router = http::router(app, fault_state.clone());
        let service = router.into_make_service_with_connect_info::<net::ConnMeta>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Ok(Emulator {
            addr,
            scheme,
            root_password: self
                .root_password
                .unwrap_or_else(|| DEFAULT_ROOT_PASSWORD.to_owned()),
            engine,
            live,
            faults: Faults {
                state: fault_state,
                net,
            },
            task: Some(task),
        })
    }
}

/// A running KalamDB-compatible server on a loopback port. Dropping it shuts it down.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), kalam_emulator::Error> {
/// let emu = kalam_emulator::Emulator::start().await?;
/// assert!(emu.ws_url().ends_with("/v1/ws"));
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    /// `http`, or `https` when serving TLS.
    scheme: &'static str,
    root_password: String,
    engine: Arc<Engine>,
    live: Arc<ws::Hub>,
    faults: Faults,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// A builder with the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the defaults (root `RootPass123!`, dba `admin`/`AdminPass123!`).
    pub async fn start() -> Result<Emulator, Error> {
        EmulatorBuilder::default().start().await
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `ws://127.0.0.1:PORT/v1/ws` (`wss://` when serving TLS).
    pub fn ws_url(&self) -> String {
        let ws = if self.scheme == "https" { "wss" } else { "ws" };
        format!("{ws}://{}/v1/ws", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `root` password.
    pub fn root_password(&self) -> &str {
        &self.root_password
    }

    /// The fault controls.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// How many live change notifications were dropped because a subscriber's socket had
    /// [`WsSettings::notification_queue`] of them waiting already (always 0 with the default,
    /// unbounded queue). The server only logs such drops; tests can count them here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emulator = kalam_emulator::Emulator::start().await?;
    /// assert_eq!(emulator.dropped_notifications(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn dropped_notifications(&self) -> u64 {
        self.live.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every committed row change from now on, in commit order.
    pub fn changes(&self) -> ChangeStream {
        ChangeStream {
            rx: self.engine.store.subscribe(),
        }
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(mut self) {
        self.live.shutdown().await;
        self.stop();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    fn stop(&mut self) {
        self.faults.net.close();
        self.faults.net.kill_all();
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
