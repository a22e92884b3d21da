//! Shared test harness for every server-backed test in the workspace.
//!
//! By default each [`TestServer`] is a fresh in-process `kalam-emulator` on `127.0.0.1:0`.
//! When `KALAMDB_SERVER_URL` is set, the same tests run against that real KalamDB instead,
//! authenticating with `KALAMDB_USER`/`KALAMDB_PASSWORD` (a dba user) or, failing that, as
//! `root` with `KALAMDB_ROOT_PASSWORD`. Every test works in its own freshly created namespace
//! and with freshly created users, so runs never collide, even on a shared server.
//!
//! `NO_SERVER=true` makes [`TestServer::start`] return `None`: server-backed tests then skip
//! themselves, as upstream's SDK tests do, and only the offline tests run.
//!
//! Schema files are applied under a fresh namespace each time ([`TestServer::fresh_schema`]):
//! `schemas/support.sql` becomes namespace `support_<unique>`, and a client built with
//! `map_namespace("support", &ns)` runs the macros' queries (checked against `support`)
//! there. Tests that need what only the emulator has (fault controls, a restart, builder
//! settings, its change feed) are named `emulator_…` and skip themselves against an external
//! server ([`emulator_or_skip!`], [`emulator_only!`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use kalam_emulator::Emulator;
use serde_json::{Value, json};

/// Where a test's server lives.
enum Backend {
    Emulator(Box<Emulator>),
    External,
}

/// A server for one test: an emulator, or the real KalamDB named by `KALAMDB_SERVER_URL`.
pub struct TestServer {
    backend: Backend,
    url: String,
    admin_user: String,
    admin_password: String,
    /// The admin's access token, once logged in (a real server limits logins per second).
    admin_token: std::sync::Mutex<Option<String>>,
    http: reqwest::Client,
}

/// A user created for a test.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// User id.
    pub id: String,
    /// Password.
    pub password: String,
    /// Role (`user`, `service`, `dba`).
    pub role: String,
}

/// True when `NO_SERVER=true`: only offline tests should run.
pub fn no_server() -> bool {
    std::env::var("NO_SERVER").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The workspace's `schemas/` directory (the example namespaces).
pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .join("schemas")
}

/// A short unique suffix for names: process id, a counter and a random part.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let r: u32 = rand::random();
    format!("{}_{n}_{r:08x}", std::process::id())
}

/// True when `KALAMDB_SERVER_URL` names an external server for the server-backed tests.
pub fn external_server() -> bool {
    std::env::var_os("KALAMDB_SERVER_URL").is_some_and(|v| !v.is_empty())
}

/// Skips the current test (returns early) when no server is available.
#[macro_export]
macro_rules! server_or_skip {
    () => {
        match $crate::TestServer::start().await {
            Some(server) => server,
            None => {
                eprintln!("NO_SERVER=true: skipping server-backed test");
                return;
            }
        }
    };
}

/// A fresh in-process emulator as a [`TestServer`], for tests that need its fault controls or
/// internals; skips the current test (returns early) when the suite runs against an external
/// server or without a server. Such tests are named `emulator_…`.
#[macro_export]
macro_rules! emulator_or_skip {
    () => {{
        $crate::emulator_only!();
        match $crate::TestServer::start().await {
            Some(server) => server,
            None => return,
        }
    }};
}

/// Skips the current test (returns early) when the suite runs against an external server or
/// without a server: for tests that start their own `Emulator` with particular settings.
/// Such tests are named `emulator_…`.
#[macro_export]
macro_rules! emulator_only {
    () => {
        if $crate::external_server() || $crate::no_server() {
            eprintln!("emulator-only test: skipped against an external server or without one");
            return;
        }
    };
}

