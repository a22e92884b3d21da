use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let due: Option<kalam_client::types::Timestamp> = None;
    kalam_client::query!(
        "INSERT INTO app.todos (id, title, due_at, priority) VALUES ($1, $2, $3, $4)",
        1_i64,
        "write docs",
        due,
        2_i16
    )
    .execute(client)
    .await?;
    kalam_client::query!("UPDATE app.todos SET done = $1 WHERE id = $2", true, 1_i64)
        .execute(client)
        .await?;
    kalam_client::query!("DELETE FROM app.todos WHERE id = $1", &1_i64)
        .execute(client)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
