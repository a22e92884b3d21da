//! First-run setup (feature `setup`, protocol 2.5): `GET /v1/api/auth/status` and
//! `POST /v1/api/auth/setup`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::client::KalamClient;
use crate::error::Result;
use crate::wire::LoginUserInfo;

/// `GET /v1/api/auth/status`: whether the server still needs its first-run setup.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SetupStatus {
    /// True until the root password has been set.
    pub needs_setup: bool,
    /// The server's explanation.
    #[serde(default)]
    pub message: String,
}

/// The body of `POST /v1/api/auth/setup`: the first dba user and the root password.
///
/// `Debug` never shows the passwords.
///
/// ```
/// use kalam_client::setup::ServerSetupRequest;
/// let request = ServerSetupRequest::new("admin", "AdminPass123!", "RootPass123!")
///     .email("admin@example.com");
/// assert!(!format!("{request:?}").contains("Pass123"));
/// ```
#[derive(Clone, Serialize)]
pub struct ServerSetupRequest {
    user: String,
    password: String,
    root_password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl ServerSetupRequest {
    /// The dba user to create (`user`, `password`) and the password to give `root`.
    pub fn new(
        user: impl Into<String>,
        password: impl Into<String>,
        root_password: impl Into<String>,
    ) -> Self {
        ServerSetupRequest {
            user: user.into(),
            password: password.into(),
            root_password: root_password.into(),
            email: None,
        }
    }

    /// The dba user's email.
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The dba user id.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for ServerSetupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSetupRequest")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("root_password", &"<redacted>")
            .field("email", &self.email)
            .finish()
    }
}

/// `POST /v1/api/auth/setup` success body. Setup does not log in: log in afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerSetupResponse {
    /// The dba user that was created.
    pub user: LoginUserInfo,
    /// The server's message.
    #[serde(default)]
    pub message: String,
}

impl KalamClient {
    /// `GET /v1/api/auth/status` (answered to localhost clients only, unless the server
    /// allows remote setup). Needs no credentials.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// let client = kalam_client::KalamClient::builder().base_url(emulator.url()).build()?;
    /// assert!(!client.setup_status().await?.needs_setup);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn setup_status(&self) -> Result<SetupStatus> {
        self.inner
            .call_json(false, "setup status", |base| {
                self.inner.http.get(format!("{base}/v1/api/auth/status"))
            })
            .await
    }

    /// The official SDK's name for [`KalamClient::setup_status`].
    pub async fn check_setup_status(&self) -> Result<SetupStatus> {
        self.setup_status().await
    }

    /// `POST /v1/api/auth/setup`: sets the root password and creates a dba user on a fresh
    /// server. Refusals are typed: [`ErrorCode::AlreadyConfigured`], `UserExists`,
    /// `WeakPassword`, `InvalidUser` (and `Forbidden` for a remote caller).
    ///
    /// [`ErrorCode::AlreadyConfigured`]: crate::ErrorCode::AlreadyConfigured
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::builder().needs_setup(true).start().await?;
    /// use kalam_client::setup::ServerSetupRequest;
    /// use kalam_client::{AuthProvider, ErrorCode, KalamClient};
    /// let client = KalamClient::builder().base_url(emulator.url()).build()?;
    /// assert!(client.setup_status().await?.needs_setup);
    /// let done = client
    ///     .setup(ServerSetupRequest::new("owner", "OwnerPass123!", "RootPass456!"))
    ///     .await?;
    /// assert_eq!(done.user.role, "dba");
    /// assert!(!client.setup_status().await?.needs_setup);
    /// let again = client.setup(ServerSetupRequest::new("x", "XPass1234!", "RootPass789!")).await;
    /// assert_eq!(again.unwrap_err().code(), Some(&ErrorCode::AlreadyConfigured));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn setup(&self, request: ServerSetupRequest) -> Result<ServerSetupResponse> {
        self.inner
            .call_json(false, "server setup", |base| {
                self.inner
                    .http
                    .post(format!("{base}/v1/api/auth/setup"))
                    .json(&request)
            })
            .await
    }

    /// The official SDK's name for [`KalamClient::setup`].
    pub async fn server_setup(&self, request: ServerSetupRequest) -> Result<ServerSetupResponse> {
        self.setup(request).await
    }
}
