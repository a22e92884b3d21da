#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    body: String,
}

fn main() {
    let _ = kalam_client::query_as!(Todo, "SELECT t.id, c.body FROM app.todos t LEFT JOIN app.comments c ON c.todo_id = t.id");
}
