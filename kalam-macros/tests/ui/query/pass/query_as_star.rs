use kalam_client::types::{JsonValue, Timestamp};
use kalam_client::{KalamClient, KalamRow, Result};

// `SELECT *` also returns the system columns `_seq` and `_deleted`; a row type may leave them
// out, or read them under a Rust name.
#[derive(KalamRow)]
struct Todo {
    id: i64,
    title: String,
    done: bool,
    due_at: Option<Timestamp>,
    owner: Option<String>,
    priority: i16,
    meta: Option<JsonValue>,
}

#[derive(KalamRow)]
struct TodoWithSeq {
    id: i64,
    title: String,
    done: bool,
    due_at: Option<Timestamp>,
    owner: Option<String>,
    priority: i16,
    meta: Option<JsonValue>,
    #[kalam(rename = "_seq")]
    seq: i64,
}

async fn run(client: &KalamClient) -> Result<()> {
    let rows: Vec<Todo> = kalam_client::query_as!(Todo, "SELECT * FROM app.todos")
        .fetch_all(client)
        .await?;
    let _ = (rows[0].id, &rows[0].title, rows[0].done, rows[0].due_at, &rows[0].owner);
    let _ = (rows[0].priority, &rows[0].meta);
    let with_seq: Vec<TodoWithSeq> = kalam_client::query_as!(TodoWithSeq, "SELECT * FROM app.todos")
        .fetch_all(client)
        .await?;
    let _ = (with_seq[0].id, with_seq[0].seq);
    Ok(())
}

fn main() {
    let _ = run;
}
