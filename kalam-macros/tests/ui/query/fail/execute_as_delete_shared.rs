fn main() {
    let _ = kalam_client::execute_as!("alice", "DELETE FROM app.board WHERE id = 1");
}
