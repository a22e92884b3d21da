fn main() {
    let _ = kalam_client::query!("SELECT t.title FROM app.todos t JOIN app.comments c ON c.todo_id = t.id WHERE c.todo_id = $1", true);
}
