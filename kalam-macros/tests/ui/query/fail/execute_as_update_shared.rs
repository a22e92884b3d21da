fn main() {
    let _ = kalam_client::execute_as!("alice", "UPDATE app.board SET pinned = true WHERE id = $1", 1_i64);
}
