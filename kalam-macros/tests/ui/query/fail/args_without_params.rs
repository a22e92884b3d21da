fn main() {
    let _ = kalam_client::query!("SELECT id FROM app.todos", 1);
}
