//! The upstream KalamDB quick start, typed: a live, materialized inbox of `support.messages`.
//!
//! One task keeps a typed `live::<Message>()` subscription and prints the inbox after every
//! change; another inserts, updates and deletes messages. The example ends by itself once the
//! writer is done and the inbox shows its final state.
//!
//! ```sh
//! cargo run -p kalam-examples --bin live-inbox
//! ```
//!
//! With no `KALAMDB_SERVER_URL` set it starts the in-process emulator with the workspace's
//! `schemas/` applied and signs in as a fresh user. Against a real server set
//! `KALAMDB_SERVER_URL`, `KALAMDB_USER` and `KALAMDB_PASSWORD` (the `support` namespace of
//! `schemas/support.sql` must exist there).

use std::time::Duration;

use futures_util::StreamExt;
use kalam_client::KalamRow;
use kalam_client::live::{LiveChange, LiveRows, LiveRowsConfig, SubscriptionOptions};
use kalam_client::types::Timestamp;
use kalam_examples::Server;

/// One message of the signed-in user's inbox. The derive checks every field against
/// `schemas/support.sql` while compiling.
#[derive(Debug, Clone, KalamRow)]
#[kalam(table = "support.messages")]
struct Message {
    id: i64,
    room: String,
    role: String,
    body: String,
    created_at: Timestamp,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas");
    let mut server =
        Server::from_env(kalam_emulator::Emulator::builder().schemas_dir(schemas)).await?;
    if server.is_emulator() {
        // USER tables give every user a private inbox: sign up a user for this run.
        kalam_client::query("CREATE USER 'alice' WITH PASSWORD 'AlicePass123!' ROLE user")
            .execute(&server.client()?)
            .await?;
        server.user = "alice".to_owned();
        server.password = "AlicePass123!".to_owned();
    }
    let client = server.client()?;

    // Newest first, at most 20 messages: ordered on the client (live SQL has no ORDER BY).
    let newest_first = LiveRowsConfig::new()
        .order_by_desc(|m: &Message| m.created_at.as_micros())
        .with_limit(20);
    let mut inbox: LiveRows<Message> = client
        .live_with_config(
            "SELECT id, room, role, body, created_at FROM support.messages WHERE room = 'main'",
            newest_first,
            SubscriptionOptions::new(),
        )
        .await?;
    // The first event is the complete current inbox.
    let first = tokio::time::timeout(Duration::from_secs(10), inbox.next())
        .await
        .map_err(|_| "no initial rows within 10 s")?
        .ok_or("the subscription ended")??;
    println!(
        "-- initial inbox: {} message(s) (checkpoint {:?})",
        inbox.len(),
        first.last_seq_id
    );

    // The writer: a short support conversation, then a correction and a retraction.
    let writer = {
        let client = client.clone();
        tokio::spawn(async move {
            let insert = "INSERT INTO support.messages (id, role, body) VALUES ($1, $2, $3)";
            for (id, role, body) in [
                (1_i64, "user", "My order has not arrived."),
                (2, "agent", "Sorry about that! Let me check."),
                (3, "agent", "It ships tomorow."),
            ] {
                kalam_client::query(insert)
                    .bind(id)
                    .bind(role)
                    .bind(body)
                    .execute(&client)
                    .await?;
            }
            kalam_client::query("UPDATE support.messages SET body = $1 WHERE id = $2")
                .bind("It ships tomorrow.")
                .bind(3_i64)
                .execute(&client)
                .await?;
            kalam_client::query("DELETE FROM support.messages WHERE id = $1")
                .bind(2_i64)
                .execute(&client)
                .await?;
            Ok::<(), kalam_client::Error>(())
        })
    };

    // Print the inbox after every change until it shows the final state: messages 3 and 1
    // (newest first), with the corrected text.
    let done = |rows: &LiveRows<Message>| {
        let ids: Vec<i64> = rows.rows().map(|m| m.id).collect();
        ids == [3, 1] && rows.rows().any(|m| m.body == "It ships tomorrow.")
    };
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), inbox.next())
            .await
            .map_err(|_| "no live event within 10 s")?
            .ok_or("the subscription ended")??;
        let what = match &event.change {
            LiveChange::Snapshot { .. } => "initial rows".to_owned(),
            LiveChange::Inserted(m) => format!("inserted #{}", m.id),
            LiveChange::Updated { after, .. } => format!("updated #{}", after.id),
            LiveChange::Deleted { key, .. } => format!("deleted #{key}"),
            other => format!("{other:?}"),
        };
        println!("-- {what} (last _seq {:?})", event.last_seq_id);
        for m in inbox.rows() {
            println!(
                "   #{} [{}] {:>5}: {}  (at {} µs)",
                m.id,
                m.room,
                m.role,
                m.body,
                m.created_at.as_micros()
            );
        }
        if done(&inbox) {
            break;
        }
    }
    writer.await??;
    println!("inbox is up to date; bye");
    client.disconnect().await;
    Ok(())
}
