fn main() {
    let _ = kalam_client::query!("SELECT CAST(priority AS TEXT) AS p FROM app.todos");
}
