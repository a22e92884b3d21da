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
