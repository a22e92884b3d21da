use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let rows = kalam_client::query!(
        "SELECT t.id, t.title, c.body FROM app.todos t JOIN app.comments c ON c.todo_id = t.id WHERE t.done = $1",
        true
    )
    .fetch_all(client)
    .await?;
    let _: (i64, &String, &String) = (rows[0].id, &rows[0].title, &rows[0].body);
    Ok(())
}

fn main() {
    let _ = run;
}
