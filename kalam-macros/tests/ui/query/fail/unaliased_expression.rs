fn main() {
    let _ = kalam_client::query!("SELECT COUNT(*) FROM app.todos");
}
