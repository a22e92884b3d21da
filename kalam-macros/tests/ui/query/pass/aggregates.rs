use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let row = kalam_client::query!(
        "SELECT COUNT(*) AS n, MAX(priority) AS top, SUM(id) AS total FROM app.todos"
    )
    .fetch_one(client)
    .await?;
    let _ = (row.n, row.top, row.total);
    Ok(())
}

fn main() {
    let _ = run;
}
