use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let row = kalam_client::query!(
        r#"SELECT owner AS "owner!", title AS "title?", meta AS "meta: kalam_client::Json<Vec<String>>" FROM app.todos"#
    )
    .fetch_one(client)
    .await?;
    let _: String = row.owner;
    let _: Option<String> = row.title;
    let _: Vec<String> = row.meta.0;
    Ok(())
}

fn main() {
    let _ = run;
}
