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
                http,
            });
        }
        let emulator = Emulator::start().await.expect("emulator starts");
        Some(TestServer {
            url: emulator.url().to_owned(),
            backend: Backend::Emulator(Box::new(emulator)),
            admin_user: "admin".to_owned(),
            admin_password: "AdminPass123!".to_owned(),
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

    /// An admin access token.
    pub async fn admin_token(&self) -> String {
        self.login(&self.admin_user, &self.admin_password).await
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

    /// Applies every statement of the workspace's `schemas/` files, namespaced as they are.
    /// On an external server this is idempotent (the files use `IF NOT EXISTS`).
    pub async fn apply_example_schemas(&self) {
        let dir = schemas_dir();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("schemas dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("schema file");
            self.admin_sql(&text).await;
        }
    }
}
