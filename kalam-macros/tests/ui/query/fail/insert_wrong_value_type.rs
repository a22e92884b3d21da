fn main() {
    let _ = kalam_client::query!("INSERT INTO app.todos (id, title) VALUES ($1, $2)", 1_i64, 2.5_f64);
}
