use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let row = kalam_client::query!(
        "SELECT t.id, c.body FROM app.todos t LEFT JOIN app.comments c ON c.todo_id = t.id"
    )
    .fetch_one(client)
    .await?;
    let _: Option<String> = row.body;
    Ok(())
}

fn main() {
    let _ = run;
}
