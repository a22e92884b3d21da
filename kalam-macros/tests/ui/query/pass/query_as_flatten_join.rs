use kalam_client::{KalamClient, KalamRow, Result};

#[derive(KalamRow)]
struct Head {
    id: i64,
    title: String,
}

#[derive(KalamRow)]
struct WithComment {
    #[kalam(flatten)]
    head: Head,
    body: Option<String>,
}

async fn run(client: &KalamClient) -> Result<()> {
    let rows = kalam_client::query_as!(
        WithComment,
        "SELECT t.id, t.title, c.body FROM app.todos t LEFT JOIN app.comments c ON c.todo_id = t.id"
    )
    .fetch_all(client)
    .await?;
    let _ = (rows[0].head.id, &rows[0].body);
    Ok(())
}

fn main() {
    let _ = run;
}
