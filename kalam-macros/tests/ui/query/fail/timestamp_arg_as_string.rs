fn main() {
    let _ = kalam_client::query!("SELECT id FROM app.todos WHERE due_at > $1", String::from("2024-01-01"));
}
