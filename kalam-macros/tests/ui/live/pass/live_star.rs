#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
    due_at: Option<kalam_client::types::Timestamp>,
}

fn check(client: &kalam_client::KalamClient) -> kalam_client::Result<()> {
    // `SELECT *`: the row type may read some of the columns only.
    let live = kalam_client::live!(client, Todo, "SELECT * FROM app.todos WHERE title LIKE 'a%' OR NOT (done = true)");
    assert!(live.sql().unwrap().starts_with("SELECT * FROM app.todos"));
    Ok(())
}

fn main() {
    let _ = check;
}
