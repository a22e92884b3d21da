use kalam_client::{KalamClient, KalamRow, Result};

#[derive(KalamRow)]
#[kalam(rename_all = "UPPERCASE")]
struct Todo {
    #[kalam(rename = "id")]
    key: i64,
    #[kalam(rename = "title")]
    text: String,
    #[kalam(rename = "owner")]
    who: Option<String>,
    #[kalam(default)]
    #[kalam(rename = "score")]
    score: i32,
}

async fn run(client: &KalamClient) -> Result<()> {
    let rows: Vec<Todo> = kalam_client::query_as!(Todo, "SELECT id, title, owner FROM app.todos WHERE done = $1", false)
        .fetch_all(client)
        .await?;
    let _ = (rows[0].key, &rows[0].text, &rows[0].who, rows[0].score);
    let _: Option<Todo> = kalam_client::query_file_as!(Todo, "../../../../kalam-macros/tests/ui/query/pass/todos_owner.sql")
        .fetch_optional(client)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
