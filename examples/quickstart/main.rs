//! Quick start: connect, ask the server who we are, print it typed, disconnect.
//!
//! ```sh
//! KALAMDB_SERVER_URL=http://localhost:2900 KALAMDB_USER=admin KALAMDB_PASSWORD=… \
//!     cargo run -p kalam-examples --bin quickstart
//! ```
//!
//! With no `KALAMDB_SERVER_URL` set, it starts the in-process emulator and uses its default
//! `admin` user.

use kalam_client::{AuthProvider, KalamClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the emulator (if any) alive until the end of main.
    let (url, _emulator) = match std::env::var("KALAMDB_SERVER_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let emulator = kalam_emulator::Emulator::start().await?;
            println!(
                "no KALAMDB_SERVER_URL set: started the emulator at {}",
                emulator.url()
            );
            (emulator.url().to_owned(), Some(emulator))
        }
    };
    let user = std::env::var("KALAMDB_USER").unwrap_or_else(|_| "admin".to_owned());
    let password = std::env::var("KALAMDB_PASSWORD").unwrap_or_else(|_| "AdminPass123!".to_owned());

    let client = KalamClient::builder()
        .base_url(url)
        .auth(AuthProvider::basic_auth(user, password))
        .build()?;

    let me: String = client.query("SELECT CURRENT_USER()").fetch_scalar().await?;
    println!("connected to {} as {me}", client.base_url());

    client.disconnect().await;
    Ok(())
}
