fn main() {
    let _ = kalam_client::query!("SELECT EXTRACT(YEAR FROM due_at) AS y FROM app.todos");
}
