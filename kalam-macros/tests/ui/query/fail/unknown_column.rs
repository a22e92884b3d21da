fn main() {
    let _ = kalam_client::query!("SELECT titel FROM app.todos");
}
