use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let rows = kalam_client::query!(
        "SELECT owner, COUNT(*) AS n FROM app.todos GROUP BY owner"
    )
    .fetch_all(client)
    .await?;
    let _: (Option<String>, i64) = (rows[0].owner.clone(), rows[0].n);
    Ok(())
}

fn main() {
    let _ = run;
}
