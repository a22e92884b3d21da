struct Todo {
    id: i64,
}

fn main() {
    let _ = kalam_client::query_as!(Todo, "SELECT id FROM app.todos");
}