impl TestServer {
    /// A fresh emulator, or the external server when `KALAMDB_SERVER_URL` is set.
    /// `None` when `NO_SERVER=true`.
    pub async fn start() -> Option<TestServer> {
        if no_server() {
            return None;
        }
        let http = reqwest::Client::builder()
            .build()
            .expect("reqwest client builds");
        if let Ok(url) = std::env::var("KALAMDB_SERVER_URL") {
            let (admin_user, admin_password) = match (
                std::env::var("KALAMDB_USER"),
                std::env::var("KALAMDB_PASSWORD"),
            ) {
                (Ok(u), Ok(p)) => (u, p),
                _ => (
                    "root".to_owned(),
                    std::env::var("KALAMDB_ROOT_PASSWORD")
                        .expect("set KALAMDB_USER/KALAMDB_PASSWORD or KALAMDB_ROOT_PASSWORD"),
                ),
            };
            return Some(TestServer {
                backend: Backend::External,
                url: url.trim_end_matches('/').to_owned(),
                admin_user,
                admin_password,
                admin_token: std::sync::Mutex::new(None),
                http,
            });
        }
        let emulator = Emulator::start().await.expect("emulator starts");
        Some(TestServer {
            url: emulator.url().to_owned(),
            backend: Backend::Emulator(Box::new(emulator)),
            admin_user: "admin".to_owned(),
            admin_password: "AdminPass123!".to_owned(),
            admin_token: std::sync::Mutex::new(None),
            http,
        })
    }

