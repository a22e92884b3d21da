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

/// A client authenticated as `user`.
pub(crate) fn user_client(server: &TestServer, user: &TestUser) -> KalamClient {
    KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(
            user.id.clone(),
            user.password.clone(),
        ))
        .build()
        .unwrap()
}

/// Runs a statement that must succeed and returns the rows affected.
pub(crate) async fn exec(
    client: &KalamClient,
    sql: impl Into<std::borrow::Cow<'static, str>>,
) -> u64 {
    client.query::<()>(sql).execute().await.unwrap()
}
