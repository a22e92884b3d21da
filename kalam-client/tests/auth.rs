//! Authentication against a real server: every provider, login errors, token expiry,
//! refresh, re-login, and secrets kept out of logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kalam_client::{AuthProvider, Error, ErrorCode, KalamClient};
use kalam_emulator::{Emulator, Role};
use kalam_tests::{external_server, no_server, server_or_skip};
use support::{admin_client, exec, renewing_client, user_client};

const ALICE_PASSWORD: &str = "AlicePass1!";

/// An emulator whose access tokens live one second (refresh tokens seven), with no clock
/// leeway, and a user `alice`; `None` without a server or against an external one (its token
/// lifetime is not ours to set), and the `emulator_…` test then skips itself.
async fn short_token_emulator() -> Option<Emulator> {
    if no_server() || external_server() {
        return None;
    }
    Some(
        Emulator::builder()
            .user("alice", ALICE_PASSWORD, Role::User)
            .jwt_expiry(Duration::from_secs(1))
            .jwt_leeway(Duration::ZERO)
            .start()
            .await
            .unwrap(),
    )
}

fn client(url: &str, auth: AuthProvider) -> KalamClient {
    KalamClient::builder()
        .base_url(url)
        .auth(auth)
        .build()
        .unwrap()
}

async fn whoami(client: &KalamClient) -> kalam_client::Result<String> {
    kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(client)
        .await
}

