fn main() {
    let _ = kalam_client::query!("INSERT INTO app.todos (id, titel) VALUES ($1, $2)", 1_i64, "x");
}
