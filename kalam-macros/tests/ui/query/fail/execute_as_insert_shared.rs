fn main() {
    let _ = kalam_client::execute_as!("alice", "INSERT INTO app.board (id, title) VALUES ($1, $2)", 1_i64, "x");
}