#[tokio::test]
async fn basic_auth_logs_in_on_first_use() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let client = user_client(&server, &alice);
    assert_eq!(whoami(&client).await.unwrap(), alice.id);
    // The admin helper works the same way.
    assert_eq!(
        whoami(&admin_client(&server)).await.unwrap(),
        server.admin_credentials().0
    );
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let client = client(
        server.url(),
        AuthProvider::basic_auth(alice.id.clone(), "wrong-password"),
    );
    match whoami(&client).await {
        Err(Error::Auth { code, message }) => {
            assert_eq!(code, ErrorCode::Unauthorized);
            assert_eq!(message, "Invalid credentials");
        }
        other => panic!("expected Auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn system_user_authenticates_as_root_over_localhost() {
    let server = server_or_skip!();
    let Some(password) = server.root_password() else {
        eprintln!("KALAMDB_ROOT_PASSWORD is not set: skipping the root login");
        return;
    };
    let root = client(server.url(), AuthProvider::system_user_auth(password));
    assert_eq!(whoami(&root).await.unwrap(), "root");
}

#[tokio::test]
async fn jwt_tokens_are_sent_as_they_are() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let login = client(server.url(), AuthProvider::none())
        .login(&alice.id, &alice.password)
        .await
        .unwrap();
    assert_eq!(login.user.id, alice.id);
    assert_eq!(login.user.role, "user");
    let with_token = client(
        server.url(),
        AuthProvider::jwt_token(login.access_token.clone()),
    );
    assert_eq!(whoami(&with_token).await.unwrap(), alice.id);
    // A refresh token exchanged through the public API works too.
    let refreshed = with_token
        .refresh_access_token(login.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    let with_new = client(
        server.url(),
        AuthProvider::jwt_token(refreshed.access_token),
    );
    assert_eq!(whoami(&with_new).await.unwrap(), alice.id);

    let forged = client(server.url(), AuthProvider::jwt_token("abc.def.ghi"));
    match whoami(&forged).await {
        Err(Error::Auth { code, .. }) => assert_eq!(code, ErrorCode::InvalidCredentials),
        other => panic!("expected Auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn no_credentials_is_missing_authorization() {
    let server = server_or_skip!();
    let anonymous = client(server.url(), AuthProvider::none());
    match whoami(&anonymous).await {
        Err(Error::Auth { code, .. }) => assert_eq!(code, ErrorCode::MissingAuthorization),
        other => panic!("expected Auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamic_provider_is_asked_only_when_a_token_is_needed() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let (id, password) = (alice.id.clone(), alice.password.clone());
    let client = KalamClient::builder()
        .base_url(server.url())
        .auth_provider(Arc::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            let (id, password) = (id.clone(), password.clone());
            async move { Ok(AuthProvider::basic_auth(id, password)) }
        }))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(whoami(&client).await.unwrap(), alice.id);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Concurrent first requests on a fresh client share one login.
    let fresh = client.clone();
    fresh.disconnect().await;
    let (a, b) = tokio::join!(whoami(&fresh), whoami(&client));
    assert_eq!(
        (a.unwrap(), b.unwrap()),
        (alice.id.clone(), alice.id.clone())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn emulator_short_lived_access_tokens_are_refreshed_before_expiry() {
    let Some(emulator) = short_token_emulator().await else {
        return;
    };
    let url = emulator.url();
    let alice = client(&url, AuthProvider::basic_auth("alice", ALICE_PASSWORD));
    assert_eq!(whoami(&alice).await.unwrap(), "alice");
    // Change the password: from now on only the refresh token can renew alice's session.
    let root = client(
        &url,
        AuthProvider::system_user_auth(emulator.root_password()),
    );
    exec(&root, "ALTER USER 'alice' SET PASSWORD 'ChangedPass2!'").await;
    // Let the one-second access token expire (no event to wait for: it is the clock).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(whoami(&alice).await.unwrap(), "alice");
    // A new login with the old password is refused, so the call above used the refresh token.
    let stale = client(&url, AuthProvider::basic_auth("alice", ALICE_PASSWORD));
    assert!(matches!(whoami(&stale).await, Err(Error::Auth { .. })));
}

#[tokio::test]
async fn emulator_expired_refresh_token_falls_back_to_a_new_login() {
    let Some(emulator) = short_token_emulator().await else {
        return;
    };
    let alice = client(
        &emulator.url(),
        AuthProvider::basic_auth("alice", ALICE_PASSWORD),
    );
    assert_eq!(whoami(&alice).await.unwrap(), "alice");
    // Refresh tokens live seven access lifetimes: wait until both are gone.
    tokio::time::sleep(Duration::from_millis(8100)).await;
    assert_eq!(whoami(&alice).await.unwrap(), "alice");
}

#[tokio::test]
async fn emulator_token_expired_answer_renews_and_retries_once() {
    let Some(emulator) = short_token_emulator().await else {
        return;
    };
    let url = emulator.url();
    let expired = client(&url, AuthProvider::none())
        .login("alice", ALICE_PASSWORD)
        .await
        .unwrap()
        .access_token;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // A static JWT cannot be renewed: the server's TOKEN_EXPIRED is returned.
    let fixed = client(&url, AuthProvider::jwt_token(expired.clone()));
    match whoami(&fixed).await {
        Err(Error::Auth { code, .. }) => assert_eq!(code, ErrorCode::TokenExpired),
        other => panic!("expected TOKEN_EXPIRED, got {other:?}"),
    }

    // A provider that first hands out the expired token is asked again after the
    // server's TOKEN_EXPIRED answer, and the statement is sent once more.
    let calls = Arc::new(AtomicUsize::new(0));
    let dynamic = renewing_client(&url, expired, "alice", ALICE_PASSWORD, calls.clone());
    assert_eq!(whoami(&dynamic).await.unwrap(), "alice");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn secrets_never_reach_logs_or_debug_output() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let capture = support::Capture::install();

    let client = user_client(&server, &alice);
    let n: i64 = kalam_client::query_as("SELECT $1 + 1 AS n")
        .bind(41)
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(n, 42);
    let token = client
        .login(&alice.id, &alice.password)
        .await
        .unwrap()
        .access_token;
    let debug = format!("{client:?}");

    let logs = capture.finish();
    assert!(
        logs.contains("SELECT $1 + 1 AS n"),
        "SQL text is logged at debug level"
    );
    for secret in [alice.password.as_str(), token.as_str()] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
        assert!(!debug.contains(secret), "a secret leaked into Debug output");
    }
    assert!(!logs.contains("eyJ"), "no JWT in the logs");
}
