fn main() {
    let _ = kalam_client::query!("SELECT MD5(title) AS h FROM app.todos");
}