    /// The HTTP base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The WebSocket URL (`ws://host:port/v1/ws`).
    pub fn ws_url(&self) -> String {
        let rest = self
            .url
            .strip_prefix("http://")
            .map(|r| format!("ws://{r}"))
            .or_else(|| {
                self.url
                    .strip_prefix("https://")
                    .map(|r| format!("wss://{r}"))
            })
            .unwrap_or_else(|| self.url.clone());
        let host_end = rest
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| rest[start..].find('/').map(|j| start + j))
            .unwrap_or(rest.len());
        format!("{}/v1/ws", &rest[..host_end])
    }

    /// The emulator, when this server is one.
    pub fn emulator(&self) -> Option<&Emulator> {
        match &self.backend {
            Backend::Emulator(e) => Some(e),
            Backend::External => None,
        }
    }

    /// True when running against an external (real) server.
    pub fn is_external(&self) -> bool {
        matches!(self.backend, Backend::External)
    }

    /// The `root` password: the emulator's, or `KALAMDB_ROOT_PASSWORD` for an external
    /// server (`None` when it is not set).
    pub fn root_password(&self) -> Option<String> {
        match &self.backend {
            Backend::Emulator(e) => Some(e.root_password().to_owned()),
            Backend::External => std::env::var("KALAMDB_ROOT_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }

    /// The admin (dba or root) credentials.
    pub fn admin_credentials(&self) -> (&str, &str) {
        (&self.admin_user, &self.admin_password)
    }

    /// Logs in and returns an access token.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let res = self
            .http
            .post(format!("{}/v1/api/auth/login", self.url))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .expect("login request");
        let status = res.status();
        let body: Value = res.json().await.expect("login body is JSON");
        assert!(status.is_success(), "login {user} failed: {status} {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An admin access token (logged in once per server; tokens live 24 hours).
    pub async fn admin_token(&self) -> String {
        let cached = self
            .admin_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(token) = cached {
            return token;
        }
        let token = self.login(&self.admin_user, &self.admin_password).await;
        *self
            .admin_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token.clone());
        token
    }

    /// Runs SQL with a token and returns the HTTP status and the parsed body.
    pub async fn sql_raw(&self, token: &str, sql: &str, params: Option<Value>) -> (u16, Value) {
        let mut body = json!({ "sql": sql });
        if let Some(p) = params {
            body["params"] = p;
        }
        let res = self
            .http
            .post(format!("{}/v1/api/sql", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("sql request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("sql body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("sql response is not JSON ({e}): {text}"));
        (status, value)
    }

    /// Runs SQL as admin and panics unless it succeeds.
    pub async fn admin_sql(&self, sql: &str) -> Value {
        let token = self.admin_token().await;
        let (status, body) = self.sql_raw(&token, sql, None).await;
        assert_eq!(status, 200, "admin SQL failed: {sql}: {body}");
        body
    }

    /// Creates a fresh namespace named `<prefix>_<unique>` and returns its name.
    pub async fn fresh_namespace(&self, prefix: &str) -> String {
        let ns = format!("{prefix}_{}", unique_suffix());
        self.admin_sql(&format!("CREATE NAMESPACE {ns}")).await;
        ns
    }

    /// Creates a fresh user with the given role (`user`, `service`, `dba`).
    pub async fn create_user(&self, prefix: &str, role: &str) -> TestUser {
        let id = format!("{prefix}_{}", unique_suffix());
        let password = format!("Pw_{}_x9!", unique_suffix());
        self.admin_sql(&format!(
            "CREATE USER '{id}' WITH PASSWORD '{password}' ROLE {role}"
        ))
        .await;
        TestUser {
            id,
            password,
            role: role.to_owned(),
        }
    }

    /// Applies the workspace's `schemas/<name>.sql` (the namespace `name`: `support`,
    /// `types`) under a fresh namespace `<name>_<unique>`, topics included, and returns the
    /// new namespace's name. Build the clients of the test with
    /// `.map_namespace(name, &returned)` to run the macros' queries there.
    pub async fn fresh_schema(&self, name: &str) -> String {
        let path = schemas_dir().join(format!("{name}.sql"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let ns = format!("{name}_{}", unique_suffix());
        self.admin_sql(&rename_namespace(&text, name, &ns)).await;
        ns
    }
}

/// `ddl` (a schema file: CREATE/ALTER/DROP of namespaces, tables and topics) with namespace
/// `from` renamed to `to`: every unquoted identifier `from` that qualifies a name (`from.x`)
/// or is named by `NAMESPACE [IF NOT EXISTS]` or `USE`. String literals and comments stay as
/// they are.
///
/// ```
/// let ddl = "CREATE NAMESPACE IF NOT EXISTS app;\n\
///            CREATE TABLE app.t (id BIGINT PRIMARY KEY, app TEXT DEFAULT 'app.t') WITH (TYPE = 'USER');\n\
///            CREATE TOPIC app.ev; ALTER TOPIC app.ev ADD SOURCE app.t ON INSERT;";
/// assert_eq!(
///     kalam_tests::rename_namespace(ddl, "app", "app_1"),
///     "CREATE NAMESPACE IF NOT EXISTS app_1;\n\
///      CREATE TABLE app_1.t (id BIGINT PRIMARY KEY, app TEXT DEFAULT 'app.t') WITH (TYPE = 'USER');\n\
///      CREATE TOPIC app_1.ev; ALTER TOPIC app_1.ev ADD SOURCE app_1.t ON INSERT;"
/// );
/// ```
pub fn rename_namespace(ddl: &str, from: &str, to: &str) -> String {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};

    let tokens = Tokenizer::new(&PostgreSqlDialect {}, ddl)
        .tokenize()
        .unwrap_or_else(|e| panic!("schema text does not tokenize: {e}"));
    let significant = |t: &&Token| !matches!(t, Token::Whitespace(_));
    let mut out = String::with_capacity(ddl.len() + 64);
    for (i, t) in tokens.iter().enumerate() {
        let rename = match t {
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(from) => {
                let next = tokens[i + 1..].iter().find(significant);
                let prev = tokens[..i].iter().rev().find(significant);
                let qualifies =
                    matches!(next, Some(Token::Period)) && !matches!(prev, Some(Token::Period));
                // `NAMESPACE` is not a sqlparser keyword: compare the word.
                let named = matches!(prev, Some(Token::Word(p))
                    if matches!(p.keyword, Keyword::EXISTS | Keyword::USE)
                        || p.value.eq_ignore_ascii_case("NAMESPACE"));
                qualifies || named
            }
            _ => false,
        };
        if rename {
            out.push_str(to);
        } else {
            out.push_str(&t.to_string());
        }
    }
    out
}
