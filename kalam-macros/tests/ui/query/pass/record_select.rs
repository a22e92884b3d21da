use kalam_client::{KalamClient, query};

async fn run(client: &KalamClient) -> kalam_client::Result<()> {
    let rows = query!("SELECT id, title, due_at FROM app.todos WHERE done = $1", false)
        .fetch_all(client)
        .await?;
    let first = &rows[0];
    let _: i64 = first.id;
    let _: &String = &first.title;
    let _: Option<kalam_client::types::Timestamp> = first.due_at;
    Ok(())
}

fn main() {
    let _ = run;
}
