fn main() {
    let _ = kalam_client::query!("SELECT SUBSTRING(title, 1, 3) AS head FROM app.todos");
}
