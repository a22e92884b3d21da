fn main() {
    let _ = kalam_client::query!("SELECT t.id FROM app.todos t JOIN app.comments c ON c.todo = t.id");
}
