//! Set-up shared by the examples: the server named by `KALAMDB_SERVER_URL`, or else an
//! in-process emulator, and a client signed in to it.

use std::error::Error;

use kalam_client::{AuthProvider, KalamClient};
use kalam_emulator::{DEFAULT_ADMIN, Emulator, EmulatorBuilder};

/// Where an example runs and as whom. Keeps the emulator (if one was started) alive.
pub struct Server {
    /// The server's base URL.
    pub url: String,
    /// The user the example signs in as.
    pub user: String,
    /// That user's password.
    pub password: String,
    emulator: Option<Emulator>,
}

impl Server {
    /// The server named by `KALAMDB_SERVER_URL`, signed in as `KALAMDB_USER` with
    /// `KALAMDB_PASSWORD`; when the URL is not set, starts `emulator` and signs in as its
    /// default dba user. Missing credentials fall back to that user too.
    pub async fn from_env(emulator: EmulatorBuilder) -> Result<Self, Box<dyn Error>> {
        let (url, emulator) = match std::env::var("KALAMDB_SERVER_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let emulator = emulator.start().await?;
                println!(
                    "no KALAMDB_SERVER_URL set: started the emulator at {}",
                    emulator.url()
                );
                (emulator.url().to_owned(), Some(emulator))
            }
        };
        let (default_user, default_password) = DEFAULT_ADMIN;
        Ok(Self {
            url,
            user: std::env::var("KALAMDB_USER").unwrap_or_else(|_| default_user.to_owned()),
            password: std::env::var("KALAMDB_PASSWORD")
                .unwrap_or_else(|_| default_password.to_owned()),
            emulator,
        })
    }

    /// True when the example runs on the in-process emulator.
    pub fn is_emulator(&self) -> bool {
        self.emulator.is_some()
    }

    /// A client for the server, signed in as [`Server::user`].
    pub fn client(&self) -> Result<KalamClient, kalam_client::Error> {
        KalamClient::builder()
            .base_url(self.url.clone())
            .auth(AuthProvider::basic_auth(
                self.user.clone(),
                self.password.clone(),
            ))
            .build()
    }
}
