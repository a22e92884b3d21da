//! Helpers shared by the integration tests (not a test binary of its own).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kalam_client::{AuthProvider, KalamClient, KalamClientBuilder};
use kalam_tests::{TestServer, TestUser};

/// A builder already pointed at the server, with the admin (dba) credentials.
pub(crate) fn admin_builder(server: &TestServer) -> KalamClientBuilder {
    let (user, password) = server.admin_credentials();
    KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(
            user.to_owned(),
            password.to_owned(),
        ))
}

/// An admin client running the macros' queries on `names` (`support`, `types`) in fresh
/// copies of those namespaces.
pub(crate) async fn schema_client(server: &TestServer, names: &[&str]) -> KalamClient {
    let mut builder = admin_builder(server);
    for name in names {
        let ns = server.fresh_schema(name).await;
        builder = builder.map_namespace(*name, ns);
    }
    builder.build().unwrap()
}

/// Collects everything written by `tracing` (and by the `log` crate, bridged), at every
/// level.
#[derive(Clone, Default)]
pub(crate) struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether [`Capture`] records: only while a test's scenario runs, so that the other tests
/// of the binary do not pay for formatting every TRACE event afterwards.
static CAPTURING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Capture {
    /// Installs a process-wide TRACE subscriber writing here, with the `log` bridge, and
    /// starts recording. Only one test of a binary may call it. (A scoped subscriber is not
    /// enough: it races with other tests' threads registering the same callsites first,
    /// which can leave a callsite's cached interest at "never". The other tests' logs land
    /// here too while recording, and must not leak secrets either.)
    pub(crate) fn install() -> Capture {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        use tracing_subscriber::{Layer as _, filter};
        let capture = Capture::default();
        let sink = capture.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .with_filter(filter::LevelFilter::TRACE)
            .with_filter(filter::filter_fn(|_| {
                CAPTURING.load(std::sync::atomic::Ordering::Relaxed)
            }));
        CAPTURING.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("no other subscriber in this test binary");
        capture
    }

    /// Stops recording and returns everything recorded.
    pub(crate) fn finish(&self) -> String {
        CAPTURING.store(false, std::sync::atomic::Ordering::Relaxed);
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A client authenticated as the server's admin (dba) user.
pub(crate) fn admin_client(server: &TestServer) -> KalamClient {
    admin_builder(server).build().unwrap()
}

/// A builder pointed at the server with `user`'s credentials.
pub(crate) fn user_builder(server: &TestServer, user: &TestUser) -> KalamClientBuilder {
    KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(
            user.id.clone(),
            user.password.clone(),
        ))
}

/// A client authenticated as `user`.
pub(crate) fn user_client(server: &TestServer, user: &TestUser) -> KalamClient {
    user_builder(server, user).build().unwrap()
}

/// Runs a statement that must succeed and returns the rows affected.
pub(crate) async fn exec(client: &KalamClient, sql: impl Into<String>) -> u64 {
    kalam_client::query(sql).execute(client).await.unwrap()
}

/// A client on `url` whose dynamic auth provider first hands out `expired` (a JWT past its
/// lifetime) and then basic auth as `user`; `calls` counts how often it was asked.
pub(crate) fn renewing_client(
    url: &str,
    expired: String,
    user: &str,
    password: &str,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> KalamClient {
    let (user, password) = (user.to_owned(), password.to_owned());
    KalamClient::builder()
        .base_url(url)
        .auth_provider(std::sync::Arc::new(move || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let provided = if n == 0 {
                AuthProvider::jwt_token(expired.clone())
            } else {
                AuthProvider::basic_auth(user.clone(), password.clone())
            };
            async move { Ok(provided) }
        }))
        .build()
        .unwrap()
}

/// Inserts `rows` (each a `(…)` tuple of SQL literals) into `table` (`ns.t (columns)`), 500
/// rows per statement.
pub(crate) async fn insert_rows(
    client: &KalamClient,
    table: &str,
    rows: impl IntoIterator<Item = String>,
) {
    let rows: Vec<String> = rows.into_iter().collect();
    for chunk in rows.chunks(500) {
        exec(
            client,
            format!("INSERT INTO {table} VALUES {}", chunk.join(", ")),
        )
        .await;
    }
}
