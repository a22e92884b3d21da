use futures_util::StreamExt;
use kalam_client::KalamRow;
use kalam_client::live::{LiveChange, LiveRows, LiveRowsConfig, SubscriptionOptions};

#[derive(Debug, KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    title: String,
    owner: Option<String>,
}

// `live!` is awaited for the typed stream, directly or after configuring it.
async fn inbox(client: &kalam_client::KalamClient, owner: &str) -> kalam_client::Result<()> {
    let mut rows: LiveRows<Todo> =
        kalam_client::live!(client, Todo, "SELECT id, title, owner FROM app.todos WHERE owner = {owner}").await?;
    if let Some(event) = rows.next().await {
        if let LiveChange::Inserted(todo) = event?.change {
            let _: (i64, &String, &Option<String>) = (todo.id, &todo.title, &todo.owner);
        }
    }
    let _latest: LiveRows<Todo> = kalam_client::live!(client, Todo, "SELECT * FROM app.todos WHERE done = {false}")
        .with_config(LiveRowsConfig::new().with_limit(20))
        .with_options(SubscriptionOptions::new())
        .subscribe()
        .await?;
    Ok(())
}

fn main() {
    let _ = inbox;
}
