fn main() {
    let _ = kalam_client::query_scalar!("SELECT id, title FROM app.todos");
}
