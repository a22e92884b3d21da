//! Quick start: connect, ask the server who we are, print it typed, disconnect.
//!
//! ```sh
//! KALAMDB_SERVER_URL=http://localhost:2900 KALAMDB_USER=admin KALAMDB_PASSWORD=… \
//!     cargo run -p kalam-examples --bin quickstart
//! ```
//!
//! With no `KALAMDB_SERVER_URL` set, it starts the in-process emulator and uses its default
//! `admin` user.

use kalam_examples::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keeps the emulator (if one was started) alive until the end of main.
    let server = Server::from_env(kalam_emulator::Emulator::builder()).await?;
    let client = server.client()?;

    let me: String = kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(&client)
        .await?;
    println!("connected to {} as {me}", client.base_url());

    client.disconnect().await;
    Ok(())
}
