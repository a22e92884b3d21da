use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let n: i64 = kalam_client::query_scalar!("SELECT COUNT(*) AS n FROM app.todos WHERE owner = $1", "ann")
        .fetch_scalar(client)
        .await?;
    let _ = n;
    Ok(())
}

fn main() {
    let _ = run;
}
